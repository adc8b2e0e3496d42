"""Pack loading and compiling: every mistake reported with file, line and rule."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from aupguard import Engine, Verdict
from aupguard.policy.loader import PackLoadError
from tests.factories import message
from tests.packs import write_pack


def errors_of(tmp_path: Path, body: str) -> list[str]:
    with pytest.raises(PackLoadError) as info:
        Engine.from_pack(write_pack(tmp_path, body))
    return [f"{e.line}|{e.rule}|{e.message}" for e in info.value.errors]


def test_unknown_detector_is_reported_with_line_and_rule(tmp_path: Path) -> None:
    errors = errors_of(
        tmp_path,
        """\
        rules:
          - id: r.one
            title: t
            clauses: [X1]
            when:
              all:
                - {detector: no.such.thing}
            action: block
            severity: low
        """,
    )
    assert errors == ["12|r.one|unknown detector 'no.such.thing'"]


def test_wrong_operator_type_is_reported(tmp_path: Path) -> None:
    errors = errors_of(
        tmp_path,
        """\
        rules:
          - {id: r.one, title: t, clauses: [X1], when: {detector: urls.count, contains: x}, action: hold, severity: low}
        """,
    )
    assert len(errors) == 1
    assert "detector 'urls.count' is number; operator 'contains' needs labels" in errors[0]


def test_unknown_clause_duplicate_rule_and_bad_enum_are_all_reported(tmp_path: Path) -> None:
    errors = errors_of(
        tmp_path,
        """\
        lexicons:
          l: {terms: [x]}
        rules:
          - {id: r.one, title: t, clauses: [Z9], when: {lexicon: l}, action: hold, severity: low}
          - {id: r.one, title: t, clauses: [X1], when: {lexicon: l}, action: hold, severity: low}
          - {id: r.two, title: t, clauses: [X1], when: {event: category, eq: markting}, action: hold, severity: low}
        """,
    )
    joined = "\n".join(errors)
    assert "unknown clause id 'Z9'" in joined
    assert "duplicate rule 'r.one'" in joined
    assert "'markting' is not one of marketing" in joined
    assert len(errors) == 3


def test_schema_errors_name_the_field(tmp_path: Path) -> None:
    errors = errors_of(
        tmp_path,
        """\
        rules:
          - {id: r.one, title: t, clauses: [X1], when: {lexicon: l}, action: explode, severity: low}
        """,
    )
    assert errors[0].startswith("7|r.one|rules.0.action:")


def test_yaml_syntax_error_has_its_line(tmp_path: Path) -> None:
    path = tmp_path / "pack.yaml"
    path.write_text('pack: p\nversion: "1"\nrules:\n  - id: [unclosed\n', "utf-8")
    with pytest.raises(PackLoadError) as info:
        Engine.from_pack(path)
    assert info.value.errors[0].line >= 4
    assert "YAML syntax" in info.value.errors[0].message


def test_throttle_needs_retry_after(tmp_path: Path) -> None:
    errors = errors_of(
        tmp_path,
        """\
        lexicons: {l: {terms: [x]}}
        rules:
          - {id: r.one, title: t, clauses: [X1], when: {lexicon: l}, action: throttle, severity: low}
        """,
    )
    assert "a throttle rule needs retry_after" in errors[0]


def test_bad_regex_in_lexicon(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, "lexicons:\n  l: {patterns: ['(unclosed']}\n")
    assert "lexicon 'l': pattern '(unclosed'" in errors[0]


def test_child_pack_extends_overrides_and_disables(tmp_path: Path) -> None:
    child = tmp_path / "child.yaml"
    child.write_text(
        textwrap.dedent(
            """\
            pack: customer-strict
            version: "1"
            extends: default
            lexicons:
              shaft.alcohol: {merge: extend, terms: [hard seltzer]}
            overrides:
              content.shaft.firearms: {action: block}
            disable: [content.ip_infringement]
            rules:
              - id: customer.no_crypto_mentions
                title: No crypto talk at all
                clauses: [V1]
                when: {lexicon: fraud.crypto}
                action: block
                severity: medium
            """
        ),
        "utf-8",
    )
    engine = Engine.from_pack(child)
    assert engine.pack.lineage == ("aupguard-default@2026.11.23", "customer-strict@1")
    assert engine.screen(message("AR-15 and ammo in stock")).verdict is Verdict.BLOCK
    assert engine.screen(message("Replica watches 1:1 quality")).verdict is Verdict.ALLOW
    assert engine.screen(message("guaranteed returns, trading signals")).verdict is Verdict.BLOCK
    hard = engine.screen(message("hard seltzer sale, shop now, limited time offer"))
    assert "content.shaft.alcohol" in [h.rule for h in hard.hits]


def test_child_pack_cannot_redefine_base_rule(tmp_path: Path) -> None:
    child = tmp_path / "child.yaml"
    child.write_text(
        'pack: c\nversion: "1"\nextends: default\nrules:\n'
        "  - {id: content.threat, title: t, clauses: [W3], when: {lexicon: threat.violence}, action: block, severity: high}\n",
        "utf-8",
    )
    with pytest.raises(PackLoadError, match="change it with `overrides`"):
        Engine.from_pack(child)


def test_extends_cycle_is_reported(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text('pack: a\nversion: "1"\nextends: b.yaml\n', "utf-8")
    (tmp_path / "b.yaml").write_text('pack: b\nversion: "1"\nextends: a.yaml\n', "utf-8")
    with pytest.raises(PackLoadError, match="cycle"):
        Engine.from_pack(tmp_path / "a.yaml")


def test_include_that_matches_nothing(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, "include: [rules/*.yaml]\n")
    assert "include 'rules/*.yaml' matches no file" in errors[0]


def test_default_pack_compiles_quickly(engine: Engine) -> None:
    # a budget, not a timing assertion: compile must not regress by orders of magnitude
    assert engine.pack.compile_seconds < 30
    assert len(engine.pack.rules) >= 30
