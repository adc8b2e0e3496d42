"""Abuse reports, legal requests, penalties, policy versions, traceback, scrub and quotas."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from aupguard import Engine
from aupguard.actors import Actor, Forbidden, Role
from aupguard.audit import MemoryAuditLog
from aupguard.audit.chain import PLATFORM, canonical
from aupguard.audit.keys import Signer
from aupguard.enforcement import legal, lifecycle, penalties, reports, traceback, versions
from aupguard.enforcement.records import Candidate, Case, ContentItem, OutboxMessage, ScrubJob
from aupguard.enforcement.service import Enforcement, EnforcementError
from aupguard.enforcement.sources import CandidateStep, StandingSource
from aupguard.enforcement.store import MemoryRecordStore
from aupguard.service import Screener
from tests.enforcement.conftest import SERVICE_T0 as T0
from tests.enforcement.conftest import Clock
from tests.enforcement.test_service import ANN, KIM, LEGAL, message

ADMIN = Actor("root", frozenset({Role.ADMIN}))


@pytest.fixture
def svc(engine: Engine, clock: Clock) -> Enforcement:
    signer = Signer(Ed25519PrivateKey.generate())
    return Enforcement(
        MemoryRecordStore(MemoryAuditLog(clock=clock)), engine.pack.data, signer=signer, clock=clock
    )


def report(**fields: object) -> dict[str, object]:
    data: dict[str, object] = {
        "url": "https://dhl-track.top/pay",
        "account": "acme",
        "timestamp": "2026-11-01T08:00:00Z",
        "description": "a text asking me to pay a parcel fee",
        "contact": "pat@example.org",
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


# -- abuse reports ----------------------------------------------------------------------------


def test_a_report_missing_fields_names_each_of_them(svc: Enforcement) -> None:
    with pytest.raises(reports.ReportInvalid) as caught:
        reports.file_report(svc, {"description": "spam"})
    assert set(caught.value.problems) == {
        "url|number|workspace",
        "timestamp",
        "description",
        "contact",
    }
    with pytest.raises(reports.ReportInvalid) as bad:
        reports.file_report(svc, report(timestamp="2026-11-01T08:00:00", number="12"))
    assert set(bad.value.problems) == {"timestamp", "number"}
    assert svc.store.find(Case, "acme") == []  # nothing half-written


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            ["url", "number", "workspace", "timestamp", "description", "contact", "junk"]
        ),
        st.text(max_size=30),
    )
)
def test_any_report_is_accepted_or_refused_with_named_fields(
    engine: Engine, data: dict[str, str]
) -> None:
    svc = Enforcement(MemoryRecordStore(), engine.pack.data, clock=lambda: T0)
    problems: dict[str, str] = {}
    try:
        filed = reports.file_report(svc, dict(data))
    except reports.ReportInvalid as exc:
        problems = exc.problems
    else:
        assert filed.case
        return
    assert problems
    assert all(isinstance(f, str) and f and why for f, why in problems.items())


def test_reports_on_the_same_thing_join_its_open_case(svc: Enforcement) -> None:
    first = reports.file_report(svc, report())
    second = reports.file_report(
        svc, report(contact="sam@example.org", url="HTTPS://DHL-track.top/pay")
    )
    other = reports.file_report(svc, report(url="https://else.example/x"))
    assert first.case == second.case != other.case
    case = svc.case(ANN, "acme", first.case)
    assert case.reports == (first.id, second.id)
    assert case.due - case.opened == timedelta(hours=72)
    unattributed = reports.file_report(svc, report(account=None, url="https://nobody.example"))
    assert unattributed.tenant == PLATFORM


def test_request_more_information_writes_to_the_reporter(svc: Enforcement) -> None:
    filed = reports.file_report(svc, report())
    svc.request_info(ANN, "acme", filed.case, "Which number sent it?")
    assert svc.case(ANN, "acme", filed.case).status == "needs_info"
    mail = [
        m for m in svc.store.find(OutboxMessage, "acme") if m.topic == "report.more_information"
    ]
    assert mail[0].body["to"] == "pat@example.org"


def test_a_reporter_whose_reports_keep_being_false_is_flagged_as_a_violation(
    svc: Enforcement,
) -> None:
    for n in range(3):
        filed = reports.file_report(
            svc, report(url=f"https://innocent{n}.example", reporter_account="troll")
        )
        svc.decide(ANN, "acme", filed.case, "no_violation", "nothing wrong there")
    record = reports.reporter(svc, "PAT@example.org")
    assert record is not None
    assert (record.reports, record.rejected, record.flagged) == (3, 3, True)
    (case,) = svc.store.find(Case, "troll")
    assert "false abuse reports" in case.subject
    assert any(e.kind == "reporter.flagged" for e in svc.store.audit.entries(PLATFORM))


def test_a_confirmed_report_counts_for_the_reporter(svc: Enforcement) -> None:
    filed = reports.file_report(svc, report())
    svc.decide(ANN, "acme", filed.case, "violation", "phishing page confirmed")
    record = reports.reporter(svc, "pat@example.org")
    assert record is not None
    assert (record.confirmed, record.flagged) == (1, False)


# -- legal requests ---------------------------------------------------------------------------


def test_legal_requests_and_disclosures_with_a_manifest(svc: Enforcement, tmp_path: Path) -> None:
    request = legal.register_request(
        svc,
        LEGAL,
        "acme",
        authority="Metro Police",
        basis="warrant 26-114",
        scope="messages from +12025550143",
        deadline=T0 + timedelta(days=10),
    )
    (tmp_path / "messages.csv").write_text("id,body\n1,hello\n")
    updated = legal.disclose(svc, LEGAL, "acme", request.id, [tmp_path / "messages.csv"])
    entry = updated.disclosures[0].manifest[0]
    assert entry == {
        "name": "messages.csv",
        "bytes": 16,
        "sha256": hashlib.sha256(b"id,body\n1,hello\n").hexdigest(),
    }
    assert updated.status == "disclosed"
    assert updated.disclosures[0].by == "lee"
    with pytest.raises(Forbidden):
        legal.register_request(svc, ANN, "acme", authority="x", basis="y", scope="z", deadline=T0)
    with pytest.raises(EnforcementError, match="basis"):
        legal.register_request(svc, LEGAL, "acme", authority="x", basis=" ", scope="z", deadline=T0)
    urgent = legal.register_request(
        svc,
        LEGAL,
        "acme",
        authority="x",
        basis="emergency",
        scope="z",
        deadline=T0 + timedelta(hours=1),
        emergency=True,
    )
    assert [r.id for r in legal.overdue_requests(svc, LEGAL, T0 + timedelta(hours=2))] == [
        urgent.id
    ]


# -- penalties --------------------------------------------------------------------------------


def test_penalties_follow_the_schedule_and_are_reported_per_month(svc: Enforcement) -> None:
    nov, dec = datetime(2026, 11, 3, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    assert (
        penalties.record_penalty(
            svc, ADMIN, "acme", operator="t-mobile", rule="phishing.lure_link", incurred=nov
        ).amount
        == 2000
    )
    assert (
        penalties.record_penalty(
            svc, ADMIN, "acme", operator="t-mobile", rule="content.shaft.cannabis", incurred=nov
        ).amount
        == 1000
    )
    assert (
        penalties.record_penalty(
            svc, ADMIN, "acme", operator="t-mobile", category="shaft", incurred=dec
        ).amount
        == 500
    )
    penalties.record_penalty(
        svc, ADMIN, "globex", operator="t-mobile", category="phishing", incurred=nov
    )
    assert penalties.monthly_report(svc, KIM, "acme") == {
        "2026-11": {"phishing": 2000, "illegal_content": 1000, "total": 3000},
        "2026-12": {"shaft": 500, "total": 500},
    }
    assert penalties.monthly_report(svc, ANN, "acme", "2026-12") == {
        "2026-12": {"shaft": 500, "total": 500}
    }
    with pytest.raises(EnforcementError, match="no t-mobile/phishing fee in force"):
        penalties.record_penalty(
            svc,
            ADMIN,
            "acme",
            operator="t-mobile",
            category="phishing",
            incurred=datetime(2023, 5, 1, tzinfo=UTC),
        )
    with pytest.raises(Forbidden):
        penalties.record_penalty(
            svc, ANN, "acme", operator="t-mobile", category="phishing", incurred=nov
        )


# -- policy versions --------------------------------------------------------------------------


def test_notices_before_the_effective_date_and_acceptance_by_click_or_continued_use(
    engine: Engine, svc: Enforcement, clock: Clock
) -> None:
    svc.act(ANN, "acme", "warn", "a standing record for acme")
    svc.act(ANN, "globex", "warn", "a standing record for globex")
    versions.schedule_version(svc, ADMIN, "2026.12", date(2026, 12, 1), "stricter lending rules")
    sent = versions.send_notices(svc, ADMIN, "2026.12")
    assert sorted(n.tenant for n in sent) == ["acme", "globex"]
    assert versions.accept(svc, KIM, "acme", "2026.12").method == "click_through"
    # globex keeps sending once the version is in force: acceptance by continued use
    step = CandidateStep(svc)
    screener = Screener(engine, sources=[StandingSource(svc)], after=[step])
    december = datetime(2026, 12, 2, tzinfo=UTC)
    screener.screen(message("hello", account="globex"), december)
    assert versions.record_use(svc, step.senders, december)[0].method == "continued_use"
    (accepted,) = versions.acceptances(svc, ADMIN, "globex")
    assert accepted.notice == "2026.12"
    assert versions.in_force(svc, date(2026, 11, 30)) is None
    assert versions.in_force(svc, date(2026, 12, 1)) is not None
    versions.schedule_version(svc, ADMIN, "2027.01", date(2026, 11, 2), "too soon")
    with pytest.raises(EnforcementError, match="before the effective date"):
        versions.send_notices(svc, ADMIN, "2027.01")


# -- traceback --------------------------------------------------------------------------------


def test_traceback_bundle_is_signed_and_names_the_origin(engine: Engine, svc: Enforcement) -> None:
    step = CandidateStep(svc)
    screener = Screener(engine, after=[step])
    event = message(
        "Buy cocaine now, discreet delivery",
        id="m7",
        api_key="key_1",
        source_ip="198.51.100.7",
        metadata={"upstream": "carrier-x"},
    )
    screener.screen(event, T0)
    step.flush()
    bundle = traceback.traceback_bundle(svc, LEGAL, number="+14155550123", request="ITG-2291")
    (row,) = bundle["records"]
    assert (row["account"], row["sender"], row["api_key"], row["source_ip"], row["upstream"]) == (
        "acme",
        "+12025550143",
        "key_1",
        "198.51.100.7",
        "carrier-x",
    )
    body = {k: bundle[k] for k in ("request", "query", "generated", "records")}
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(bundle["public_key"]))
    key.verify(base64.b64decode(bundle["signature"]), canonical(body))
    assert "m7" in traceback.traceback_csv(bundle)
    assert traceback.traceback_bundle(svc, LEGAL, number="+19995550000")["records"] == []
    with pytest.raises(Forbidden):
        traceback.traceback_bundle(svc, KIM, number="+14155550123")


# -- content, scrub, quotas, retention ----------------------------------------------------------


def terminated_with_content(svc: Enforcement, n: int) -> None:
    for i in range(n):
        lifecycle.store_content(svc, KIM, "acme", f"m{i}", f"body {i}")
    lifecycle.store_content(svc, ADMIN, "globex", "keep", "globex content")
    svc.act(ANN, "acme", "terminate", "repeated phishing")


def test_an_interrupted_scrub_resumes_and_deletes_nothing_outside_its_scope(
    svc: Enforcement,
) -> None:
    terminated_with_content(svc, 7)
    after = T0 + timedelta(days=31)
    with pytest.raises(EnforcementError, match="export window"):
        lifecycle.scrub(svc, ADMIN, "acme", T0 + timedelta(days=1))

    def crash(rounds: int) -> None:
        if rounds == 2:
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        lifecycle.scrub(svc, ADMIN, "acme", after, batch=3, after_batch=crash)
    assert len(svc.store.find(ContentItem, "acme")) == 1
    job = lifecycle.scrub(svc, ADMIN, "acme", after, batch=3)
    assert job.status == "done"
    assert job.deleted == 7
    assert svc.store.find(ContentItem, "acme") == []
    assert [i.name for i in svc.store.find(ContentItem, "globex")] == ["keep"]
    assert job.record is not None
    assert job.signature is not None
    assert svc.signer is not None
    key = svc.signer.key.public_key()
    key.verify(base64.b64decode(job.signature), canonical(job.record))
    assert job.kept == ("audit", "legal", "penalties")
    kinds = [e.kind for e in svc.store.audit.entries("acme")]
    assert kinds.count("scrub.resumed") == 1
    assert svc.store.get(ScrubJob, "acme", "scrub") == job


def test_the_free_plan_has_a_storage_quota(svc: Enforcement) -> None:
    lifecycle.billing_event(
        svc, ADMIN, "acme", lifecycle.BillingEvent(type="plan_changed", at=T0, plan="free")
    )
    lifecycle.store_content(svc, KIM, "acme", "a", "x" * 40_000_000)
    with pytest.raises(EnforcementError, match="keeps 50000000 bytes"):
        lifecycle.store_content(svc, KIM, "acme", "b", "x" * 20_000_000)
    with pytest.raises(EnforcementError, match="plan must be one of"):
        lifecycle.billing_event(
            svc, ADMIN, "acme", lifecycle.BillingEvent(type="plan_changed", at=T0, plan="gold")
        )


def test_retention_deletes_content_past_its_period(
    engine: Engine, svc: Enforcement, clock: Clock
) -> None:
    step = CandidateStep(svc)
    Screener(engine, after=[step]).screen(message("Buy cocaine now, discreet delivery"), T0)
    step.flush()
    svc.drain(T0)
    lifecycle.store_content(svc, KIM, "acme", "old", "old text")
    clock.now = T0 + timedelta(days=20)
    lifecycle.store_content(svc, KIM, "acme", "new", "new text")
    assert lifecycle.retention_sweep(svc, ADMIN, T0 + timedelta(days=31)) == 1
    assert [i.name for i in svc.store.find(ContentItem, "acme")] == ["new"]
    assert svc.standing("acme").storage_bytes == len("new text")
    assert svc.store.find(Candidate, "acme")  # evidence is kept for a year
    assert lifecycle.retention_sweep(svc, ADMIN, T0 + timedelta(days=366)) == 2
    assert svc.store.find(Candidate, "acme") == []


def test_export_is_for_the_account_or_staff_only(svc: Enforcement) -> None:
    terminated_with_content(svc, 1)
    bundle = lifecycle.export_content(svc, KIM, "acme")
    assert json.dumps(bundle)
    with pytest.raises(Forbidden):
        lifecycle.export_content(
            svc, Actor("eve", frozenset({Role.TENANT_ADMIN}), "globex"), "acme"
        )
