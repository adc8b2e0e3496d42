"""What the policy and account pages show: rule hit counts per day from the stored
decisions (kept for a minute per process), shadow-rule results against what is
enforced, the clause coverage of the running pack, and an account's standing,
strikes, actions, penalties and acceptances."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Generic, TypeVar

from aupguard.actors import Actor, Role
from aupguard.enforcement.records import Acceptance, Action, Case, Penalty, Standing, Strike
from aupguard.enforcement.service import STAFF, Enforcement
from aupguard.engine.compiler import CompiledPack
from aupguard.outbox.model import DecisionRecord
from aupguard.outbox.store import MessageStore
from aupguard.policy.coverage import CoverageRow, coverage

__all__ = [
    "AccountView",
    "HitChart",
    "RuleRow",
    "ShadowResults",
    "ShadowRow",
    "account_view",
    "bars",
    "rule_rows",
    "shadow_rows",
]

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


T = TypeVar("T")


@dataclass
class Recent(Generic[T]):
    """A value computed at most once every `ttl` seconds (per process)."""

    ttl: float = CACHE_SECONDS
    _cached: tuple[float, T] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, compute: Callable[[], T]) -> T:
        with self._lock:
            cached = self._cached
            if cached is not None and time.monotonic() - cached[0] < self.ttl:
                return cached[1]
        value = compute()
        with self._lock:
            self._cached = (time.monotonic(), value)
        return value


@dataclass
class HitChart:
    """Hit counts per (day, rule) from the stored decisions, recomputed at most once a
    minute: one grouped query over the last DAYS days of every tenant."""

    store: MessageStore
    clock: Callable[[], datetime]
    ttl: float = CACHE_SECONDS
    _recent: Recent[tuple[date, dict[str, list[int]]]] = field(init=False)

    def __post_init__(self) -> None:
        self._recent = Recent(self.ttl)

    def counts(self) -> tuple[date, dict[str, list[int]]]:
        return self._recent.get(self._count)

    def _count(self) -> tuple[date, dict[str, list[int]]]:
        today = self.clock().date()
        first = today - timedelta(days=DAYS - 1)
        per_rule: dict[str, list[int]] = defaultdict(lambda: [0] * DAYS)
        for day, rule, count in self.store.rule_hits(datetime_at(first, self.clock())):
            index = (day - first).days
            if 0 <= index < DAYS:
                per_rule[rule][index] += count
        return today, dict(per_rule)


EXAMPLES = 3

Shadow = dict[str, tuple[list[int], int, list[DecisionRecord]]]
"""rule -> (hits per day oldest first, decisions it would have changed, examples)."""


@dataclass(frozen=True, slots=True)
class ShadowRow:
    """A shadow rule over the last DAYS days: the decisions it fired on, those whose
    verdict it would have changed had it been enforced, and a few of those."""

    id: str
    title: str
    action: str
    clauses: tuple[str, ...]
    per_day: tuple[int, ...]
    changes: int
    examples: tuple[DecisionRecord, ...]

    @property
    def total(self) -> int:
        return sum(self.per_day)


@dataclass
class ShadowResults:
    """Shadow-rule hits per (day, rule) and the decisions each would have changed, from
    the stored decisions: one grouped query over the last DAYS days (a partial index
    holds only the decisions a shadow rule fired on), then the newest examples of each
    rule that would change anything; recomputed at most once a minute."""

    store: MessageStore
    clock: Callable[[], datetime]
    ttl: float = CACHE_SECONDS
    _recent: Recent[Shadow] = field(init=False)

    def __post_init__(self) -> None:
        self._recent = Recent(self.ttl)

    def results(self) -> Shadow:
        return self._recent.get(self._compute)

    def _compute(self) -> Shadow:
        now = self.clock()
        first = now.date() - timedelta(days=DAYS - 1)
        since = datetime_at(first, now)
        found: Shadow = {}
        for day, rule, hits, changes in self.store.shadow_hits(since):
            index = (day - first).days
            if 0 <= index < DAYS:
                per_day, changed, examples = found.setdefault(rule, ([0] * DAYS, 0, []))
                per_day[index] += hits
                found[rule] = (per_day, changed + changes, examples)
        for rule, (_, changed, examples) in found.items():
            if changed:
                examples.extend(self.store.shadow_examples(rule, since, EXAMPLES))
        return found


def shadow_rows(pack: CompiledPack, results: Shadow) -> list[ShadowRow]:
    """Every shadow rule of the running pack with its results (zeros when it never fired)."""
    rows = []
    for rule in pack.rules:
        if rule.mode.value != "shadow":
            continue
        per_day, changes, examples = results.get(rule.id, ([0] * DAYS, 0, []))
        rows.append(
            ShadowRow(
                id=rule.id,
                title=rule.title,
                action=rule.action.value,
                clauses=tuple(rule.clauses),
                per_day=tuple(per_day),
                changes=changes,
                examples=tuple(examples),
            )
        )
    return sorted(rows, key=lambda r: (-r.total, r.id))


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
