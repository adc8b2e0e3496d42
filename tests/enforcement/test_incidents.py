"""The incident register and the response to a compromised key (V2 S5 O2)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from aupguard import ApiRequest, Engine
from aupguard.actors import Actor, Forbidden, Role
from aupguard.api.keys import KeyManager, MemoryKeyStore
from aupguard.audit import verify_log
from aupguard.audit.chain import PLATFORM
from aupguard.enforcement.incidents import (
    IncidentReport,
    incidents,
    open_incident,
    report_compromise,
    update_incident,
)
from aupguard.enforcement.records import OutboxMessage
from aupguard.enforcement.service import Enforcement, EnforcementError
from aupguard.enforcement.sources import CandidateStep, StandingSource
from aupguard.engine.decision import Verdict
from aupguard.service import Screener
from aupguard.traffic.signals import MemorySignals
from aupguard.traffic.sources import TrafficSignals
from tests.enforcement.conftest import T0, Cli, Clock
from tests.enforcement.test_service import ANN, KIM, SENDER, message
from tests.services import FakeClock

KEY = "0f1e2d3c4b5a6978"
OPERATOR = Actor("op", frozenset({Role.ADMIN}))


def compromise(*keys: str) -> IncidentReport:
    return IncidentReport(
        kind="credential_compromise",
        severity="high",
        description="the key was pasted into a public repository",
        detected_at=T0,
        keys=keys,
    )


def test_cli_lifecycle_open_contain_resolve_all_audited(cli: Cli) -> None:
    opened = cli.ok(
        "incident",
        "open",
        "-a",
        "acme",
        "--kind",
        "account_takeover",
        "--severity",
        "high",
        "--description",
        "a former employee signed in",
        "--user",
        "bob@acme.example",
        at=T0,
        who="kim@acme:tenant_admin",
    )
    incident_id = opened.split()[0]
    assert incident_id.startswith("inc_")
    (listed,) = json.loads(cli.ok("incident", "list", "--json", who="ann:reviewer"))
    assert listed["source"] == "tenant" and listed["reported_by"] == "kim"
    assert listed["users"] == ["bob@acme.example"]
    assert listed["clauses"] == ["V2", "S5"]
    cli.ok(
        "incident",
        "update",
        incident_id,
        "-a",
        "acme",
        "--status",
        "contained",
        "--note",
        "sessions ended",
        at=T0 + timedelta(hours=1),
        who="ann:reviewer",
    )
    backwards = cli(
        "incident", "update", incident_id, "-a", "acme", "--status", "contained", "--note", "x"
    )
    assert backwards.exit_code == 2 and "can only move on" in backwards.output
    cli.ok(
        "incident",
        "update",
        incident_id,
        "-a",
        "acme",
        "--status",
        "resolved",
        "--note",
        "password reset, 2FA re-enrolled",
        at=T0 + timedelta(hours=5),
        who="ann:reviewer",
    )
    shown = json.loads(cli.ok("incident", "show", incident_id, "-a", "acme"))
    assert shown["status"] == "resolved"
    assert shown["contained_at"].startswith("2026-10-01T10:00")
    assert shown["resolved_at"].startswith("2026-10-01T14:00")
    assert [n["status"] for n in shown["notes"]] == ["contained", "resolved"]
    kinds = [
        json.loads(line)["kind"]
        for line in cli.ok("audit", "list", "-a", "acme").splitlines()
        if line.startswith("{")
    ]
    assert kinds == ["incident.opened", "incident.contained", "incident.resolved"]
    assert cli("audit", "verify", "--public-key", cli.public_key).exit_code == 0


def test_cli_refuses_and_names_bad_fields(cli: Cli) -> None:
    bad = cli("incident", "open", "-a", "acme", "--kind", "oops", "--severity", "meh",
              "--description", " ", "--detected", "yesterday", "--key", "")  # fmt: skip
    assert bad.exit_code == 2
    for option in ("--kind", "--severity", "--description", "--detected", "--key"):
        assert option in bad.output
    args = ("--kind", "other", "--severity", "low", "--description", "phishing kit found")
    other_tenant = cli("incident", "open", "-a", "acme", *args, who="eve@globex:tenant_admin")
    assert other_tenant.exit_code == 3
    sender = cli("incident", "open", "-a", "acme", *args, who="sam@acme:sender")
    assert sender.exit_code == 3
    platform = cli("incident", "open", "-a", PLATFORM, *args, who="kim@acme:tenant_admin")
    assert platform.exit_code == 3
    cli.ok("incident", "open", "-a", PLATFORM, *args, who="ann:reviewer")
    assert cli("incident", "list", who="kim@acme:tenant_admin").exit_code == 3
    denied = cli.ok("audit", "list", "-a", "acme", "--kind", "access.denied")
    assert [json.loads(line)["actor"] for line in denied.splitlines()] == ["eve", "sam", "kim"]
    platform_denied = cli.ok("audit", "list", "-a", PLATFORM, "--kind", "access.denied")
    assert [json.loads(line)["actor"] for line in platform_denied.splitlines()] == ["kim"]


def test_a_compromised_key_is_held_until_contained_and_the_customer_told(
    engine: Engine, svc: Enforcement, clock: Clock
) -> None:
    source = StandingSource(svc, ttl=3600)
    screener = Screener(engine, sources=[source], clock=clock)
    assert screener.screen(message("hi", api_key=KEY), T0).verdict is Verdict.ALLOW
    found = open_incident(svc, KIM, "acme", compromise(KEY), now=T0)
    assert (found.response, found.held_keys, found.clauses) == ("hold", (KEY,), ("V2", "S5"))
    held = screener.screen(message("hi", api_key=KEY), T0)
    assert held.verdict is Verdict.HOLD
    assert "S5" in held.hits[0].clauses and held.hits[0].rule == "account.key_compromised"
    other_key = screener.screen(message("hi", api_key="1111222233334444"), T0)
    assert other_key.verdict is Verdict.ALLOW
    told = svc.store.find(OutboxMessage, "acme")
    assert {(m.channel, m.topic) for m in told} == {
        ("email", "incident.opened"),
        ("webhook", "incident.opened"),
    }
    hook = next(m for m in told if m.channel == "webhook")
    assert hook.signature is not None and hook.body["held_keys"] == [KEY]
    with pytest.raises(Forbidden):
        update_incident(svc, KIM, "acme", found.id, "we rotated it", status="contained")
    update_incident(svc, ANN, "acme", found.id, "rotated", status="contained", now=T0)
    assert screener.screen(message("hi", api_key=KEY), T0).verdict is Verdict.ALLOW
    assert verify_log(svc.store.audit).ok


def test_keys_held_by_two_incidents_stay_held_until_both_are_contained(
    svc: Enforcement,
) -> None:
    first = open_incident(svc, KIM, "acme", compromise(KEY), now=T0)
    second = open_incident(svc, ANN, "acme", compromise(KEY, "2222333344445555"), now=T0)
    update_incident(svc, ANN, "acme", first.id, "done", status="resolved", now=T0)
    assert set(svc.standing("acme").held_keys) == {KEY, "2222333344445555"}
    update_incident(svc, ANN, "acme", second.id, "done", status="contained", now=T0)
    assert svc.standing("acme").held_keys == ()


def test_revocation_when_the_pack_says_so(engine: Engine, svc: Enforcement) -> None:
    keys = KeyManager(MemoryKeyStore())
    issued = keys.issue(OPERATOR, "acme", ["send"])
    svc.revoke_key = keys.revoke_compromised
    policy = svc.data["credential_policy"]
    svc.data = {
        **svc.data,
        "credential_policy": policy.model_copy(update={"on_compromise": "revoke"}),
    }
    found = open_incident(svc, KIM, "acme", compromise(issued.key.id, "ffffeeeeddddcccc"), now=T0)
    assert found.response == "revoke"
    assert found.revoked_keys == (issued.key.id,)  # another tenant's or unknown: not revoked
    assert keys.authenticate(issued.secret) is None
    assert svc.standing("acme").held_keys == ()


def test_detector_reports_join_the_open_incident(svc: Enforcement) -> None:
    first, new = report_compromise(
        svc, "acme", "key seen in clear", keys=[KEY], dedupe=f"key:{KEY}"
    )
    again, new_again = report_compromise(
        svc, "acme", "key seen in clear", keys=[KEY], dedupe=f"key:{KEY}"
    )
    assert new and not new_again and again.id == first.id
    assert first.source == "detector" and first.clauses == ("S5", "V2")
    assert [i.id for i in incidents(svc, ANN, None)] == [first.id]
    with pytest.raises(EnforcementError, match="status is open"):
        incidents(svc, ANN, None, "closed")
    with pytest.raises(Forbidden):
        incidents(svc, SENDER, "acme")


def test_a_live_key_in_clear_opens_an_incident_for_its_owner_and_holds_it(
    engine: Engine, svc: Enforcement, clock: Clock
) -> None:
    keys = KeyManager(MemoryKeyStore())
    leaked = keys.issue(OPERATOR, "acme", ["send"], "production")
    guessed = f"aupg_{leaked.key.id}_{'x' * 43}"  # the right id with a wrong secret
    step = CandidateStep(svc, key_owner=keys.owner)
    screener = Screener(engine, sources=[StandingSource(svc, ttl=0)], after=[step], clock=clock)
    pasted = screener.screen(message(f"use {leaked.secret} for the staging box", "globex"))
    assert pasted.verdict is Verdict.HOLD and pasted.hits[0].rule == "dlp.credentials"
    assert leaked.secret not in str(pasted.hits[0].evidence)
    screener.screen(message(f"try {guessed} then", "globex", id="m2"))
    (candidate, _) = step.flush()
    assert candidate.leaked_keys == (("acme", leaked.key.id),)
    assert leaked.secret not in candidate.model_dump_json()
    done = svc.drain()
    assert any("key " + leaked.key.id in line for line in done)
    (found,) = incidents(svc, ANN, "acme")
    assert (found.source, found.kind, found.held_keys) == (
        "detector",
        "credential_compromise",
        (leaked.key.id,),
    )
    assert "O2" in found.clauses and "globex" in found.description
    assert incidents(svc, ANN, "globex") == []  # the sender's account is not the key's owner
    assert {m.topic for m in svc.store.find(OutboxMessage, "acme")} == {"incident.opened"}
    sent = screener.screen(message("hello", api_key=leaked.key.id))
    assert sent.verdict is Verdict.HOLD and sent.hits[0].rule == "account.key_compromised"
    screener.screen(message(f"again {leaked.secret}", "globex", id="m3"))
    step.flush()
    svc.drain()
    (again,) = incidents(svc, ANN, "acme")
    assert again.id == found.id and again.notes[-1].text.startswith("seen again")


def test_one_key_from_many_addresses_is_a_shared_credential_incident(
    engine: Engine, svc: Enforcement
) -> None:
    ticks = FakeClock(T0.timestamp())
    step = CandidateStep(svc)
    screener = Screener(
        engine, sources=[TrafficSignals(engine, MemorySignals(ticks))], after=[step]
    )
    verdicts = []
    for i in range(6):
        event = ApiRequest(
            account="acme",
            method="POST",
            path="/v1/messages",
            api_key="k1",
            source_ip=f"198.51.100.{i + 1}",
            user_agent="acme-sender/1.0",
        )
        decision = screener.screen(event, T0)
        verdicts.append({h.rule for h in decision.hits})
        ticks.advance(20)
    assert all("credentials.shared_key" not in v for v in verdicts[:4])
    assert "credentials.shared_key" in verdicts[4]
    step.flush()
    svc.drain(T0)
    (found,) = incidents(svc, ANN, "acme")
    assert found.clauses == ("O2", "S5") and found.keys == ("k1",)
    assert (found.response, found.held_keys) == ("notify", ())
    assert svc.standing("acme").held_keys == ()
    assert {(m.channel, m.topic) for m in svc.store.find(OutboxMessage, "acme")} == {
        ("email", "incident.opened"),
        ("webhook", "incident.opened"),
    }


def test_cli_a_key_pasted_into_a_message_is_held_for_its_owner(cli: Cli) -> None:
    made = cli("keys", "create", "--tenant", "acme", "--scope", "send", "--json")
    assert made.exit_code == 0
    issued = json.loads(made.stdout)
    secret, key_id = issued["secret"], issued["key"]["id"]
    screened = json.loads(
        cli.ok("enforce", "screen", f"staging key: {secret}", "-a", "globex", "--json", at=T0)
    )
    assert screened["verdict"] == "hold"
    assert any(f"key {key_id} in clear" in line for line in screened["enforcement"])
    (found,) = json.loads(cli.ok("incident", "list", "-a", "acme", "--json", who="ann:reviewer"))
    assert (found["source"], found["held_keys"]) == ("detector", [key_id])
    assert secret not in cli.ok("audit", "list", "-a", "acme")
    assert secret not in cli.ok("incident", "show", found["id"], "-a", "acme")
