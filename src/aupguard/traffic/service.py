"""Limits in the send path: the after-decision step, and call gauges.

    screener = Screener(engine, sources=[...], after=[LimitStep(engine, counters)])

`LimitStep` runs after the engine judged the event without limits. An event
the engine blocked, held or throttled consumes nothing. For the others it
checks and consumes every limit of the event in one store call (atomically:
over any limit, nothing is consumed). When a limit is exceeded, it screens the
event again with ``state.limits`` filled in (the exceeded families and the
exact retry-after), so that the throttle comes from a pack rule citing the
right clauses, never from code. When the store does not answer, each family
applies the failure mode the pack declares: ``open`` families are recorded in
``state.limits.fail_open`` and in `Decision.degraded`; ``closed`` ones in
``state.limits.unavailable`` (a pack rule holds the event back). A metric
counts both.

Why after the engine rather than before: a message the content rules block
must not use up a sender's throughput or an account's daily quota, and an
event is consumed only once it is going out.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from aupguard.engine.decision import Decision, Verdict
from aupguard.engine.events import AnyEvent
from aupguard.engine.facade import Engine
from aupguard.engine.state import LimitState, State
from aupguard.traffic.counters import CheckResult, CounterStore, CounterUnavailable, Limit
from aupguard.traffic.limits import ChannelLimits, SenderProfile, plan_limits
from aupguard.traffic.metrics import COUNTER_STORE_DEGRADED, LIMIT_CHECKS

__all__ = ["CallGauge", "LimitStep"]

ProfileLookup = Callable[[AnyEvent], SenderProfile]


def _no_profile(event: AnyEvent) -> SenderProfile:
    return SenderProfile()


class LimitStep:
    """After-decision step: consume the event's limits, throttle through the pack when over."""

    name = "limits"

    def __init__(
        self,
        engine: Engine,
        store: CounterStore,
        profiles: ProfileLookup = _no_profile,
    ) -> None:
        self.engine = engine
        self.store = store
        self.profiles = profiles
        self.last: CheckResult | None = None
        """The last check's result (for callers that want remaining counts)."""

    def after(
        self, event: AnyEvent, state: State, decision: Decision, now: datetime
    ) -> Decision | None:
        if decision.verdict is not Verdict.ALLOW:
            return None
        data = self.engine.pack.data.get("channel_limits")
        if not isinstance(data, ChannelLimits):
            return None
        limits = plan_limits(data, event, now.timestamp(), state.account.plan, self.profiles(event))
        if not limits:
            return None
        try:
            result = self.store.check(event.account, limits)
        except CounterUnavailable as exc:
            LIMIT_CHECKS.labels("unavailable").inc()
            return self._degraded(event, state, decision, now, data, limits, str(exc))
        self.last = result
        if result.admitted:
            LIMIT_CHECKS.labels("admitted").inc()
            return None
        LIMIT_CHECKS.labels("throttled").inc()
        limited = LimitState(
            exceeded=frozenset(result.exceeded),
            retry_after=round(result.retry_after, 3) if result.retry_after is not None else None,
        )
        return self._rescreen(event, state, decision, now, limited)

    def _degraded(
        self,
        event: AnyEvent,
        state: State,
        decision: Decision,
        now: datetime,
        data: ChannelLimits,
        limits: list[Limit],
        reason: str,
    ) -> Decision:
        families = dict.fromkeys(limit.name for limit in limits)
        closed = frozenset(f for f in families if data.families[f].fail == "closed")
        opened = frozenset(families) - closed
        if opened:
            COUNTER_STORE_DEGRADED.labels("open").inc()
        if closed:
            COUNTER_STORE_DEGRADED.labels("closed").inc()
        retry = max((data.families[f].retry_after for f in closed), default=None)
        limited = LimitState(fail_open=opened, unavailable=closed, retry_after=retry)
        new = self._rescreen(event, state, decision, now, limited)
        parts = []
        if opened:
            parts.append(f"failed open: {', '.join(sorted(opened))}")
        if closed:
            parts.append(f"failed closed: {', '.join(sorted(closed))}")
        new.degraded = (*new.degraded, f"limits ({'; '.join(parts)}): {reason}"[:300])
        return new

    def _rescreen(
        self, event: AnyEvent, state: State, decision: Decision, now: datetime, limits: LimitState
    ) -> Decision:
        new = self.engine.screen(event, state.model_copy(update={"limits": limits}), now=now)
        new.degraded = (*decision.degraded, *new.degraded)
        return new


@dataclass(frozen=True, slots=True)
class CallGauge:
    """Concurrent calls per account (O3), shared by every worker through the counter store.

        gauge = CallGauge(store)
        result = gauge.acquire("acct", call_id, limit=20)   # at call set-up
        ...
        gauge.release("acct", call_id)                      # at hang-up (or CDR)

    A slot not released expires after `lease_seconds`, so a crashed worker
    does not leak capacity. `LimitStep` acquires the same slot for a
    `CallAttempt` with an id when the plan sets `concurrent_calls`.
    """

    store: CounterStore
    lease_seconds: float = 4 * 3600
    key: str = "calls"

    def _limit(self, call_id: str, limit: float) -> Limit:
        from aupguard.traffic.counters import LimitKind

        return Limit(
            "concurrent_calls", LimitKind.GAUGE, self.key, limit, self.lease_seconds, member=call_id
        )

    def acquire(self, tenant: str, call_id: str | None, limit: float) -> CheckResult:
        """Take a slot for `call_id` (the same id again takes none); not admitted when full."""
        return self.store.check(tenant, [self._limit(call_id or uuid.uuid4().hex, limit)])

    def release(self, tenant: str, call_id: str) -> None:
        self.store.release(tenant, self._limit(call_id, 1))

    def active(self, tenant: str) -> int:
        return int(self.store.usage(tenant, self._limit("-", 1)))
