"""Clause coverage: for every obligation of the seed policies, what enforces it.

Statuses: ``enforced`` (rules with firing examples, or mechanisms with tests),
``partial`` (something enforces part of it and the rest is planned),
``planned`` (nothing yet; the issue tracking it is named), ``contractual`` (no
software can check it; the reason is given), ``uncovered`` (a gap).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from aupguard.engine.compiler import CompiledPack

__all__ = ["CoverageRow", "coverage", "example_test_id", "inventory_ids"]

EXAMPLE_TEST = "tests/policy/test_default_pack.py::test_example"


def example_test_id(example_name: str) -> str:
    """The pytest node that runs a pack example of the default pack."""
    return f"{EXAMPLE_TEST}[{example_name}]"


@dataclass
class CoverageRow:
    clause: str
    policy: str
    text: str
    status: str
    rules: list[str] = field(default_factory=list)
    mechanisms: list[str] = field(default_factory=list)
    tests: list[str] = field(default_factory=list)
    reason: str | None = None
    issue: int | None = None


def coverage(pack: CompiledPack) -> list[CoverageRow]:
    rows = []
    for clause_id, located in pack.clauses.items():
        clause = located.value
        row = CoverageRow(clause_id, clause.policy, clause.text, "uncovered")
        for rule in pack.rules:
            if clause_id in rule.clauses:
                firing = [e for e in rule.examples if e.fires]
                row.rules.append(rule.id if rule.mode.value == "enforce" else f"{rule.id} (shadow)")
                row.tests.extend(example_test_id(e.name) for e in firing[:1])
        for mechanism_id, mechanism in pack.mechanisms.items():
            if clause_id in mechanism.value.clauses:
                row.mechanisms.append(mechanism_id)
                row.tests.extend(mechanism.value.tests)
        planned = pack.planned.get(clause_id)
        contractual = pack.contractual.get(clause_id)
        enforced = bool(row.tests)
        if contractual is not None:
            row.status, row.reason = "contractual", contractual.value.reason
        elif planned is not None:
            row.status = "partial" if enforced else "planned"
            row.issue, row.reason = planned.value.issue, planned.value.note
        elif enforced:
            row.status = "enforced"
        rows.append(row)
    return rows


_INVENTORY_ID = re.compile(r"\b([WPSVO](?:[0-9]|[1-9][0-9]))\b")


def inventory_ids(path: Path) -> list[str]:
    """Every clause id named in an AUP inventory document, in order of first mention."""
    text = path.read_text("utf-8")
    return list(dict.fromkeys(_INVENTORY_ID.findall(text)))
