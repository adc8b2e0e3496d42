"""Commands refuse what an actor may not do, name bad fields, and keep records."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from aupguard.cli import app
from tests.enforcement.conftest import T0, Cli


def test_a_reviewer_without_the_role_is_refused_and_the_attempt_audited(cli: Cli) -> None:
    cli.ok(
        "enforce",
        "act",
        "acme",
        "suspend_account",
        "--reason",
        "phishing",
        at=T0,
        who="ann:reviewer",
    )
    (action,) = json.loads(cli.ok("enforce", "actions", "acme", "--json", who="ann:reviewer"))
    refused = cli(
        "enforce", "reinstate", "acme", action["id"], "--reason", "please", who="lee:legal"
    )
    assert refused.exit_code == 3
    assert "refused" in refused.output
    assert "needs reviewer or admin" in refused.output
    denied = [
        json.loads(line)
        for line in cli.ok("audit", "list", "-a", "acme", "--kind", "access.denied").splitlines()
    ]
    assert denied[0]["actor"] == "lee"
    assert (
        cli(
            "enforce", "reinstate", "acme", action["id"], "--reason", "x", who="kim@acme:sender"
        ).exit_code
        == 3
    )
    assert cli("audit", "list", "-a", "acme", who="eve@globex:tenant_admin").exit_code == 3
    assert json.loads(cli.ok("account", "show", "acme"))["status"] == "suspended"


def test_bad_actor_and_time_arguments_exit_2(cli: Cli) -> None:
    assert cli("case", "overdue", who="ann").exit_code == 2
    assert cli("case", "overdue", who="ann:boss").exit_code == 2
    assert cli("case", "overdue", who="ann:sender").exit_code == 2  # a tenant role without a tenant
    result = cli.runner.invoke(
        __import__("aupguard.cli", fromlist=["app"]).app,
        ["case", "overdue", "--url", cli.url, "--at", "yesterday"],
    )
    assert result.exit_code == 2
    assert "--at" in result.output


def test_a_report_missing_fields_exits_2_naming_each(cli: Cli) -> None:
    result = cli("report", "file", "--description", "they keep texting me")
    assert result.exit_code == 2
    for field in ("url|number|workspace", "timestamp", "contact"):
        assert field in result.output
    filed = cli.ok(
        "report",
        "file",
        "--number",
        "+1 202 555 0143",
        "--account",
        "acme",
        "--timestamp",
        "2026-10-01T08:00:00Z",
        "--description",
        "robocalls every morning",
        "--contact",
        "pat@example.org",
    )
    assert "in case case_" in filed


def test_cases_opened_by_hand_show_up_overdue(cli: Cli) -> None:
    opened = cli.ok(
        "case",
        "open",
        "-a",
        "acme",
        "--type",
        "traceback",
        "--subject",
        "ITG 2291",
        at=T0,
        who="lee:legal",
    )
    case_id = opened.split()[0]
    assert (
        cli.ok("case", "overdue", "--json", at=T0 + timedelta(hours=23), who="ann:reviewer").strip()
        == "[]"
    )
    late = json.loads(
        cli.ok("case", "overdue", "--json", at=T0 + timedelta(hours=25), who="ann:reviewer")
    )
    assert [c["id"] for c in late] == [case_id]
    assert cli("case", "open", "-a", "acme", "--type", "nonsense", "--subject", "x").exit_code == 2


def test_legal_penalty_versions_and_traceback_commands(cli: Cli, tmp_path: Path) -> None:
    registered = cli.ok(
        "legal",
        "register",
        "acme",
        "--authority",
        "Metro Police",
        "--basis",
        "warrant 26-114",
        "--scope",
        "sender +12025550143",
        "--deadline",
        "2026-10-10T00:00:00Z",
        at=T0,
        who="lee:legal",
    )
    request = registered.split()[0]
    (tmp_path / "export.csv").write_text("a,b\n")
    disclosed = cli.ok(
        "legal", "disclose", "acme", request, str(tmp_path / "export.csv"), at=T0, who="lee:legal"
    )
    assert "export.csv" in disclosed
    assert "manifest" in disclosed
    assert cli("legal", "list", "acme", who="ann:reviewer").exit_code == 3

    cli.ok(
        "penalty",
        "record",
        "acme",
        "--operator",
        "t-mobile",
        "--rule",
        "phishing.lure_link",
        "--incurred",
        "2026-10-02T00:00:00Z",
        at=T0,
    )
    assert json.loads(cli.ok("penalty", "report", "acme"))["2026-10"]["total"] == 2000
    assert cli("penalty", "report", "acme", "--month", "October").exit_code == 2

    cli.ok(
        "policy",
        "versions",
        "schedule",
        "2026.11",
        "--effective",
        "2026-11-01",
        "--summary",
        "new lending rules",
        at=T0,
    )
    assert "1 notice(s)" in cli.ok("policy", "versions", "notify", "2026.11", "-a", "acme", at=T0)
    cli.ok(
        "policy", "versions", "accept", "2026.11", "-a", "acme", at=T0, who="kim@acme:tenant_admin"
    )
    assert "click_through" in cli.ok("policy", "versions", "acceptances", "-a", "acme")

    cli.ok(
        "enforce", "screen", "-a", "acme", "--id", "m5", "Buy cocaine now, discreet delivery", at=T0
    )
    bundle = json.loads(cli.ok("traceback", "--event", "m5", "--request", "ITG-1", who="lee:legal"))
    assert bundle["records"][0]["account"] == "acme"
    assert bundle["signature"]
    assert "m5" in cli.ok("traceback", "--number", "+14155550123", "--csv", who="lee:legal")
    assert cli("traceback", who="lee:legal").exit_code == 2


def test_audit_keygen_never_overwrites_and_verify_rejects_another_key(
    cli: Cli, tmp_path: Path
) -> None:
    first = cli.runner.invoke(app, ["audit", "keygen", "--out", str(tmp_path / "k.pem")])
    assert first.exit_code == 0
    assert (tmp_path / "k.pem").stat().st_mode & 0o777 == 0o600
    again = cli.runner.invoke(app, ["audit", "keygen", "--out", str(tmp_path / "k.pem")])
    assert again.exit_code == 2
    other_key = first.output.split("public key:")[1].split()[0]
    for n in range(6):
        cli.ok(
            "case", "open", "-a", "acme", "--type", "carrier_complaint", "--subject", f"c{n}", at=T0
        )
    assert cli("audit", "verify", "--public-key", cli.public_key).exit_code == 0
    wrong = cli("audit", "verify", "--public-key", other_key)
    assert wrong.exit_code == 1
    assert "signature" in wrong.output
    assert cli("audit", "verify", "--public-key", "not-base64!").exit_code == 2
    assert "checkpoint at seq" in cli.ok("audit", "checkpoint")
