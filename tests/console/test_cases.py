"""Cases in the console over HTTP: list with filters and SLA clocks, the case page,
notes, assignment, decisions, enforcement actions and appeals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aupguard.actors import Actor, Role
from aupguard.api.routes.enforcement import enforcement
from aupguard.api.services import Services
from aupguard.console import Accounts
from aupguard.console.cases import clock_text
from aupguard.enforcement.records import Action, Case
from aupguard.enforcement.service import Enforcement
from tests.console.conftest import Browserish, Clock, csrf_of, make_user, sign_in

STAFF = Actor(id="user:sam", roles=frozenset({Role.REVIEWER}))
EVIDENCE = {
    "message": "SM0123",
    "at": "2026-06-01T08:00:00+00:00",
    "rule": "content.threat",
    "severity": "high",
    "clauses": ["W3", "P1"],
    "excerpts": ["I will kill you"],
}


def svc_of(services: Services) -> Enforcement:
    return services.component(enforcement)


def opened(services: Services, tenant: str = "acme", **kw: object) -> Case:
    case, _ = svc_of(services).open_case(
        STAFF,
        tenant,
        "rule_hits",
        "hits of content.* rules",
        evidence=[EVIDENCE],
        dedupe=f"hits:content:{tenant}",
        **kw,  # type: ignore[arg-type]
    )
    return case


def signed_in(client: Browserish, accounts: Accounts, clock: Clock, name: str = "rita") -> None:
    sign_in(client, make_user(accounts, name, None, "reviewer"), clock)


def test_sla_clock_text() -> None:
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    case = Case(
        tenant="t", id="c", created=now, updated=now, type="abuse_report", subject="s",
        opened=now, due=now + timedelta(hours=5, minutes=3),
    )  # fmt: skip
    assert clock_text(case, now) == ("due in 5 h 3 min", False)
    assert clock_text(case, now + timedelta(days=2, hours=6)) == ("overdue by 2 d 0 h", True)
    decided = case.model_copy(update={"status": "decided", "decided_at": now})
    assert clock_text(decided, now + timedelta(days=9)) == ("decided 2026-06-01 12:00", False)


def test_cases_list_filters_and_shows_overdue_in_red(
    services: Services, client: Browserish, accounts: Accounts, clock: Clock
) -> None:
    old = opened(services, "acme", now=datetime.now(UTC) - timedelta(days=10))
    fresh = opened(services, "globex")
    signed_in(client, accounts, clock)
    page = client.get("/console/cases")
    assert page.status_code == 200
    assert old.id in page.text and fresh.id in page.text
    assert '<td class="overdue">overdue by' in page.text
    assert "due in" in page.text
    only = client.get("/console/cases?overdue=1")
    assert old.id in only.text and fresh.id not in only.text
    acme = client.get("/console/cases?tenant=globex&status=open")
    assert fresh.id in acme.text and old.id not in acme.text
    assert client.get("/console/cases?status=lost").status_code == 400
    assert client.get("/console/cases?type=rule_hits&assignee=nobody").text.count("<tr>") == 0


def test_case_page_notes_assignment_decision_and_action(
    services: Services, client: Browserish, accounts: Accounts, clock: Clock
) -> None:
    case = opened(services)
    signed_in(client, accounts, clock)
    url = f"/console/cases/acme/{case.id}"
    page = client.get(url)
    assert page.status_code == 200
    assert "content.threat" in page.text and "I will kill you" in page.text  # the timeline
    for what, data in (
        ("note", {"text": "looked at the sender's history"}),
        ("assign", {"assignee": "user:rita"}),
        ("act", {"step": "warn", "reason": "first threat", "target": ""}),
        ("decide", {"outcome": "violation", "reason": "a threat of violence"}),
    ):
        page = client.get(url)
        answer = client.post(f"{url}/{what}", data={"csrf": csrf_of(page.text), **data})
        assert answer.status_code == 303, (what, answer.text)
        assert answer.headers["location"] == f"{url}?note={what}"
    shown = client.get(url)
    assert "looked at the sender&#39;s history" in shown.text
    assert 'id="assignee">user:rita<' in shown.text
    assert 'id="outcome">violation<' in shown.text
    svc = svc_of(services)
    stored = svc.store.get(Case, "acme", case.id)
    assert stored is not None and stored.status == "decided"
    actions = svc.store.find(Action, "acme", key=case.id)
    assert [a.step for a in actions][:1] == ["warn"]
    assert actions[0].id in stored.actions
    assert actions[0].id in shown.text
    kinds = [e.kind for e in svc.store.audit.entries("acme", subject=case.id)]
    assert {"case.note", "case.assigned", "case.decided"} <= set(kinds)


def test_bad_changes_are_refused_with_a_sentence(
    services: Services, client: Browserish, accounts: Accounts, clock: Clock
) -> None:
    case = opened(services)
    signed_in(client, accounts, clock)
    url = f"/console/cases/acme/{case.id}"
    page = client.get(url)
    token = csrf_of(page.text)
    empty = client.post(f"{url}/note", data={"csrf": token, "text": "  "})
    assert empty.status_code == 400 and "A note needs text." in empty.text
    odd = client.post(f"{url}/decide", data={"csrf": token, "outcome": "guilty", "reason": "x"})
    assert odd.status_code == 400 and "violation or no_violation" in odd.text
    step = client.post(f"{url}/act", data={"csrf": token, "step": "banish", "reason": "x"})
    assert step.status_code == 400 and "Step must be one of" in step.text
    assert client.post(f"{url}/note", data={"text": "no token"}).status_code == 403


def test_appeal_is_decided_by_another_reviewer(
    services: Services, client: Browserish, accounts: Accounts, clock: Clock
) -> None:
    case = opened(services)
    svc = svc_of(services)
    svc.decide(
        Actor(id="user:rita", roles=frozenset({Role.REVIEWER})),
        "acme",
        case.id,
        "violation",
        "threat",
    )
    admin = Actor(id="key-acme", roles=frozenset({Role.TENANT_ADMIN}), tenant="acme")
    svc.appeal(admin, "acme", case.id, "it was a joke between friends")
    signed_in(client, accounts, clock)  # rita, who decided it
    url = f"/console/cases/acme/{case.id}"
    page = client.get(url)
    assert "it was a joke between friends" in page.text
    assert '<option value="upheld">' in page.text
    same = client.post(
        f"{url}/decide", data={"csrf": csrf_of(page.text), "outcome": "reversed", "reason": "ok"}
    )
    assert same.status_code == 403
    denied = svc.store.audit.entries("acme", kind="access.denied")
    assert [e.subject for e in denied] == [case.id]


def test_another_tenants_case_is_404_and_audited(
    services: Services, client: Browserish, accounts: Accounts, clock: Clock
) -> None:
    case = opened(services, "acme")
    signed_in(client, accounts, clock)
    assert client.get(f"/console/cases/globex/{case.id}").status_code == 404
    denied = svc_of(services).store.audit.entries("globex", kind="access.denied")
    assert [e.subject for e in denied] == [case.id]


def test_tenant_users_cannot_open_cases(
    services: Services, client: Browserish, accounts: Accounts, clock: Clock
) -> None:
    case = opened(services, "acme")
    sign_in(client, make_user(accounts, "tom", "acme", "tenant_admin"), clock)
    assert client.get("/console/cases").status_code == 403
    assert client.get(f"/console/cases/acme/{case.id}").status_code == 403


def test_legal_register_for_legal_staff_only(
    services: Services, client: Browserish, accounts: Accounts, clock: Clock
) -> None:
    sign_in(client, make_user(accounts, "lena", None, "legal"), clock)
    page = client.get("/console/legal")
    assert page.status_code == 200 and 'id="empty"' in page.text
    form = {
        "csrf": csrf_of(page.text),
        "tenant": "acme",
        "authority": "District Court",
        "basis": "subpoena 12-345",
        "scope": "subscriber records of +12025550143",
        "deadline": "2026-06-01",
    }
    naive = client.post("/console/legal", data=form)
    assert naive.status_code == 400 and "Deadline: give the deadline with a time zone" in naive.text
    assert 'value="District Court"' in naive.text  # the form keeps what was typed
    bad = client.post("/console/legal", data={**form, "deadline": "soon"})
    assert bad.status_code == 400 and "Deadline: a date and time" in bad.text
    done = client.post("/console/legal", data={**form, "deadline": "2026-06-03T17:00:00+00:00"})
    assert done.status_code == 303
    listed = client.get(done.headers["location"])
    assert "District Court" in listed.text and "subpoena 12-345" in listed.text
    assert "District Court" in client.get("/console/legal").text  # open ones, every tenant
    entries = svc_of(services).store.audit.entries("acme", kind="legal.registered")
    assert len(entries) == 1


def test_legal_register_refuses_others_and_audits(
    services: Services, client: Browserish, accounts: Accounts, clock: Clock
) -> None:
    signed_in(client, accounts, clock)  # a reviewer
    assert client.get("/console/legal").status_code == 403
    home = client.get("/console/")
    assert "Legal requests" not in home.text
    posted = client.post("/console/legal", data={"csrf": csrf_of(home.text), "tenant": "acme"})
    assert posted.status_code == 403
    denied = svc_of(services).store.audit.entries("_platform", kind="access.denied")
    assert len(denied) == 2
    assert all(e.actor == "user:rita" for e in denied)
