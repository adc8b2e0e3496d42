"""Consent over HTTP: record opt-ins with their evidence, opt-outs and expiries in
the tenant's ledger (the one the send path reads), and read a recipient's consent.

- `POST /v1/consent`: one ledger event (`kind` opt_in by default);
- `POST /v1/consent/opt-out`: an opt-out received some other way than a reply
  (a call, an e-mail, a web form);
- `GET /v1/consent/{number}`: the state per scope and channel with the evidence
  behind it, open revocations and do-not-call listing; a number of which the
  tenant has no record is 404, whichever other tenant has one.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from aupguard.api.delivery import gateway_for
from aupguard.api.errors import ApiError, register_error
from aupguard.api.routes.inbound import consent_ledger
from aupguard.api.routes.messages import TENANT, parse_time
from aupguard.api.routing import Call, QueryParam, Router, created
from aupguard.consent.model import ALL, ConsentEvent, ConsentMethod, ConsentView, check_scope
from aupguard.consent.source import recipient_key
from aupguard.consent.status import honour_terms
from aupguard.engine.events import Timestamp
from aupguard.identity.numbering import region_of
from aupguard.service.consent import (
    ConsentNotFound,
    ConsentRefused,
    RecipientConsent,
    consent_of,
    record_consent,
)

router = Router(tag="consent", description="Consent records: opt-ins with evidence, opt-outs.")

register_error(ConsentNotFound, 404, "not_found")

E164 = r"^\+[0-9]{2,15}$"

Channels = Literal["*", "sms", "mms", "whatsapp", "rcs", "chat", "email", "voice"]
Status = Literal["unknown", "opted_in", "opted_out"]


class _ConsentFields(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    recipient: str = Field(
        pattern=E164,
        max_length=16,
        description="The person's number, E.164 (+14155550123).",
    )
    scope: str = Field(
        default=ALL,
        min_length=1,
        max_length=160,
        pattern=r"^(\*|(sender|brand|campaign):.+)$",
        description="Whom the consent is given to: '*', 'sender:<number>', 'brand:<id>' or "
        "'campaign:<id>'.",
    )
    channel: Channels = "*"
    at: Timestamp | None = Field(default=None, description="When it happened (default: now).")
    method: ConsentMethod = ConsentMethod.API
    source: str = Field(
        default="", max_length=256, description="Where it came from: a form id, an IP address."
    )
    wording: str = Field(
        default="", max_length=2000, description="The exact words shown or received."
    )

    @field_validator("recipient")
    @classmethod
    def _number(cls, value: str) -> str:
        return recipient_key(value)

    @field_validator("scope")
    @classmethod
    def _scope(cls, value: str) -> str:
        return check_scope(value)


class ConsentIn(_ConsentFields):
    """One ledger event: an opt-in (with its evidence), an opt-out or an expiry."""

    kind: Literal["opt_in", "opt_out", "expiry"] = "opt_in"
    expires: Timestamp | None = Field(default=None, description="When an opt-in lapses.")
    age_verified: bool = Field(
        default=False, description="The opt-in recorded a verified age (age-gated content)."
    )


class OptOutIn(_ConsentFields):
    """An opt-out received by another way than a reply (a call, an e-mail, a form)."""


class EventOut(BaseModel):
    kind: Literal["opt_in", "opt_out", "expiry"]
    recipient: str
    scope: str
    channel: str
    at: str
    method: str
    source: str
    wording: str
    expires: str | None
    age_verified: bool


class StateOut(BaseModel):
    status: Status
    since: str | None
    evidence: EventOut | None = Field(description="The event that decides it.")


class ConsentRecorded(BaseModel):
    recorded: EventOut
    state: StateOut = Field(description="The state for the event's scope and channel now.")


class ScopeOut(StateOut):
    scope: str
    channel: str


class RevocationOut(BaseModel):
    scope: str
    received: str
    honour_by: str = Field(description="The FCC's outer limit (it is honoured at once).")


class ConsentOut(BaseModel):
    recipient: str
    at: str
    status: Status = Field(description="Everything the tenant sends, every channel.")
    scopes: list[ScopeOut]
    revocations: list[RevocationOut]
    do_not_call: bool
    events: int


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def event_json(event: ConsentEvent) -> dict[str, Any]:
    return {
        "kind": event.kind.value,
        "recipient": event.recipient,
        "scope": event.scope,
        "channel": event.channel,
        "at": event.at.isoformat(),
        "method": event.method.value,
        "source": event.source,
        "wording": event.wording,
        "expires": _iso(event.expires),
        "age_verified": event.age_verified,
    }


def state_json(view: ConsentView) -> dict[str, Any]:
    return {
        "status": view.status.value,
        "since": _iso(view.since),
        "evidence": event_json(view.event) if view.event is not None else None,
    }


def consent_json(found: RecipientConsent) -> dict[str, Any]:
    return {
        "recipient": found.recipient,
        "at": found.at.isoformat(),
        "status": found.overall.status.value,
        "scopes": [
            {"scope": s.scope, "channel": s.channel, **state_json(s.view)} for s in found.scopes
        ],
        "revocations": [
            {
                "scope": r.scope,
                "received": r.received.isoformat(),
                "honour_by": r.honour_by.isoformat(),
            }
            for r in found.revocations
        ],
        "do_not_call": found.do_not_call,
        "events": found.events,
    }


async def _record(call: Call, details: dict[str, Any]) -> Response:
    ledger, _ = call.services.component(consent_ledger)
    now = call.services.component(gateway_for).clock()
    try:
        event, view = await run_in_threadpool(
            record_consent, ledger, call.actor, details, now, call.query("tenant")
        )
    except ConsentRefused as exc:
        raise ApiError(
            422,
            exc.code,
            f"The consent record was refused: {exc}",
            [{"field": exc.field, "code": exc.code, "message": str(exc)}],
        ) from None
    return created({"recorded": event_json(event), "state": state_json(view)})


@router.post(
    "/v1/consent",
    summary="Record consent (an opt-in with its evidence, an opt-out, an expiry)",
    body=ConsentIn,
    responses={201: ConsentRecorded},
    query={"tenant": TENANT},
)
async def record(call: Call) -> Response:
    """Append one event to the tenant's consent ledger, read at every send from then
    on. An opt-in needs its evidence (`wording` shown or `source`); `at` defaults to
    now and may not be in the future; `expires` must be after `at`. Nothing is ever
    updated or deleted: a later event changes the state. Needs the `send` or `admin`
    scope."""
    body: ConsentIn = call.body
    return await _record(call, body.model_dump(exclude_none=True))


@router.post(
    "/v1/consent/opt-out",
    summary="Record an opt-out",
    body=OptOutIn,
    responses={201: ConsentRecorded},
    query={"tenant": TENANT},
)
async def opt_out(call: Call) -> Response:
    """Record an opt-out received another way than a reply (a call, an e-mail, a web
    form); it is honoured from the next send on. Replies go to `POST /v1/inbound`.
    Needs the `send` or `admin` scope."""
    body: OptOutIn = call.body
    return await _record(call, {**body.model_dump(exclude_none=True), "kind": "opt_out"})


@router.get(
    "/v1/consent/{number}",
    summary="A recipient's consent",
    responses={200: ConsentOut},
    path_params={"number": QueryParam("The person's number, E.164.", pattern=E164, max_length=16)},
    query={
        "at": QueryParam("The state as it stood then (RFC 3339; default now).", format="date-time"),
        "tenant": TENANT,
    },
)
async def read(call: Call) -> dict[str, Any]:
    """The recipient's consent per scope and channel, each with the event that decides
    it (the evidence), the opt-outs in effect with when they arrived and the FCC's
    outer limit for honouring them, and do-not-call listing (the tenant's list or the
    platform's). `at` reads the ledger as it stood then. A number of which the tenant
    has no record is 404. Needs the `read`, `send` or `admin` scope."""
    raw = call.path("number")
    if not re.fullmatch(E164, raw):
        raise ApiError(
            422,
            "validation_failed",
            "The path has invalid parameters: 'number'.",
            [{"field": "number", "code": "invalid", "message": "Not an E.164 number"}],
        )
    number = recipient_key(raw)
    at = parse_time("at", call.query("at")) or call.services.component(gateway_for).clock()
    days, holidays = honour_terms(call.services.engine.pack.data, region_of(number) or "US")
    ledger, dnc = call.services.component(consent_ledger)
    found = await run_in_threadpool(
        consent_of,
        ledger,
        dnc,
        call.actor,
        number,
        at,
        tenant=call.query("tenant"),
        honour_days=days,
        holidays=holidays,
    )
    return consent_json(found)
