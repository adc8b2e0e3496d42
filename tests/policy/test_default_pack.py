"""The default pack: its examples, and its account of every inventory clause."""

from __future__ import annotations

from pathlib import Path

import pytest

from aupguard import Engine
from aupguard.engine.compiler import CompiledExample
from aupguard.policy.coverage import EXAMPLE_TEST, coverage, inventory_ids
from aupguard.policy.testing import run_example

ROOT = Path(__file__).resolve().parents[2]
_PACK = Engine.from_pack().pack
_EXAMPLES = _PACK.examples


@pytest.mark.parametrize("example", _EXAMPLES, ids=[e.name for e in _EXAMPLES])
def test_example(example: CompiledExample) -> None:
    result = run_example(_PACK, example)
    assert result.passed, f"{example.origin}: {result.problem}"


def test_every_inventory_clause_is_accounted_for(shared: Path) -> None:
    ids = inventory_ids(shared / "AUP-INVENTORY.md")
    assert len(ids) == 77
    rows = {row.clause: row for row in coverage(_PACK)}
    missing = [i for i in ids if i not in rows]
    assert not missing, f"clauses missing from the pack: {missing}"
    uncovered = [i for i, row in rows.items() if row.status == "uncovered"]
    assert not uncovered, f"clauses with no rule, mechanism, plan or reason: {uncovered}"


def test_enforced_rows_name_tests_that_exist() -> None:
    for row in coverage(_PACK):
        if row.status in ("enforced", "partial"):
            assert row.tests, row.clause
        for test in row.tests:
            file, _, name = test.partition("::")
            assert (ROOT / file).is_file(), test
            function = name.split("[")[0]
            assert f"def {function}(" in (ROOT / file).read_text("utf-8"), test
            if test.startswith(EXAMPLE_TEST):
                example = name[len("test_example[") : -1]
                assert example in {e.name for e in _EXAMPLES}, test


def test_every_rule_has_a_firing_example_and_cites_clauses() -> None:
    for rule in _PACK.rules:
        assert any(e.fires for e in rule.examples), rule.id
        assert rule.clauses, rule.id


def test_contractual_clauses_are_the_inventory_ones() -> None:
    assert set(_PACK.contractual) == {"W2", "P2", "P8", "P26", "P13", "P25", "S6", "S7"}


def test_datasets_carry_provenance() -> None:
    for located in _PACK.datasets.values():
        assert located.value.source and located.value.as_of
