"""What the policy and account pages show: rule hit counts per day from the stored
decisions (kept for a minute per process), the clause coverage of the running pack,
and an account's standing, strikes, actions, penalties and acceptances."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from aupguard.actors import Actor, Role
from aupguard.enforcement.records import Acceptance, Action, Case, Penalty, Standing, Strike
from aupguard.enforcement.service import STAFF, Enforcement
from aupguard.engine.compiler import CompiledPack
from aupguard.outbox.store import MessageStore
from aupguard.policy.coverage import CoverageRow, coverage

__all__ = ["AccountView", "HitChart", "RuleRow", "account_view", "bars", "rule_rows"]

DAYS = 14
CACHE_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class RuleRow:
    id: str
    title: str
    action: str
    severity: str
    mode: str
    clauses: tuple[str, ...]
    per_day: tuple[int, ...]
    """Hits per day, oldest first, the last day being today (UTC)."""

    @property
    def total(self) -> int:
        return sum(self.per_day)

    @property
    def today(self) -> int:
        return self.per_day[-1] if self.per_day else 0


@dataclass
class HitChart:
    """Hit counts per (day, rule) from the stored decisions, recomputed at most once a
    minute: one grouped query over the last DAYS days of every tenant."""

    store: MessageStore
    clock: Callable[[], datetime]
    ttl: float = CACHE_SECONDS
    _cached: tuple[float, date, dict[str, list[int]]] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def counts(self) -> tuple[date, dict[str, list[int]]]:
        with self._lock:
            cached = self._cached
            if cached is not None and time.monotonic() - cached[0] < self.ttl:
                return cached[1], cached[2]
        today = self.clock().date()
        first = today - timedelta(days=DAYS - 1)
        per_rule: dict[str, list[int]] = defaultdict(lambda: [0] * DAYS)
        for day, rule, count in self.store.rule_hits(datetime_at(first, self.clock())):
            index = (day - first).days
            if 0 <= index < DAYS:
                per_rule[rule][index] += count
        result = dict(per_rule)
        with self._lock:
            self._cached = (time.monotonic(), today, result)
        return today, result


def datetime_at(day: date, like: datetime) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=like.tzinfo)


def rule_rows(pack: CompiledPack, counts: Mapping[str, list[int]]) -> list[RuleRow]:
    rows = [
        RuleRow(
            id=rule.id,
            title=rule.title,
            action=rule.action.value,
            severity=rule.severity.value,
            mode=rule.mode.value,
            clauses=tuple(rule.clauses),
            per_day=tuple(counts.get(rule.id, [0] * DAYS)),
        )
        for rule in pack.rules
    ]
    return sorted(rows, key=lambda r: (-r.total, r.id))


def bars(per_day: tuple[int, ...], width: int = 8, height: int = 24) -> list[dict[str, int]]:
    """SVG rectangles of a per-day bar chart (attributes only: no inline style, which the
    console's Content-Security-Policy forbids)."""
    top = max(per_day, default=0) or 1
    out = []
    for i, n in enumerate(per_day):
        h = round(height * n / top) if n else 0
        out.append({"x": i * (width + 2), "y": height - h, "w": width, "h": h, "n": n})
    return out


_COVERAGE: dict[tuple[str, str], list[CoverageRow]] = {}


def pack_coverage(pack: CompiledPack) -> list[CoverageRow]:
    """The clause coverage table of a pack (computed once per pack version)."""
    key = (pack.id, pack.version)
    if key not in _COVERAGE:
        _COVERAGE[key] = coverage(pack)
    return _COVERAGE[key]


@dataclass(frozen=True, slots=True)
class AccountView:
    tenant: str
    standing: Standing
    strikes: int
    strike_records: list[Strike]
    actions: list[Action]
    penalties: list[Penalty]
    acceptances: list[Acceptance]
    open_cases: int
    cases: int
    extra: dict[str, Any] = field(default_factory=dict)


def account_view(svc: Enforcement, actor: Actor, tenant: str, now: datetime) -> AccountView:
    svc.guard(actor, *STAFF, Role.LEGAL, action="see an account", tenant=tenant)
    standing = svc.standing(tenant, now)
    cases = svc.store.find(Case, tenant)
    return AccountView(
        tenant=tenant,
        standing=standing,
        strikes=svc.strike_total(tenant, now),
        strike_records=svc.store.find(Strike, tenant)[-50:],
        actions=svc.actions(tenant)[-50:],
        penalties=svc.store.find(Penalty, tenant)[-50:],
        acceptances=svc.store.find(Acceptance, tenant),
        open_cases=sum(1 for c in cases if c.status in ("open", "needs_info", "appealed")),
        cases=len(cases),
    )
