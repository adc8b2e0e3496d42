"""`POST /v1/screen`: the decision for one event, nothing sent or recorded."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Discriminator, Tag, TypeAdapter

from aupguard.api.routing import Call, Router
from aupguard.engine.events import (
    AccountSignup,
    AnyEvent,
    ApiRequest,
    CallAttempt,
    CallRecord,
    InboundMessage,
    OutboundMessage,
)
from aupguard.service.gateway import check_screen

router = Router(tag="screening", description="Decisions on events, without sending anything.")


def _kind(value: Any) -> str | None:
    if isinstance(value, dict):
        kind = value.get("kind", "message")
        return kind if isinstance(kind, str) else None
    return getattr(value, "kind", None)


ScreenBody = Annotated[
    Annotated[OutboundMessage, Tag("message")]
    | Annotated[InboundMessage, Tag("inbound")]
    | Annotated[CallAttempt, Tag("call")]
    | Annotated[CallRecord, Tag("cdr")]
    | Annotated[ApiRequest, Tag("api_request")]
    | Annotated[AccountSignup, Tag("signup")],
    Discriminator(_kind),
]
"""Any event; `kind` selects the model and defaults to an outbound message."""

SCREEN_BODY: TypeAdapter[AnyEvent] = TypeAdapter(ScreenBody)


class EvidenceOut(BaseModel):
    source: str
    label: str
    field: str
    start: int | None
    end: int | None
    excerpt: str | None


class RuleHitOut(BaseModel):
    rule: str
    title: str
    action: Literal["tag", "throttle", "hold", "block"]
    clauses: list[str]
    severity: Literal["low", "medium", "high", "critical"]
    mode: Literal["enforce", "shadow"]
    evidence: list[EvidenceOut]
    retry_after: float | None
    code: int | None
    tags: list[str]


class DecisionOut(BaseModel):
    """The engine's decision: the verdict, the clauses and rules behind it, the evidence
    (redacted), and the policy version."""

    verdict: Literal["allow", "throttle", "hold", "block"]
    retry_after: float | None
    clauses: list[str]
    code: int | None
    hits: list[RuleHitOut]
    shadow: list[RuleHitOut]
    shadow_verdict: Literal["allow", "throttle", "hold", "block"]
    scores: dict[str, float]
    pack: str
    version: str
    kind: str
    account: str
    event_id: str | None
    elapsed_us: float
    content_sha256: str | None
    degraded: list[str]


def _body_schema() -> dict[str, Any]:
    """The event union as OpenAPI sees it: `kind` may be left out of a message only."""
    return {
        "oneOf": [
            {"$ref": "#/components/schemas/OutboundMessage"},
            *(
                {"allOf": [{"$ref": f"#/components/schemas/{m.__name__}"}], "required": ["kind"]}
                for m in (InboundMessage, CallAttempt, CallRecord, ApiRequest, AccountSignup)
            ),
        ]
    }


@router.post(
    "/v1/screen",
    summary="Screen one event (decision only)",
    body=SCREEN_BODY,
    body_schema=_body_schema(),
    responses={200: DecisionOut},
)
async def screen(call: Call) -> Any:
    """Judge a message, inbound reply, call attempt, call record, API request or
    sign-up with the tenant's state and the policy pack; nothing is sent. Needs the
    `send` or `admin` scope. The event's `account` is the key's tenant; naming
    another tenant is refused with 403."""
    decision = check_screen(call.services.screener, call.actor, call.body)
    return decision.to_dict()
