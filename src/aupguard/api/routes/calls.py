"""`POST /v1/calls` (call-attempt screening), `POST /v1/calls/{call_id}/end`,
`POST /v1/cdrs` (a batch of call records). Every decision is recorded
(`GET /v1/decisions?kind=call`)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from aupguard.actors import Forbidden, require
from aupguard.api.delivery import gateway_for
from aupguard.api.errors import ApiError
from aupguard.api.routes.screen import DecisionOut
from aupguard.api.routing import Call, Router
from aupguard.api.services import Services
from aupguard.engine.events import CallAttempt, CallRecord
from aupguard.identity.gauges import MemoryGauge
from aupguard.identity.registry import MemorySenderRegistry, SenderRegistry
from aupguard.identity.service import CallScreener
from aupguard.outbox.model import Accept
from aupguard.service.gateway import SCREEN_ROLES, decision_record, for_tenant

router = Router(tag="calls", description="Call-attempt screening and call detail records.")


def call_screener(services: Services) -> CallScreener:
    """Ownership, emergency, sanctions and geo-permissions, recording consent and call
    caps (the identity issue's sources) on the service's database. The concurrency
    gauge counts calls in this worker process (shared counters: the traffic issue's)."""
    registry: SenderRegistry
    if services.database is not None:
        from aupguard.identity.sql import SqlSenderRegistry

        registry = SqlSenderRegistry(services.database)
    else:
        registry = MemorySenderRegistry()
    return CallScreener(
        services.engine,
        registry,
        gauge=MemoryGauge(),
        sources=services.screener.sources,
        clock=services.screener.clock,
    )


class CallIn(CallAttempt):
    """A call about to be placed, and the id the platform will use to end it."""

    call_id: str | None = Field(
        default=None,
        max_length=128,
        description="Counts the call in the concurrency gauge until POST /v1/calls/{call_id}/end.",
    )

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class CallOut(DecisionOut):
    identity: str | None
    attestation: Literal["A", "B", "C"] | None
    verification: dict[str, Any] | None
    max_duration_seconds: int | None


class CallEnded(BaseModel):
    call_id: str
    ended: bool = Field(description="False when no call of this id was being counted.")


class CdrBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    records: list[CallRecord] = Field(min_length=1, max_length=1000)


class CdrDecision(BaseModel):
    index: int
    verdict: Literal["allow", "throttle", "hold", "block"]
    code: int | None
    rules: list[str]
    clauses: list[str]


class CdrResult(BaseModel):
    decisions: list[CdrDecision]
    counts: dict[str, int]


@router.post(
    "/v1/calls",
    summary="Screen a call attempt",
    body=CallIn,
    responses={200: CallOut},
)
async def screen_call(call: Call) -> dict[str, Any]:
    """The decision for a call about to be placed or received: emergency numbers,
    sanctioned and not-permitted destinations (21408), caller-id ownership, recording
    consent, concurrency caps; an allowed outbound call gets its STIR/SHAKEN
    attestation. The decision is recorded. Needs the `send` or `admin` scope."""
    require(call.actor, *SCREEN_ROLES, action="screen calls (needs the send or admin scope)")
    body: CallIn = call.body
    event = for_tenant(call.actor, body)
    assert isinstance(event, CallIn)
    screener = call.services.component(call_screener)
    result = screener.screen_call(event, body.call_id)
    gateway = call.services.component(gateway_for)
    gateway.observe(result.decision)
    record = decision_record(
        result.decision, event.account, gateway.clock(), None, body.call_id or event.id
    )
    await gateway.writer.submit(Accept(event.account, record))
    return result.to_dict()


@router.post(
    "/v1/calls/{call_id}/end",
    summary="A call ended (release it from the concurrency gauge)",
    responses={200: CallEnded},
)
async def end_call(call: Call) -> dict[str, Any]:
    """Ends a call started with a `call_id`: it no longer counts against the plan's
    concurrent calls (`ended` is false when no such call was counted). Needs the
    `send` or `admin` scope."""
    require(call.actor, *SCREEN_ROLES, action="end calls (needs the send or admin scope)")
    if call.actor.tenant is None:
        raise Forbidden(call.actor, "end a tenant's call with a staff key")
    call_id = call.path("call_id")
    if len(call_id) > 128:
        raise ApiError(
            422,
            "validation_failed",
            "The path has invalid parameters: 'call_id'.",
            [{"field": "call_id", "code": "string_too_long", "message": "At most 128 characters"}],
        )
    screener = call.services.component(call_screener)
    gauge = screener.gauge
    before = gauge.active(call.actor.tenant) if gauge is not None else 0
    screener.end_call(call.actor.tenant, call_id)
    after = gauge.active(call.actor.tenant) if gauge is not None else 0
    return {"call_id": call_id, "ended": after < before}


@router.post(
    "/v1/cdrs",
    summary="Screen a batch of call detail records",
    body=CdrBatch,
    responses={200: CdrResult},
)
async def screen_cdrs(call: Call) -> dict[str, Any]:
    """Up to 1,000 call records judged after the fact (long calls, calls past the
    plan's maximum, short-duration patterns...); every decision is recorded in one
    commit. Needs the `send` or `admin` scope."""
    require(call.actor, *SCREEN_ROLES, action="screen call records (needs the send or admin scope)")
    batch: CdrBatch = call.body
    events = [for_tenant(call.actor, r) for r in batch.records]
    screener = call.services.screener
    decisions = await run_in_threadpool(lambda: [screener.screen(e) for e in events])
    gateway = call.services.component(gateway_for)
    now = gateway.clock()
    records = []
    for event, decision in zip(events, decisions, strict=True):
        gateway.observe(decision)
        records.append(decision_record(decision, event.account, now, None, event.id))
    # submitted together: one group commit for the batch
    await asyncio.gather(*(gateway.writer.submit(Accept(r.tenant, r)) for r in records))
    results = [
        {
            "index": index,
            "verdict": record.verdict,
            "code": record.code,
            "rules": list(record.rules),
            "clauses": list(record.clauses),
        }
        for index, record in enumerate(records)
    ]
    return {
        "decisions": results,
        "counts": dict(Counter(r["verdict"] for r in results)),
    }
