"""The command line, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aupguard.cli import app

runner = CliRunner()


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


def test_screen_blocks_the_parcel_lure_with_a_fraud_clause() -> None:
    code, out, _ = run(
        "screen", "--json", "Your parcel is held, pay the fee at hxxp://dhl-track[.]top/pay"
    )
    assert code == 0
    decision = json.loads(out)
    assert decision["verdict"] in ("block", "hold")
    assert {"V1", "P19", "W7", "P21"} <= set(decision["clauses"])
    evidence = [e for h in decision["hits"] for e in h["evidence"]]
    assert any(e["excerpt"] == "hxxp://dhl-track[.]top/pay" for e in evidence)


def test_screen_allows_plain_conversation() -> None:
    code, out, _ = run("screen", "--json", "see you at 7")
    assert code == 0
    assert json.loads(out)["verdict"] == "allow"


def test_screen_prints_a_readable_decision() -> None:
    code, out, _ = run("screen", "Buy c0ca1ne now")
    assert code == 0
    assert "BLOCK" in out
    assert "P27" in out and "content.shaft.drugs" in out


def test_fail_on_sets_the_exit_status() -> None:
    assert run("screen", "--fail-on", "hold", "Buy cocaine now")[0] == 1
    assert run("screen", "--fail-on", "hold", "see you at 7")[0] == 0


def test_screen_with_state_and_category() -> None:
    state = '{"consent": {"status": "opted_out"}}'
    _, out, _ = run("screen", "--json", "--state", state, "hello")
    assert json.loads(out)["code"] == 21610
    _, out, _ = run("screen", "--json", "--category", "marketing", "Big sale today")
    assert {h["rule"] for h in json.loads(out)["hits"]} >= {"marketing.missing_opt_out"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("screen",), "either a message text or --file"),
        (("screen", "--state", '{"consent": {"status": "maybe"}}', "hi"), "consent.status"),
        (("screen", "--to", "", "hi"), "'to'"),
        (("screen", "--file", "/no/such/file.jsonl"), "no such file"),
        (("replay", "/no/such/file.jsonl"), "no such file"),
        (("policy", "lint", "/no/such/pack.yaml"), "file not found"),
    ],
)
def test_bad_input_exits_2_with_a_reason(args: tuple[str, ...], message: str) -> None:
    code, out, err = run(*args)
    assert code == 2
    assert message in err + out


def test_screen_file_reports_bad_lines_and_screens_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(
        '{"body": "see you at 7"}\n{"body": \n{"to": ""}\n{"body": "buy cocaine"}\n', "utf-8"
    )
    code, out, err = run("screen", "--json", "--file", str(path))
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(d["line"], d["verdict"]) for d in lines] == [(1, "allow"), (4, "block")]
    assert "line 2: invalid JSON" in err
    assert "line 3: field 'to'" in err


def test_replay_summarises_and_writes_decisions(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        'body,to,campaign_note\n"see you at 7",+14155550100,a\n"buy cocaine now",+14155550101,b\n'
        '"too","many",fields,here\n"Your parcel is held, pay the fee at dhl-track.top/pay",+14155550102,c\n',
        "utf-8",
    )
    out = tmp_path / "decisions.jsonl"
    code, stdout, stderr = run("replay", str(source), "--out", str(out))
    assert code == 0
    assert "screened 3 event(s), skipped 1 bad line(s)" in stdout
    assert "line 4:" in stderr
    decisions = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert [d["verdict"] for d in decisions] == ["allow", "block", "block"]
    assert decisions[0]["metadata"] == {"campaign_note": "a"}
    assert "content.shaft.drugs" in stdout and "fraud.delivery_fee" in stdout


def test_replay_of_the_sms_spam_test_split(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "d.jsonl"
    code, stdout, _ = run(
        "replay", str(shared_data / "sms-spam-collection" / "test.tsv"), "--out", str(out)
    )
    assert code == 0
    assert "screened 3902 event(s), skipped 0 bad line(s)" in stdout
    assert sum(1 for _ in out.open()) == 3902


def test_policy_lint_and_test_on_the_default_pack() -> None:
    code, out, _ = run("policy", "lint")
    assert code == 0 and "aupguard-default" in out
    code, out, _ = run("policy", "test")
    assert code == 0 and " 0 failed" in out


def test_policy_lint_reports_file_and_line(tmp_path: Path) -> None:
    pack = tmp_path / "pack.yaml"
    pack.write_text(
        'pack: p\nversion: "1"\nclauses: {X1: {seed: s, policy: p, text: t}}\nrules:\n'
        "  - {id: r.a, title: t, clauses: [X1], when: {detector: nope}, action: block, severity: low}\n",
        "utf-8",
    )
    code, _, err = run("policy", "lint", str(pack))
    assert code == 2
    assert "pack.yaml:5: [r.a] unknown detector 'nope'" in err


def test_policy_coverage_lists_every_inventory_clause(shared: Path) -> None:
    code, out, _ = run(
        "policy", "coverage", "--json", "--inventory", str(shared / "AUP-INVENTORY.md")
    )
    assert code == 0
    data = json.loads(out)
    assert data["missing_from_pack"] == []
    statuses = {row["clause"]: row["status"] for row in data["clauses"]}
    assert len(statuses) == 77
    assert statuses["P27"] == "enforced" and statuses["W2"] == "contractual"
    code, out, _ = run("policy", "coverage")
    assert code == 0 and "P27" in out


def test_policy_diff_shows_the_effect_of_enforcing_a_shadow_rule(tmp_path: Path) -> None:
    events = tmp_path / "e.jsonl"
    events.write_text(
        '{"body": "Amazon deals this week at dealsite.shop"}\n{"body": "see you at 7"}\n', "utf-8"
    )
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(
        'pack: candidate\nversion: "2"\nextends: default\n'
        "overrides:\n  impersonation.brand_link_any: {mode: enforce}\n",
        "utf-8",
    )
    code, out, _ = run("policy", "diff", "default", str(candidate), str(events))
    assert code == 0
    assert "1 verdict(s) change" in out
    assert "impersonation.brand_link_any" in out


def test_demo_runs() -> None:
    code, out, _ = run("demo")
    assert code == 0
    assert "26 events" in out and "block" in out


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("aupguard")
    result = subprocess.run(
        [str(script), "screen", "--json", "see you at 7"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["verdict"] == "allow"


def test_policy_lint_counts_negated_lexicons_as_used(tmp_path: Path) -> None:
    pack = tmp_path / "pack.yaml"
    pack.write_text(
        'pack: p\nversion: "1"\nclauses: {X1: {seed: s, policy: p, text: t}}\n'
        "lexicons: {a: {terms: [alpha]}, b: {terms: [beta]}, c: {terms: [gamma]}}\n"
        "rules:\n"
        "  - id: r.a\n    title: t\n    clauses: [X1]\n    action: hold\n    severity: low\n"
        "    when: {all: [{lexicon: a}, {not: {lexicon: b}}]}\n"
        "    examples: [{event: {body: alpha}}]\n",
        "utf-8",
    )
    code, _, err = run("policy", "lint", str(pack))
    assert code == 0
    assert "lexicon 'c' is not used" in err
    assert "lexicon 'b'" not in err
