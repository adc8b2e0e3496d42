"""The enforcement service on the in-memory store: ladder, cases, appeals, least privilege."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from aupguard import Engine, OutboundMessage
from aupguard.actors import Actor, Forbidden, Role
from aupguard.audit import verify_log
from aupguard.enforcement.records import Candidate, Case, OutboxMessage
from aupguard.enforcement.service import Enforcement, EnforcementError
from aupguard.enforcement.sources import CandidateStep, StandingSource
from aupguard.service import Screener
from tests.enforcement.conftest import SERVICE_T0 as T0
from tests.enforcement.conftest import Clock

ANN = Actor("ann", frozenset({Role.REVIEWER}))
BOB = Actor("bob", frozenset({Role.REVIEWER}))
LEGAL = Actor("lee", frozenset({Role.LEGAL}))
KIM = Actor("kim", frozenset({Role.TENANT_ADMIN}), "acme")
SENDER = Actor("api", frozenset({Role.SENDER}), "acme")


def message(body: str, account: str = "acme", **fields: object) -> OutboundMessage:
    data: dict[str, object] = {
        "account": account,
        "from": "+12025550143",
        "to": "+14155550123",
        "body": body,
    }
    data.update(fields)
    return OutboundMessage.model_validate(data)


def pipeline(engine: Engine, svc: Enforcement) -> tuple[Screener, CandidateStep]:
    step = CandidateStep(svc)
    return Screener(engine, sources=[StandingSource(svc, ttl=60)], after=[step]), step


def violation_case(
    svc: Enforcement, rule: str = "content.shaft.drugs", severity: str = "high"
) -> str:
    evidence = [
        {
            "rule": rule,
            "severity": severity,
            "clauses": ["P27"],
            "sender": "+12025550143",
            "channel": "sms",
        }
    ]
    case, _ = svc.open_case(ANN, "acme", "rule_hits", rule, evidence=evidence)
    svc.decide(ANN, "acme", case.id, "violation", "confirmed")
    return case.id


def test_clean_traffic_enqueues_nothing_and_a_hit_waits_for_the_worker(
    engine: Engine, svc: Enforcement
) -> None:
    screener, step = pipeline(engine, svc)
    assert screener.screen(message("see you at 7"), T0).verdict == "allow"
    assert len(step) == 0
    screener.screen(message("Buy cocaine now, discreet delivery", id="m9"), T0)
    assert len(step) == 1
    assert svc.store.find(Candidate, "acme") == []  # nothing written in the send path
    (written,) = step.flush()
    assert written.rules[0][0] == "content.shaft.drugs"
    assert written.event == "m9"
    done = svc.drain(T0)
    assert done and "opened" in done[0]  # a high-severity hit opens a case at once
    assert svc.store.find(Candidate, "acme", status="done")


def test_strikes_climb_the_ladder_and_each_step_is_enforced_at_send(
    engine: Engine, svc: Enforcement, clock: Clock
) -> None:
    screener, _ = pipeline(engine, svc)
    steps = []
    for _ in range(4):  # high severity: 2 strikes each; thresholds 1, 3, 5, 8
        violation_case(svc)
        steps.append([a.step for a in svc.actions("acme", active_only=True)][-1])
    assert steps == ["warn", "throttle", "suspend_channel", "suspend_account"]
    standing = svc.standing("acme")
    assert standing.suspended_senders == ("+12025550143",)
    assert standing.status == "suspended"
    assert screener.screen(message("hello"), T0).verdict == "block"
    # each step notified the customer: an e-mail and a signed webhook
    hooks = [m for m in svc.store.find(OutboxMessage, "acme") if m.channel == "webhook"]
    assert [h.topic for h in hooks][:4] == [
        "enforcement.warn",
        "enforcement.throttle",
        "enforcement.suspend_channel",
        "enforcement.suspend_account",
    ]
    assert all(h.signature for h in hooks)


def test_a_throttle_allows_one_message_per_period(engine: Engine, svc: Enforcement) -> None:
    screener, _ = pipeline(engine, svc)
    svc.act(ANN, "acme", "throttle", "too many complaints")
    assert screener.screen(message("hello"), T0).verdict == "allow"
    second = screener.screen(message("hello"), T0 + timedelta(seconds=10))
    assert second.verdict == "throttle"
    assert second.retry_after == pytest.approx(50)
    assert screener.screen(message("hello"), T0 + timedelta(seconds=61)).verdict == "allow"


def test_strikes_decay(svc: Enforcement, clock: Clock) -> None:
    violation_case(svc)
    assert svc.strike_total("acme", T0) == 2
    assert svc.strike_total("acme", T0 + timedelta(days=91)) == 0


def test_child_safety_terminates_at_once_and_opens_the_export_window(
    engine: Engine, svc: Enforcement
) -> None:
    screener, step = pipeline(engine, svc)
    (example,) = [r for r in engine.pack.rules if r.id == "content.child_safety"][:1]
    body = example.spec.examples[0].event["body"]
    screener.screen(message(body), T0)
    step.flush()
    svc.drain(T0)
    standing = svc.standing("acme")
    assert standing.status == "terminated"
    assert standing.export_until == T0 + timedelta(days=30)


def test_a_suspended_channel_blocks_only_that_channel(engine: Engine, svc: Enforcement) -> None:
    screener, _ = pipeline(engine, svc)
    svc.act(ANN, "acme", "suspend_channel", "WhatsApp template abuse", target="channel:whatsapp")
    assert screener.screen(message("hi", channel="whatsapp"), T0).verdict == "block"
    assert screener.screen(message("hi", channel="sms"), T0).verdict == "allow"
    with pytest.raises(EnforcementError, match="target"):
        svc.act(ANN, "acme", "suspend_channel", "no target")


def test_without_the_role_an_actor_is_refused_and_the_attempt_audited(svc: Enforcement) -> None:
    action = svc.act(ANN, "acme", "suspend_account", "phishing")
    for actor in (SENDER, KIM, LEGAL):
        with pytest.raises(Forbidden):
            svc.reinstate(actor, "acme", action.id, "please")
    other_tenant = Actor("eve", frozenset({Role.TENANT_ADMIN}), "globex")
    with pytest.raises(Forbidden):
        svc.cases(other_tenant, "acme")
    denied = [e for e in svc.store.audit.scan() if e.kind == "access.denied"]
    assert [e.actor for e in denied] == ["api", "kim", "lee", "eve"]
    assert svc.standing("acme").status == "suspended"


def test_an_appeal_goes_to_a_different_reviewer(svc: Enforcement) -> None:
    case_id = violation_case(svc, severity="critical")  # 4 strikes: throttle
    assert [a.step for a in svc.actions("acme", active_only=True)] == ["throttle"]
    with pytest.raises(EnforcementError, match="appeal it"):
        svc.decide(BOB, "acme", case_id, "no_violation", "second look")
    svc.appeal(KIM, "acme", case_id, "the sender was compromised")
    with pytest.raises(Forbidden, match="different reviewer"):
        svc.decide(ANN, "acme", case_id, "reversed", "I changed my mind")
    assert any(e.kind == "access.denied" and e.actor == "ann" for e in svc.store.audit.scan())
    decided = svc.decide(BOB, "acme", case_id, "reversed", "compromised credentials, fixed")
    assert decided.decided_by == ("ann", "bob")
    assert svc.actions("acme", active_only=True) == []
    assert svc.strike_total("acme", T0) == 0
    assert verify_log(svc.store.audit).ok


def test_an_appeal_is_heard_once(svc: Enforcement) -> None:
    case_id = violation_case(svc)
    svc.appeal(KIM, "acme", case_id, "please look again")
    assert svc.decide(BOB, "acme", case_id, "upheld", "the evidence stands").outcome == "upheld"
    with pytest.raises(EnforcementError, match="appealed already"):
        svc.appeal(KIM, "acme", case_id, "and again")


def test_case_sla_clocks_and_overdue_listing(svc: Enforcement, clock: Clock) -> None:
    robocall, _ = svc.open_case(ANN, "acme", "robocall_complaint", "complaint from a carrier")
    trace, _ = svc.open_case(LEGAL, "globex", "traceback", "ITG traceback 2291")
    assert robocall.due - robocall.opened == timedelta(days=3)
    assert trace.due - trace.opened == timedelta(hours=24)
    assert svc.overdue(ANN, T0 + timedelta(hours=23)) == []
    assert [c.id for c in svc.overdue(ANN, T0 + timedelta(hours=25))] == [trace.id]
    assert {c.id for c in svc.overdue(ANN, T0 + timedelta(days=3, minutes=1))} == {
        trace.id,
        robocall.id,
    }
    svc.assign(ANN, "acme", robocall.id, "bob")
    svc.note(BOB, "acme", robocall.id, "customer says the campaign is paused")
    svc.decide(BOB, "acme", robocall.id, "no_violation", "cured within the day")
    assert [c.id for c in svc.overdue(ANN, T0 + timedelta(days=4))] == [trace.id]
    with pytest.raises(Forbidden):
        svc.overdue(KIM, T0)
    with pytest.raises(EnforcementError, match="case type"):
        svc.open_case(ANN, "acme", "gossip", "x")


def queued(
    svc: Enforcement, at: datetime, rule: str = "fraud.prize", severity: str = "medium"
) -> None:
    svc.store.put(
        [
            Candidate(
                tenant="acme",
                id=f"cand-{at.timestamp()}",
                created=at,
                updated=at,
                event=None,
                at=at,
                verdict="hold",
                rules=((rule, severity, ("W7",)),),
            )
        ]
    )


def test_medium_hits_open_a_case_at_the_threshold_within_the_window(svc: Enforcement) -> None:
    for hours in (0, 30, 40):  # the first one falls out of the 24 h window
        queued(svc, T0 + timedelta(hours=hours))
        svc.drain(T0 + timedelta(hours=hours))
    assert svc.store.find(Case, "acme") == []
    queued(svc, T0 + timedelta(hours=41))
    assert "opened" in svc.drain(T0 + timedelta(hours=41))[0]  # 30, 40, 41: three in 24 h
    queued(svc, T0 + timedelta(hours=42))
    assert "added to" in svc.drain(T0 + timedelta(hours=42))[0]
    (case,) = svc.store.find(Case, "acme")
    assert case.hits == 2
