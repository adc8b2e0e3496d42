"""Counters behind one interface: rate limits, quotas, distinct counts and gauges.

One call checks *all* the limits of one event and consumes them atomically: if
any limit would be exceeded, nothing is consumed and the result names every
limit exceeded with the exact time to wait. Two implementations share the
semantics and one contract suite (tests/contract/test_counters.py):
`MemoryCounters` (one process, a lock) and `RedisCounters`
(`aupguard.traffic.redis_counters`: one Lua script call per event, using the
Redis server's clock so that workers' clocks never matter).

Limit kinds:

``rate``
    GCRA (generic cell rate algorithm, a leaky bucket kept as one timestamp):
    `limit` units per `period` seconds, `burst` units at once. A unit is what
    the caller counts (an SMS segment, a request). An event costing more than
    the burst still goes when the bucket is empty, and then holds the next ones
    back for as long as it costs (a 5-segment message on a 1 segment/s long code
    blocks that sender for 5 s).
``quota``
    A fixed window (a day in some time zone): `limit` units between two
    boundaries. The caller passes candidate boundaries (see `day_windows`) and
    the store picks the window that holds *its* clock, so a quota resets at
    local midnight (daylight saving included) without trusting the caller's
    clock.
``distinct``
    Distinct members (recipients) in a moving window of `period` seconds, e.g.
    WhatsApp's unique users per rolling 24 h. Counted exactly (a sorted set of
    64-bit digests of the members: the error bound is a digest collision,
    below 1e-9 for a million members); a member seen again costs nothing.
``gauge``
    Concurrency: leases (`member`, e.g. a call id) held until released or
    until they expire after `period` seconds (a crashed worker does not leak
    a slot). See `aupguard.traffic.gauges` for the small API calls use.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo

__all__ = [
    "CheckResult",
    "CounterStore",
    "CounterUnavailable",
    "Limit",
    "LimitKind",
    "LimitOutcome",
    "MemoryCounters",
    "day_windows",
    "member_digest",
]


class LimitKind(StrEnum):
    RATE = "rate"
    QUOTA = "quota"
    DISTINCT = "distinct"
    GAUGE = "gauge"


class CounterUnavailable(Exception):
    """The counter store could not answer (unreachable, timed out, or refused)."""


@dataclass(frozen=True, slots=True)
class Limit:
    """One limit an event is checked against.

    `name` is the limit family reported when it is exceeded (``sender_throughput``,
    ``plan_quota``...); `key` what is counted (``sender:+12025550143``); the store
    scopes every key by tenant.
    """

    name: str
    kind: LimitKind
    key: str
    limit: float
    period: float = 1.0
    """rate: seconds per `limit` units; distinct: the moving window; gauge: lease lifetime."""
    burst: float = 1.0
    """rate: units that may pass at once."""
    cost: int = 1
    """Units this event consumes (segments for messages)."""
    member: str = ""
    """distinct: who (a recipient); gauge: the lease id (a call id)."""
    windows: tuple[float, ...] = ()
    """quota: ascending window boundaries (epoch seconds), see `day_windows`."""

    def __post_init__(self) -> None:
        if self.limit < 0 or self.period <= 0 or self.burst <= 0 or self.cost < 0:
            raise ValueError(f"limit {self.name}: limit, period, burst and cost must be positive")
        if self.kind is LimitKind.QUOTA and len(self.windows) != 4:
            raise ValueError(f"limit {self.name}: a quota needs four window boundaries")
        if self.kind in (LimitKind.DISTINCT, LimitKind.GAUGE) and not self.member:
            raise ValueError(f"limit {self.name}: a {self.kind.value} limit needs a member")


class LimitOutcome(NamedTuple):
    name: str
    allowed: bool
    retry_after: float | None
    """Seconds until this limit would admit the event (None when it is allowed)."""
    remaining: float
    """Units (or members, or slots) left before this event."""


class CheckResult(NamedTuple):
    admitted: bool
    outcomes: tuple[LimitOutcome, ...]
    now: float
    """The store's clock (epoch seconds) when it decided."""
    exceeded: tuple[str, ...] = ()
    retry_after: float | None = None
    """The longest wait among the exceeded limits: after it, every one of them admits."""


def _result(admitted: bool, outcomes: tuple[LimitOutcome, ...], now: float) -> CheckResult:
    if admitted:
        return CheckResult(True, outcomes, now)
    exceeded = tuple(dict.fromkeys(o.name for o in outcomes if not o.allowed))
    waits = [o.retry_after for o in outcomes if not o.allowed and o.retry_after is not None]
    return CheckResult(False, outcomes, now, exceeded, max(waits) if waits else None)


class CounterStore(Protocol):
    """What the service layer needs from a counter store."""

    def check(self, tenant: str, limits: Sequence[Limit]) -> CheckResult:
        """Check every limit; consume all of them if none is exceeded, else none."""
        ...

    def check_many(self, batch: Sequence[tuple[str, Sequence[Limit]]]) -> list[CheckResult]:
        """`check` for several events in order (pipelined where the store can)."""
        ...

    def release(self, tenant: str, limit: Limit) -> None:
        """Give back a gauge lease (`limit.member`); a no-op for other kinds."""
        ...

    def usage(self, tenant: str, limit: Limit) -> float:
        """Units (members, leases) currently counted against `limit`, consuming nothing."""
        ...


def member_digest(member: str) -> str:
    """A short, stable digest of a member, so that stores never hold the raw number."""
    return hashlib.blake2b(member.encode("utf-8"), digest_size=8).hexdigest()


def day_windows(tz: str, at: float, days: int = 1) -> tuple[float, ...]:
    """Four boundaries of `days`-long windows starting at local midnight in `tz`:
    the window before the one holding `at`, that one, and the next. The store
    picks among them with its own clock."""
    zone = ZoneInfo(tz)
    local = datetime.fromtimestamp(at, zone)
    epoch = datetime(2000, 1, 1).date()
    start_day = local.date() - timedelta(days=(local.date() - epoch).days % days)
    bounds = []
    for k in (-1, 0, 1, 2):
        day = start_day + timedelta(days=k * days)
        bounds.append(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp())
    return tuple(bounds)


def _window(limit: Limit, now: float) -> tuple[float, float]:
    w = limit.windows
    for i in range(3):
        if w[i] <= now < w[i + 1]:
            return w[i], w[i + 1]
    raise CounterUnavailable(f"{limit.name}: no quota window holds the store's time (clock skew)")


_RATE = LimitKind.RATE
_INF = float("inf")


class MemoryCounters:
    """Counters in this process's memory (one lock). For one process, tests and the CLI."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._tat: dict[tuple[str, str], float] = {}
        self._quota: dict[tuple[str, str, float], tuple[float, float]] = {}
        self._sets: dict[tuple[str, str, str], dict[str, float]] = {}
        self._ops = 0

    def check(self, tenant: str, limits: Sequence[Limit]) -> CheckResult:
        with self._lock:
            return self._check(tenant, limits, self._clock())

    def check_many(self, batch: Sequence[tuple[str, Sequence[Limit]]]) -> list[CheckResult]:
        with self._lock:
            return [self._check(tenant, limits, self._clock()) for tenant, limits in batch]

    def _check(self, tenant: str, limits: Sequence[Limit], now: float) -> CheckResult:
        self._ops += 1
        if self._ops % 50_000 == 0:
            self._sweep(now)
        outcomes: list[LimitOutcome] = []
        plans: list[object] = []
        admitted = True
        tats = self._tat
        for limit in limits:
            if limit.kind is _RATE:  # inlined: the common case, on every message
                interval = limit.period / limit.limit if limit.limit else _INF
                tolerance = limit.burst * interval
                tat = tats.get((tenant, limit.key), now)
                tat = max(tat, now)
                cost = limit.cost * interval
                room = tolerance if tolerance > cost else cost
                left = (tolerance - (tat - now)) / interval if interval != _INF else 0.0
                remaining = float(int(left)) if left > 0 else 0.0
                plan: object
                if tat + cost - now > room:
                    admitted = False
                    outcome = LimitOutcome(limit.name, False, tat + cost - now - room, remaining)
                    plan = None
                else:
                    outcome = LimitOutcome(limit.name, True, None, remaining)
                    plan = tat + cost
            elif limit.kind is LimitKind.QUOTA:
                outcome, plan = self._quota_check(tenant, limit, now)
                admitted = admitted and outcome.allowed
            else:
                outcome, plan = self._set_check(tenant, limit, now)
                admitted = admitted and outcome.allowed
            outcomes.append(outcome)
            plans.append(plan)
        if admitted:
            for limit, plan in zip(limits, plans, strict=True):
                self._apply(tenant, limit, plan, now)
            return CheckResult(True, tuple(outcomes), now)
        return _result(False, tuple(outcomes), now)

    def _quota_check(self, tenant: str, limit: Limit, now: float) -> tuple[LimitOutcome, object]:
        start, end = _window(limit, now)
        used, _ = self._quota.get((tenant, limit.key, start), (0.0, end))
        remaining = limit.limit - used
        if used + limit.cost > limit.limit:
            return LimitOutcome(limit.name, False, end - now, remaining), None
        return LimitOutcome(limit.name, True, None, remaining), (start, end)

    def _set_check(self, tenant: str, limit: Limit, now: float) -> tuple[LimitOutcome, object]:
        members = self._sets.setdefault((tenant, limit.kind.value, limit.key), {})
        gauge = limit.kind is LimitKind.GAUGE
        horizon = now if gauge else now - limit.period
        stale = [m for m, t in members.items() if t <= horizon]
        for m in stale:  # expired members (not a consumption)
            del members[m]
        member = member_digest(limit.member)
        remaining = limit.limit - len(members)
        if member not in members and len(members) + 1 > limit.limit:
            oldest = min(members.values()) if members else now
            wait = (oldest if gauge else oldest + limit.period) - now
            return LimitOutcome(limit.name, False, max(wait, 0.0), remaining), None
        return LimitOutcome(limit.name, True, None, remaining), member

    def _apply(self, tenant: str, limit: Limit, plan: object, now: float) -> None:
        if limit.kind is LimitKind.RATE:
            assert isinstance(plan, float)
            self._tat[(tenant, limit.key)] = plan
        elif limit.kind is LimitKind.QUOTA:
            assert isinstance(plan, tuple)
            start, end = plan
            used, _ = self._quota.get((tenant, limit.key, start), (0.0, end))
            self._quota[(tenant, limit.key, start)] = (used + limit.cost, end)
        else:
            assert isinstance(plan, str)
            members = self._sets[(tenant, limit.kind.value, limit.key)]
            members[plan] = now + limit.period if limit.kind is LimitKind.GAUGE else now

    def release(self, tenant: str, limit: Limit) -> None:
        with self._lock:
            members = self._sets.get((tenant, limit.kind.value, limit.key))
            if members is not None and limit.kind is LimitKind.GAUGE:
                members.pop(member_digest(limit.member), None)

    def usage(self, tenant: str, limit: Limit) -> float:
        with self._lock:
            now = self._clock()
            if limit.kind is LimitKind.RATE:
                interval = limit.period / limit.limit if limit.limit else float("inf")
                tat = self._tat.get((tenant, limit.key), now)
                return max(0.0, (tat - now) / interval)
            if limit.kind is LimitKind.QUOTA:
                start, _ = _window(limit, now)
                return self._quota.get((tenant, limit.key, start), (0.0, 0.0))[0]
            members = self._sets.get((tenant, limit.kind.value, limit.key), {})
            if limit.kind is LimitKind.GAUGE:
                return float(sum(1 for t in members.values() if t > now))
            return float(sum(1 for t in members.values() if t > now - limit.period))

    def _sweep(self, now: float) -> None:
        """Forget what can no longer matter (memory stays bounded on a long run)."""
        self._tat = {k: t for k, t in self._tat.items() if t > now}
        self._quota = {k: v for k, v in self._quota.items() if v[1] > now}
        self._sets = {k: v for k, v in self._sets.items() if v}
