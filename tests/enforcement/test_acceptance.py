"""The lifecycles of issue 7 end to end, as an operator and a customer run them."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from sqlalchemy import create_engine, text

from tests.enforcement.conftest import T0, Cli

PHISH = "Your parcel is held, pay the fee at hxxp://dhl-track[.]top/pay"
REVIEWER = "ann:reviewer"
OTHER_REVIEWER = "bob:reviewer"
CUSTOMER = "kim@acme:tenant_admin"


def case_ids(cli: Cli, account: str) -> list[str]:
    rows = json.loads(cli.ok("case", "list", "-a", account, "--json", who=REVIEWER))
    return [r["id"] for r in rows]


def audit_kinds(cli: Cli, account: str) -> list[str]:
    out = cli.ok("audit", "list", "-a", account, who="ann:admin")
    return [json.loads(line)["kind"] for line in out.splitlines()]


def test_phishing_suspends_at_once_and_an_appeal_reinstates(cli: Cli) -> None:
    first = cli.ok("enforce", "screen", "-a", "acme", "--id", "m1", PHISH, at=T0)
    assert first.startswith("block")
    assert "suspend_account (phishing)" in first
    # the account cannot send anything now, citing the suspension
    after = json.loads(cli.ok("enforce", "screen", "-a", "acme", "hello", "--json", at=T0))
    assert after["verdict"] == "block"
    assert after["rules"] == ["account.suspended"]
    assert after["code"] == 30002
    # another account is untouched
    assert cli.ok("enforce", "screen", "-a", "globex", "hello", at=T0).startswith("allow")

    (case,) = case_ids(cli, "acme")
    shown = json.loads(cli.ok("case", "show", case, "-a", "acme", who=REVIEWER))
    assert shown["outcome"] == "violation"
    assert shown["evidence"][0]["event"] == "m1"
    actions = json.loads(cli.ok("enforce", "actions", "acme", "--json", who=REVIEWER))
    assert [(a["step"], a["decisions"], a["case"]) for a in actions] == [
        ("suspend_account", ["m1"], case)
    ]

    later = T0 + timedelta(hours=2)
    cli.ok(
        "case",
        "appeal",
        case,
        "-a",
        "acme",
        "--reason",
        "a test send to our own phone",
        at=later,
        who=CUSTOMER,
    )
    decided = cli.ok(
        "case",
        "decide",
        case,
        "-a",
        "acme",
        "--outcome",
        "reversed",
        "--reason",
        "internal test",
        at=later,
        who=REVIEWER,
    )
    assert "acme is active" in decided
    assert cli.ok("enforce", "screen", "-a", "acme", "hello", at=later).startswith("allow")

    kinds = audit_kinds(cli, "acme")
    for kind in (
        "decision.block",
        "enforcement.suspend_account",
        "case.appealed",
        "case.decided",
        "enforcement.reinstated",
    ):
        assert kind in kinds, kind
    verified = cli("audit", "verify", "--public-key", cli.public_key)
    assert verified.exit_code == 0, verified.output
    assert re.search(r"ok: \d+ entries, [1-9]\d* checkpoint", verified.output)


def test_an_edited_audit_row_fails_verification_naming_its_seq(cli: Cli) -> None:
    cli.ok("enforce", "screen", "-a", "acme", "--id", "m1", PHISH, at=T0)
    assert cli("audit", "verify").exit_code == 0
    engine = create_engine(cli.url)
    with engine.begin() as conn:
        seq = conn.execute(
            text("SELECT seq FROM audit_entries WHERE kind = 'enforcement.suspend_account'")
        ).scalar_one()
        conn.execute(
            text("UPDATE audit_entries SET actor = 'nobody' WHERE seq = :seq"), {"seq": seq}
        )
    engine.dispose()
    result = cli("audit", "verify")
    assert result.exit_code == 1
    assert f"broken at seq {seq}" in result.output


def test_a_trial_account_cannot_send_on_day_31(cli: Cli) -> None:
    cli.ok("account", "billing-event", "trial", "trial_started", at=T0)
    day30 = T0 + timedelta(days=29)
    day31 = T0 + timedelta(days=30)
    assert cli.ok("enforce", "screen", "-a", "trial", "hello", at=day30).startswith("allow")
    blocked = json.loads(cli.ok("enforce", "screen", "-a", "trial", "hello", "--json", at=day31))
    assert (blocked["verdict"], blocked["rules"], blocked["clauses"]) == (
        "block",
        ["account.trial_expired"],
        ["S2"],
    )
    cli.ok("account", "advance", at=day31)
    assert "standing.trial_expired" in audit_kinds(cli, "trial")
    cli.ok("account", "billing-event", "trial", "subscribed", at=day31 + timedelta(hours=1))
    assert cli.ok(
        "enforce", "screen", "-a", "trial", "hello", at=day31 + timedelta(hours=1)
    ).startswith("allow")


def test_past_due_is_suspended_on_day_31_terminated_after_notice_exported_then_scrubbed(
    cli: Cli,
) -> None:
    cli.ok("account", "store", "late", "inbox/1.txt", "--text", "order 1 shipped", at=T0)
    cli.ok("account", "store", "late", "inbox/2.txt", "--text", "order 2 shipped", at=T0)
    cli.ok("account", "store", "other", "inbox/1.txt", "--text", "not yours to delete", at=T0)
    cli.ok(
        "account",
        "billing-event",
        "late",
        "invoice_issued",
        "--invoice",
        "INV-1",
        "--amount",
        "120",
        at=T0,
    )
    day30, day31 = T0 + timedelta(days=29), T0 + timedelta(days=30)
    cli.ok("account", "advance", at=day30)
    assert cli.ok("enforce", "screen", "-a", "late", "hello", at=day30).startswith("allow")
    advanced = cli.ok("account", "advance", at=day31)
    assert "late: standing.suspended" in advanced
    assert json.loads(cli.ok("enforce", "screen", "-a", "late", "hello", "--json", at=day31))[
        "rules"
    ] == ["account.suspended"]
    standing = json.loads(cli.ok("account", "show", "late", who=REVIEWER))
    assert standing["status"] == "suspended"
    assert standing["notice_at"] is not None

    notice_ends = day31 + timedelta(days=15)
    cli.ok("account", "advance", at=notice_ends - timedelta(hours=1))
    assert json.loads(cli.ok("account", "show", "late", who=REVIEWER))["status"] == "suspended"
    assert "late: standing.terminated" in cli.ok("account", "advance", at=notice_ends)
    shown = json.loads(cli.ok("account", "show", "late", who=REVIEWER))
    assert shown["status"] == "terminated"

    # the customer can export for the window (30 days)
    exported = json.loads(
        cli.ok(
            "account",
            "export",
            "late",
            at=notice_ends + timedelta(days=29),
            who="kim@late:tenant_admin",
        )
    )
    assert sorted(i["name"] for i in exported["items"]) == ["inbox/1.txt", "inbox/2.txt"]
    assert all(len(m["sha256"]) == 64 for m in exported["manifest"])
    # after the window: the job scrubs, export is closed, the other account keeps its content
    closed = notice_ends + timedelta(days=30, minutes=1)
    assert "late: scrubbed 2 item(s)" in cli.ok("account", "advance", at=closed)
    refused = cli("account", "export", "late", at=closed, who="kim@late:tenant_admin")
    assert refused.exit_code == 2
    assert "scrubbed" in refused.output
    assert "not yours" in cli.ok("account", "export", "other", at=closed)
    kinds = audit_kinds(cli, "late")
    assert {
        "standing.past_due",
        "standing.suspended",
        "standing.terminated",
        "scrub.finished",
    } <= set(kinds)
    assert cli("audit", "verify", "--public-key", cli.public_key).exit_code == 0


def test_a_paid_invoice_lifts_a_billing_suspension(cli: Cli) -> None:
    cli.ok(
        "account",
        "billing-event",
        "late",
        "invoice_issued",
        "--invoice",
        "INV-1",
        "--amount",
        "10",
        at=T0,
    )
    cli.ok("account", "advance", at=T0 + timedelta(days=30))
    assert cli.ok("enforce", "screen", "-a", "late", "hi", at=T0 + timedelta(days=30)).startswith(
        "block"
    )
    cli.ok(
        "account",
        "billing-event",
        "late",
        "invoice_paid",
        "--invoice",
        "INV-1",
        at=T0 + timedelta(days=31),
    )
    assert cli.ok("enforce", "screen", "-a", "late", "hi", at=T0 + timedelta(days=31)).startswith(
        "allow"
    )


def test_a_dispute_within_15_days_holds_off_past_due_and_a_late_one_is_refused(cli: Cli) -> None:
    cli.ok(
        "account", "billing-event", "d", "invoice_issued", "--invoice", "A", "--amount", "10", at=T0
    )
    cli.ok(
        "account", "billing-event", "d", "invoice_issued", "--invoice", "B", "--amount", "10", at=T0
    )
    cli.ok(
        "account",
        "billing-event",
        "d",
        "invoice_disputed",
        "--invoice",
        "A",
        at=T0 + timedelta(days=14),
    )
    late = cli(
        "account",
        "billing-event",
        "d",
        "invoice_disputed",
        "--invoice",
        "B",
        at=T0 + timedelta(days=16),
    )
    assert late.exit_code == 2
    assert "dispute window" in late.output
    cli.ok(
        "account",
        "billing-event",
        "d",
        "invoice_paid",
        "--invoice",
        "B",
        at=T0 + timedelta(days=20),
    )
    cli.ok("account", "advance", at=T0 + timedelta(days=40))
    assert json.loads(cli.ok("account", "show", "d", who=REVIEWER))["status"] == "active"
