"""The customer view: a tenant's blocked and held messages with reason and clause, the
consent ledger search, and appeals."""

from __future__ import annotations

from datetime import UTC, datetime

from aupguard.actors import Actor, Role
from aupguard.api.routes.enforcement import enforcement
from aupguard.api.services import Services
from aupguard.consent.model import ConsentEvent, ConsentKind
from aupguard.console import Accounts
from aupguard.console.app import consent_ledger
from aupguard.enforcement.records import Case
from tests.console.conftest import Browserish, Clock, csrf_of, make_user, sign_in
from tests.console.test_review import THREAT, send

PHISH = "Your parcel is held, pay the fee at hxxp://dhl-track[.]top/pay"
REVIEWER = Actor(id="user:rita", roles=frozenset({Role.REVIEWER}))


def test_a_tenant_sees_its_blocked_and_held_messages_with_clauses(
    services: Services, client: Browserish, accounts: Accounts, clock: Clock
) -> None:
    blocked = send(services, "acme", PHISH)
    held = send(services, "acme", THREAT)
    other = send(services, "globex", PHISH)
    send(services, "acme", "see you at the meeting on friday")  # allowed: not listed
    sign_in(client, make_user(accounts, "vic", "acme", "viewer"), clock)
    page = client.get("/console/my-messages")
    assert page.status_code == 200
    assert blocked in page.text and held in page.text and other not in page.text
    assert "Threat of violence" in page.text and "W3" in page.text
    assert "Decisions you can appeal" not in page.text  # a viewer cannot appeal
    detail = client.get(f"/console/my-messages/{blocked}")
    assert detail.status_code == 200 and 'id="status">blocked<' in detail.text
    store = services.component(enforcement).store
    assert client.get(f"/console/my-messages/{other}").status_code == 404
    denied = store.audit.entries("acme", kind="access.denied")
    assert [e.subject for e in denied] == [other]
    assert client.get("/console/queue").status_code == 403
    assert client.get("/console/my-messages?after=nonsense").status_code == 400


def test_staff_have_no_customer_view(
    services: Services, client: Browserish, accounts: Accounts, clock: Clock
) -> None:
    sign_in(client, make_user(accounts, "rita", None, "reviewer"), clock)
    assert client.get("/console/my-messages").status_code == 403


def test_consent_ledger_search(
    services: Services, client: Browserish, accounts: Accounts, clock: Clock
) -> None:
    ledger = services.component(consent_ledger)
    at = datetime(2026, 5, 1, 10, tzinfo=UTC)
    ledger.append(
        [
            ConsentEvent(tenant="acme", recipient="+14155550123", kind=ConsentKind.OPT_IN, at=at,
                         wording="Reply YES for <b>offers</b>"),
            ConsentEvent(tenant="globex", recipient="+14155550123", kind=ConsentKind.OPT_OUT, at=at),
        ]
    )  # fmt: skip
    sign_in(client, make_user(accounts, "vic", "acme", "viewer"), clock)
    found = client.get("/console/my-messages?number=%2B1%20415%20555%200123")
    assert "opt_in" in found.text and "opt_out" not in found.text
    assert "Reply YES for &lt;b&gt;offers&lt;/b&gt;" in found.text
    none = client.get("/console/my-messages?number=%2B14155550199")
    assert "No consent records for +14155550199" in none.text


def test_a_tenant_admin_appeals_a_decided_case(
    services: Services, client: Browserish, accounts: Accounts, clock: Clock
) -> None:
    svc = services.component(enforcement)
    case, _ = svc.open_case(REVIEWER, "acme", "rule_hits", "hits of content.* rules")
    svc.decide(REVIEWER, "acme", case.id, "violation", "threats")
    sign_in(client, make_user(accounts, "ann", "acme", "tenant_admin"), clock)
    page = client.get("/console/my-messages")
    assert f'id="appeal-{case.id}"' in page.text
    empty = client.post(
        "/console/my-messages/appeal", data={"csrf": csrf_of(page.text), "case": case.id}
    )
    assert empty.status_code == 400 and "An appeal needs a reason." in empty.text
    done = client.post(
        "/console/my-messages/appeal",
        data={"csrf": csrf_of(page.text), "case": case.id, "reason": "a quote from a film"},
    )
    assert done.status_code == 303
    stored = svc.store.get(Case, "acme", case.id)
    assert stored is not None and stored.status == "appealed"
    after = client.get(done.headers["location"])
    assert "Your appeal was filed" in after.text and f'id="appeal-{case.id}"' not in after.text
    again = client.post(
        "/console/my-messages/appeal",
        data={"csrf": csrf_of(after.text), "case": case.id, "reason": "again"},
    )
    assert again.status_code == 400
    elsewhere = client.post(
        "/console/my-messages/appeal",
        data={"csrf": csrf_of(after.text), "case": "case-of-globex", "reason": "x"},
    )
    assert elsewhere.status_code == 404
