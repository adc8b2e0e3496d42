"""`POST /v1/inbound`: a reply from a recipient to one of the tenant's numbers.

Keywords (STOP, START, HELP, revocation intent) are acted on in the consent
ledger as `aupguard.consent.service.record_inbound` does, the reply is screened
and its decision recorded, and the answer says what to reply, if anything. An
``id`` (the provider's message id) makes the request idempotent for 24 hours.
"""

from __future__ import annotations

from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from aupguard.actors import Actor
from aupguard.api.delivery import gateway_for
from aupguard.api.errors import ApiError, register_error
from aupguard.api.routing import Call, Router
from aupguard.api.services import Services
from aupguard.consent.store import ConsentStore, DncStore, MemoryConsentStore, MemoryDncStore
from aupguard.engine.events import InboundMessage
from aupguard.service.inbound import (
    InboundHandled,
    KeywordsMissing,
    commit_inbound,
    handle_inbound,
    inbound_json,
    kept_inbound,
)

router = Router(tag="inbound", description="Inbound replies: keywords and consent.")

register_error(KeywordsMissing, 503, "not_configured")


def consent_ledger(services: Services) -> tuple[ConsentStore, DncStore]:
    """The consent ledger and do-not-call lists on the server's database (in memory
    without one); the send path's consent check reads the same ones."""
    if services.database is None:
        return MemoryConsentStore(), MemoryDncStore()
    from aupguard.consent.sql import SqlConsentStore, SqlDncStore

    return SqlConsentStore(services.database), SqlDncStore(services.database)


class InboundIn(InboundMessage):
    """An inbound message; `id` is the provider's message id (idempotency key)."""

    brand: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="The brand the number sends for: an opt-out then covers the brand, "
        "not only the number.",
    )

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class IntentOut(BaseModel):
    kind: Literal["opt_out", "opt_in", "help", "none"]
    confidence: float
    matched: str | None
    how: str | None


class ConsentChange(BaseModel):
    before: Literal["unknown", "opted_in", "opted_out"]
    after: Literal["unknown", "opted_in", "opted_out"]


class RecordedOut(BaseModel):
    kind: Literal["opt_in", "opt_out", "expiry"]
    scope: str
    channel: str
    recipient: str
    at: str
    method: str
    source: str


class InboundDecision(BaseModel):
    id: str
    verdict: Literal["allow", "throttle", "hold", "block"]
    code: int | None
    rules: list[str]
    clauses: list[str]


class InboundOut(BaseModel):
    intent: IntentOut
    consent: ConsentChange
    recorded: RecordedOut | None = Field(description="The ledger event written, if any.")
    reply: str | None = Field(description="The text to send back, if any (one confirmation).")
    reply_by: str | None
    honour_by: str | None = Field(description="Opt-outs: the FCC's outer limit to honour it.")
    decision: InboundDecision


async def process_inbound(
    services: Services, actor: Actor, event: InboundMessage, brand: str | None
) -> tuple[InboundHandled | None, bytes]:
    """Handle an inbound message once per provider message id: (what was done, the JSON
    answer); a repeat gives (None, the first answer)."""
    gateway = services.component(gateway_for)
    now = gateway.clock()
    earlier = await run_in_threadpool(kept_inbound, gateway.store, actor, event, now)
    if earlier is None:
        ledger, _ = services.component(consent_ledger)
        handled = await run_in_threadpool(
            handle_inbound,
            services.engine,
            services.screener,
            ledger,
            actor,
            event,
            now,
            brand=brand,
        )
        answer = orjson.dumps(inbound_json(handled))
        accepted = await commit_inbound(gateway, handled, event, 200, answer)
        if accepted.outcome == "written":
            return handled, answer
        earlier = accepted
    if earlier.outcome == "conflict" or earlier.earlier is None:
        raise ApiError(
            409,
            "idempotency_key_reused",
            "This message id was handled in the last 24 hours with different content.",
        )
    return None, earlier.earlier.response


@router.post(
    "/v1/inbound",
    summary="An inbound message (keywords and consent)",
    body=InboundIn,
    responses={200: InboundOut},
    errors=(409,),
)
async def inbound(call: Call) -> Response:
    """A reply from `from` to the tenant's number `to`: STOP and other opt-out words
    (and revocation sentences) record an opt-out, START an opt-in, HELP is answered;
    the ledger event is written with the message as evidence, the reply is screened
    and its decision recorded. `reply` is the text to send back, or null (a second
    STOP gets no second confirmation). With `id` (the provider's message id) a repeat
    within 24 hours gets the first answer again (`Idempotent-Replayed: true`) and
    changes nothing; the same id with other content is 409. Needs the `send` or
    `admin` scope."""
    body: InboundIn = call.body
    event = InboundMessage.model_validate(body.model_dump(exclude={"brand"}, exclude_unset=True))
    handled, answer = await process_inbound(call.services, call.actor, event, body.brand)
    headers = {"Idempotent-Replayed": "true"} if handled is None else None
    return Response(answer, headers=headers, media_type="application/json")
