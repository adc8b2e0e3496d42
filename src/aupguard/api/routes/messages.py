"""`POST /v1/messages` (screen, record, enqueue), `GET /v1/messages/{id}`,
`GET /v1/decisions`."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from aupguard.api.delivery import gateway_for
from aupguard.api.errors import ApiError, register_error
from aupguard.api.routing import Call, QueryParam, Router
from aupguard.api.send_path import send_path
from aupguard.engine.events import OutboundMessage
from aupguard.outbox.model import DecisionQuery, decode_cursor, encode_cursor
from aupguard.service.gateway import (
    MessageNotFound,
    NotSent,
    Prepared,
    commit_send,
    get_message,
    kept_answer,
    list_decisions,
    prepare_send,
    record_receipt,
    request_hash,
)

router = Router(tag="messages", description="Send messages through the gateway; read records.")

register_error(MessageNotFound, 404, "not_found")

IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")


class MessageIn(OutboundMessage):
    """An outbound message, and where to report its delivery status."""

    status_callback: str | None = Field(
        default=None,
        max_length=2048,
        pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[!-~]*)?$",
        description="URL that receives Twilio-style status callbacks (form POST, signed "
        "with X-Aupguard-Signature).",
    )

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class MessageOut(BaseModel):
    id: str = Field(description="The message id (SM + 32 hex digits).")
    status: Literal[
        "queued", "held", "blocked", "sent", "delivered", "undelivered", "failed", "accepted"
    ]
    verdict: Literal["allow", "throttle", "hold", "block"]
    code: int | None
    error_code: int | None
    rules: list[str]
    clauses: list[str]
    channel: str
    from_: str = Field(alias="from")
    to: str
    num_media: int
    created_at: str
    updated_at: str


class DecisionItem(BaseModel):
    id: str
    at: str
    kind: str
    verdict: Literal["allow", "throttle", "hold", "block"]
    code: int | None
    rules: list[str]
    clauses: list[str]
    message_id: str | None
    event_id: str | None
    pack_version: str
    degraded: bool


class DecisionPage(BaseModel):
    decisions: list[DecisionItem]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page.")


def _blocked_sentence(prepared: Prepared) -> str:
    hits = prepared.decision.hits
    named = ", ".join(f"{h.rule} ({', '.join(h.clauses)})" for h in hits[:3]) or "the policy"
    return f"The message was blocked by {named}; it is recorded as {prepared.message.id if prepared.message else '-'} and will not be sent."


def _render(prepared: Prepared, request_id: str | None) -> tuple[int, bytes, dict[str, str]]:
    message = prepared.message
    decision = prepared.decision
    if message is None:  # throttled
        retry = decision.retry_after or 1.0
        body: dict[str, Any] = {
            "error": {
                "code": "throttled",
                "message": f"Too many messages: a rate limit was reached; retry after {retry:g} seconds.",
                "fields": [],
                "request_id": request_id,
            }
        }
        return 429, orjson.dumps(body), {"Retry-After": str(max(1, round(retry)))}
    headers = {"X-Message-Id": message.id}
    if message.status == "blocked":
        body = {
            "error": {
                "code": "message_blocked",
                "message": _blocked_sentence(prepared),
                "fields": [],
                "request_id": request_id,
            }
        }
        return 403, orjson.dumps(body), headers
    return 202, orjson.dumps(message.to_dict()), headers


@router.post(
    "/v1/messages",
    summary="Send a message (screen, record, enqueue)",
    body=MessageIn,
    responses={202: MessageOut},
    errors=(409, 429),
)
async def send_message(call: Call) -> Response:
    """Screen the message with the tenant's state and the policy pack, record it and
    its decision, and enqueue it for delivery; the answer comes after the commit.
    202 with status `queued` (will be delivered) or `held` (kept for review, not
    sent); 403 `message_blocked` naming the rules and clauses (recorded, not sent;
    the id is in `X-Message-Id`); 429 `throttled` with `Retry-After` (not recorded
    as a message). With an `Idempotency-Key` header (1-255 printable characters), a
    repeat of the same body within 24 hours gets the first answer again
    (`Idempotent-Replayed: true`) and nothing is sent twice; the same key with
    another body is 409 `idempotency_key_reused`. Needs the `send` or `admin` scope."""
    key = call.header("idempotency-key")
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        raise ApiError(
            400,
            "bad_idempotency_key",
            "The Idempotency-Key header must be 1 to 255 printable ASCII characters.",
        )
    body: MessageIn = call.body
    gateway = call.services.component(gateway_for)
    digest = ""
    accepted = None
    if key is not None:
        digest = request_hash(body.model_dump_json(by_alias=True).encode())
        accepted = await run_in_threadpool(
            kept_answer, gateway.store, call.actor, body, key, digest, gateway.clock()
        )
    if accepted is None:
        callback = str(body.status_callback) if body.status_callback else None
        prepared = prepare_send(
            gateway,
            call.services.component(send_path).screener,
            call.actor,
            body,
            status_callback=callback,
        )
        status, answer, headers = _render(prepared, call.request_id)
        keep = None
        if key is not None and prepared.message is not None:
            keep = (key, digest, status, answer)
        accepted = await commit_send(gateway, prepared, keep)
    if accepted.outcome == "conflict":
        raise ApiError(
            409,
            "idempotency_key_reused",
            "This Idempotency-Key was used in the last 24 hours with a different body; "
            "send a new message with a new key.",
        )
    if accepted.outcome == "replay" and accepted.earlier is not None:
        earlier = accepted.earlier
        replay_headers = {"Idempotent-Replayed": "true"}
        if earlier.message_id:
            replay_headers["X-Message-Id"] = earlier.message_id
        return Response(
            earlier.response,
            status_code=earlier.status,
            headers=replay_headers,
            media_type="application/json",
        )
    return Response(answer, status_code=status, headers=headers, media_type="application/json")


class ReceiptIn(BaseModel):
    """A delivery receipt from the downstream (the platform's own senders, or a bridge
    from a carrier's delivery reports)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: Literal["sent", "delivered", "undelivered", "failed"]
    error_code: int | None = Field(
        default=None, ge=0, le=99999, description="The carrier's or Twilio's error code."
    )


TENANT = QueryParam(
    "Staff keys: the tenant whose records to read.", pattern=r"^[A-Za-z0-9._:@-]{1,128}$"
)


@router.get(
    "/v1/messages/{message_id}",
    summary="A message and its status",
    responses={200: MessageOut},
    query={"tenant": TENANT},
)
async def read_message(call: Call) -> dict[str, Any]:
    """The message as recorded, with its delivery status. Another tenant's id is
    404 `not_found`. Needs the `read`, `send` or `admin` scope."""
    gateway = call.services.component(gateway_for)
    found = await run_in_threadpool(
        get_message, gateway.store, call.actor, call.path("message_id"), call.query("tenant")
    )
    return found.to_dict()


RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2})(?::(\d{2})(?:\.(\d+))?)?([Zz]|[+-]\d{2}:\d{2})"
)


def parse_time(name: str, value: str | None) -> datetime | None:
    """An RFC 3339 time (a leap second reads as :59, digits past microseconds are dropped)."""
    if value is None:
        return None
    found = RFC3339.fullmatch(value)
    try:
        if found is None:
            raise ValueError(value)
        day, minute, second, fraction, zone = found.groups()
        second = min(int(second or 0), 59)
        micro = (fraction or "0")[:6].ljust(6, "0")
        zone = "+00:00" if zone in ("Z", "z") else zone
        return datetime.fromisoformat(f"{day}T{minute}:{second:02d}.{micro}{zone}")
    except ValueError:
        raise ApiError(
            422,
            "validation_failed",
            f"The query has invalid parameters: {name!r}.",
            [{"field": name, "code": "invalid", "message": "Not an ISO 8601 time with a zone"}],
        ) from None


@router.get(
    "/v1/decisions",
    summary="Decisions recorded by the gateway",
    responses={200: DecisionPage},
    query={
        "verdict": QueryParam(
            "allow, throttle, hold or block.", pattern="^(allow|throttle|hold|block)$"
        ),
        "rule": QueryParam("A rule id that fired.", pattern=r"^[A-Za-z0-9._-]{1,200}$"),
        "clause": QueryParam("A clause id cited.", pattern=r"^[A-Za-z0-9._-]{1,64}$"),
        "kind": QueryParam(
            "message, call, cdr...", pattern="^(message|inbound|call|cdr|api_request|signup)$"
        ),
        "since": QueryParam("Decisions at or after this time (RFC 3339).", format="date-time"),
        "until": QueryParam("Decisions before this time (RFC 3339).", format="date-time"),
        "limit": QueryParam(
            "At most this many (default 50; more than 500 reads as 500).",
            pattern=r"^[1-9][0-9]{0,2}$",
        ),
        "cursor": QueryParam(
            "`next_cursor` of the previous page.", pattern=r"^[0-9]{1,16}-[A-Za-z0-9]{1,40}$"
        ),
        "tenant": TENANT,
    },
)
async def decisions(call: Call) -> dict[str, Any]:
    """The tenant's recorded decisions, newest first, filtered by verdict, rule,
    clause, kind and time; `limit` and `cursor` page through them. Needs the
    `read`, `send` or `admin` scope."""
    limit = min(int(call.query("limit") or 50), 500)
    after = None
    cursor = call.query("cursor")
    if cursor is not None:
        after = decode_cursor(cursor)
        if after is None:
            raise ApiError(
                422,
                "validation_failed",
                "The query has invalid parameters: 'cursor'.",
                [{"field": "cursor", "code": "invalid", "message": "Not a cursor of this API"}],
            )
    query = DecisionQuery(
        verdict=call.query("verdict"),
        rule=call.query("rule"),
        clause=call.query("clause"),
        kind=call.query("kind"),
        since=parse_time("since", call.query("since")),
        until=parse_time("until", call.query("until")),
        limit=limit + 1,
        after=after,
    )
    gateway = call.services.component(gateway_for)
    found = await run_in_threadpool(
        list_decisions, gateway.store, call.actor, query, call.query("tenant")
    )
    page = found[:limit]
    return {
        "decisions": [d.to_dict() for d in page],
        "next_cursor": encode_cursor(page[-1]) if len(found) > limit else None,
    }


register_error(NotSent, 409, "not_sent")


@router.post(
    "/v1/messages/{message_id}/status",
    summary="A delivery receipt",
    body=ReceiptIn,
    responses={200: MessageOut},
    query={"tenant": TENANT},
    errors=(409,),
)
async def receipt(call: Call) -> dict[str, Any]:
    """The downstream reports what became of a message: `sent`, `delivered`,
    `undelivered` or `failed`, with an error code. The stored status is updated and
    the message's status callback (if it named one) is enqueued in the same
    transaction. A late or repeated receipt (`sent` after `delivered`) changes
    nothing. A message the gateway never sent (blocked, held, filtered) is 409
    `not_sent`; another tenant's id is 404. Needs the `send` or `admin` scope."""
    body: ReceiptIn = call.body
    gateway = call.services.component(gateway_for)
    updated = await run_in_threadpool(
        record_receipt,
        gateway,
        call.actor,
        call.path("message_id"),
        body.status,
        body.error_code,
        call.query("tenant"),
    )
    return updated.to_dict()
