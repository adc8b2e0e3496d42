"""Backtest two pack versions on the same events (`aupguard policy diff`).

The question a policy team asks before switching a rule from shadow to
enforce, or shipping a new version: which decisions change, how, and because
of which rules.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from aupguard.engine.decision import Decision
from aupguard.engine.events import AnyEvent
from aupguard.engine.facade import Engine

__all__ = ["Change", "DiffReport", "diff_packs"]


@dataclass(frozen=True)
class Change:
    line: int
    before: Decision
    after: Decision


@dataclass
class DiffReport:
    total: int = 0
    transitions: Counter[tuple[str, str]] = field(default_factory=Counter)
    rules_added: Counter[str] = field(default_factory=Counter)
    rules_removed: Counter[str] = field(default_factory=Counter)
    samples: list[Change] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return sum(n for (a, b), n in self.transitions.items() if a != b)


def _fired(decision: Decision) -> set[str]:
    return {h.rule for h in decision.hits}


def diff_packs(
    old: Engine, new: Engine, events: Iterable[tuple[int, AnyEvent]], samples: int = 10
) -> DiffReport:
    report = DiffReport()
    for line, event in events:
        before, after = old.screen(event), new.screen(event)
        report.total += 1
        report.transitions[(before.verdict.value, after.verdict.value)] += 1
        added, removed = _fired(after) - _fired(before), _fired(before) - _fired(after)
        report.rules_added.update(added)
        report.rules_removed.update(removed)
        if (before.verdict != after.verdict or added or removed) and len(report.samples) < samples:
            report.samples.append(Change(line, before, after))
    return report
