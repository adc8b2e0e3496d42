"""The held-message queue and the audit log over HTTP, as a reviewer's browser uses them."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest

from aupguard.actors import Actor, Role
from aupguard.api.delivery import gateway_for
from aupguard.api.routes.enforcement import enforcement
from aupguard.api.services import Services
from aupguard.console import Accounts
from aupguard.console.review import highlight
from aupguard.enforcement.records import Case
from aupguard.engine.events import OutboundMessage
from aupguard.outbox.model import Accept, MessageQuery, MessageRecord
from aupguard.outbox.store import MemoryMessageStore
from aupguard.service.gateway import prepare_send
from tests.console.conftest import Browserish, Clock, csrf_of, make_user, sign_in

THREAT = "Pay up or I will kill you. I know where you live."
HATE_FREE = "see you at the meeting on friday"


def send(services: Services, tenant: str, body: str, sender: str = "+12025550143") -> str:
    """A message sent through the gateway's send path (screened, recorded); its id."""
    gateway = services.component(gateway_for)
    actor = Actor(id=f"key-{tenant}", roles=frozenset({Role.SENDER}), tenant=tenant)
    event = OutboundMessage.model_validate({"from": sender, "to": "+14155550123", "body": body})
    prepared = prepare_send(gateway, services.screener, actor, event)
    gateway.store.accept(
        [Accept(prepared.tenant, prepared.record, prepared.message, prepared.outbox)],
        prepared.record.at,
    )
    assert prepared.message is not None
    return prepared.message.id


def held_store(services: Services) -> MemoryMessageStore:
    store = services.component(gateway_for).store
    assert isinstance(store, MemoryMessageStore)
    return store


@pytest.fixture
def reviewer(client: Browserish, accounts: Accounts, clock: Clock) -> Browserish:
    sign_in(client, make_user(accounts, "rita", None, "reviewer"), clock)
    return client


def review(client: Browserish, tenant: str, message_id: str, action: str) -> str:
    """Open the message, press the action, read the confirmation, confirm; the page after."""
    page = client.get(f"/console/queue/{tenant}/{message_id}")
    assert page.status_code == 200, page.text
    url = f"/console/queue/{tenant}/{message_id}/review"
    confirm = client.post(url, data={"csrf": csrf_of(page.text), "action": action, "note": "ok"})
    assert confirm.status_code == 200, confirm.text
    done = client.post(
        url,
        data={"csrf": csrf_of(confirm.text), "action": action, "note": "ok", "confirmed": "yes"},
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"/console/queue/next?note={action}"
    return confirm.text


def test_a_held_message_keeps_its_delivery_until_reviewed(services: Services) -> None:
    message_id = send(services, "acme", THREAT)
    store = held_store(services)
    assert store.messages[("acme", message_id)].status == "held"
    entry = store.held_entry("acme", message_id)
    assert entry is not None and entry.state == "held"
    assert entry.payload["body"] == THREAT
    assert entry.payload["hits"][0]["rule"] == "content.threat"
    assert store.claim(datetime.now(UTC), 10, timedelta(seconds=30)) == []  # never delivered


def test_highlight_replaces_spans_with_their_redacted_excerpts() -> None:
    hits = [
        {
            "rule": "r.one",
            "evidence": [
                {"field": "body", "start": 4, "end": 9, "excerpt": "k***l", "label": "threat"},
                {"field": "body", "start": 6, "end": 12, "excerpt": "x", "label": "overlap"},
                {"field": "to", "start": 0, "end": 2, "excerpt": "y", "label": "other field"},
                {"field": "body", "start": 40, "end": 90, "excerpt": "z", "label": "outside"},
            ],
        }
    ]
    segments = highlight("I'll kill you", hits)
    assert [(s.text, s.evidence) for s in segments] == [
        ("I'll", False),
        ("k***l", True),
        (" you", False),
    ]
    assert segments[1].label == "r.one: threat"


def test_queue_lists_held_messages_oldest_first_by_keyset(
    services: Services, reviewer: Browserish
) -> None:
    first = send(services, "acme", THREAT)
    send(services, "acme", HATE_FREE)  # allowed: not in the queue
    second = send(services, "globex", THREAT, sender="+12025550199")
    page = reviewer.get("/console/queue")
    assert page.status_code == 200
    assert page.text.index(first) < page.text.index(second)
    assert "content.threat" in page.text
    only = reviewer.get("/console/queue?tenant=globex")
    assert second in only.text and first not in only.text
    # the keyset cursor: after the first message only the second one is left
    store = held_store(services)
    m = store.messages[("acme", first)]
    micros = (m.created_at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    rest = reviewer.get(f"/console/queue?after={micros}-{first}")
    assert second in rest.text and first not in rest.text
    bad = reviewer.get("/console/queue?after=yesterday")
    assert bad.status_code == 400
    assert "after" in bad.text


def test_queue_pages_follow_the_cursor(services: Services) -> None:
    store = held_store(services)
    base = datetime(2026, 6, 1, tzinfo=UTC)
    for i in range(7):
        at = base + timedelta(seconds=i // 2)  # two messages share each time stamp
        store.messages[("t", f"SM{i:032d}")] = MessageRecord(
            id=f"SM{i:032d}", tenant="t", created_at=at, updated_at=at, status="held",
            channel="sms", sender="+1", recipient="+2", verdict="hold",
        )  # fmt: skip
    seen: list[str] = []
    after = None
    while True:
        page = store.find_messages(
            MessageQuery(statuses=("held",), limit=3, after=after, oldest_first=True)
        )
        if not page:
            break
        seen.extend(m.id for m in page)
        after = (page[-1].created_at, page[-1].id)
    assert seen == [f"SM{i:032d}" for i in range(7)]


def test_release_queues_the_message_and_writes_case_and_audit(
    services: Services, reviewer: Browserish
) -> None:
    message_id = send(services, "acme", THREAT)
    send(services, "acme", HATE_FREE)  # the sender's history
    item = reviewer.get(f"/console/queue/acme/{message_id}")
    # each evidence span is marked, shown as the excerpt the decision stored
    entry = held_store(services).held_entry("acme", message_id)
    assert entry is not None
    excerpt = entry.payload["hits"][0]["evidence"][0]["excerpt"]
    assert '<mark title="content.threat: ' in item.text
    assert f">{html.escape(excerpt)}</mark>" in item.text
    assert "W3" in item.text and "content.threat" in item.text
    assert 'accesskey="r"' in item.text and 'accesskey="b"' in item.text
    assert "No other messages" not in item.text  # the allowed one is in the history
    confirm = review(reviewer, "acme", message_id, "release")
    assert "queued for delivery" in html.unescape(confirm)
    store = held_store(services)
    assert store.messages[("acme", message_id)].status == "queued"
    due = store.claim(datetime.now(UTC) + timedelta(seconds=1), 10, timedelta(seconds=30))
    released = [e for e in due if e.message_id == message_id]
    assert len(released) == 1 and len(due) == 2  # with the allowed message
    assert released[0].payload["body"] == THREAT
    svc = services.component(enforcement)
    cases = svc.store.find(Case, "acme", key="hits:content")
    assert len(cases) == 1
    assert cases[0].evidence[-1]["message"] == message_id
    assert "release of held message" in cases[0].notes[-1].text
    entries = svc.store.audit.entries("acme", kind="review.release")
    assert [e.subject for e in entries] == [message_id]
    assert entries[0].actor == "user:rita"
    # done: the queue is empty and says so; reviewing again is refused
    empty = reviewer.get("/console/queue/next?note=release")
    assert empty.headers["location"] == "/console/queue?note=release"
    again = reviewer.get(f"/console/queue/acme/{message_id}")
    assert 'id="actions"' not in again.text
    page = reviewer.get(f"/console/queue/acme/{message_id}")
    late = reviewer.post(
        f"/console/queue/acme/{message_id}/review",
        data={"csrf": csrf_of(page.text), "action": "block", "confirmed": "yes"},
    )
    assert late.status_code == 409


def test_block_drops_the_body_and_joins_the_same_case(
    services: Services, reviewer: Browserish
) -> None:
    one = send(services, "acme", THREAT)
    two = send(services, "acme", THREAT + " Really.")
    review(reviewer, "acme", one, "release")
    confirm = review(reviewer, "acme", two, "block")
    assert "never sent" in confirm
    store = held_store(services)
    assert store.messages[("acme", two)].status == "blocked"
    assert store.held_entry("acme", two) is None
    assert all(e.payload == {} for e in store.outbox.values() if e.message_id == two)
    svc = services.component(enforcement)
    (case,) = svc.store.find(Case, "acme", key="hits:content")
    assert [e["message"] for e in case.evidence] == [one, two]
    shown = reviewer.get(f"/console/queue/acme/{two}")
    assert "The body is not kept any more" in shown.text
    assert case.id in shown.text


def test_escalate_keeps_the_message_held(services: Services, reviewer: Browserish) -> None:
    message_id = send(services, "acme", THREAT)
    review(reviewer, "acme", message_id, "escalate")
    assert held_store(services).messages[("acme", message_id)].status == "held"
    svc = services.component(enforcement)
    assert [e.subject for e in svc.store.audit.entries("acme", kind="review.escalate")] == [
        message_id
    ]
    nxt = reviewer.get("/console/queue/next?note=escalate")
    assert nxt.headers["location"] == f"/console/queue/acme/{message_id}?note=escalate"


def test_another_tenants_message_is_404_and_audited(
    services: Services, reviewer: Browserish
) -> None:
    message_id = send(services, "acme", THREAT)
    edited = reviewer.get(f"/console/queue/globex/{message_id}")
    assert edited.status_code == 404
    svc = services.component(enforcement)
    denied = svc.store.audit.entries("globex", kind="access.denied")
    assert [e.subject for e in denied] == [message_id]


def test_review_needs_csrf_a_known_action_and_the_role(
    services: Services, client: Browserish, accounts: Accounts, clock: Clock
) -> None:
    message_id = send(services, "acme", THREAT)
    sign_in(client, make_user(accounts, "tom", "acme", "tenant_admin"), clock)
    assert client.get("/console/queue").status_code == 403
    assert client.get(f"/console/queue/acme/{message_id}").status_code == 403
    home = client.get("/console/")
    posted = client.post(
        f"/console/queue/acme/{message_id}/review",
        data={"csrf": csrf_of(home.text), "action": "release", "confirmed": "yes"},
    )
    assert posted.status_code == 403
    assert held_store(services).messages[("acme", message_id)].status == "held"


def test_review_refuses_missing_csrf_and_unknown_actions(
    services: Services, reviewer: Browserish
) -> None:
    message_id = send(services, "acme", THREAT)
    url = f"/console/queue/acme/{message_id}/review"
    no_token = reviewer.post(url, data={"action": "release", "confirmed": "yes"})
    assert no_token.status_code == 403
    page = reviewer.get(f"/console/queue/acme/{message_id}")
    odd = reviewer.post(url, data={"csrf": csrf_of(page.text), "action": "delete"})
    assert odd.status_code == 400
    assert "release, block or escalate" in odd.text
    assert held_store(services).messages[("acme", message_id)].status == "held"


def test_xss_in_a_held_body_is_escaped(services: Services, reviewer: Browserish) -> None:
    body = THREAT + ' <script>alert(1)</script> "onmouseover="alert(2)'
    message_id = send(services, "acme", body)
    page = reviewer.get(f"/console/queue/acme/{message_id}")
    assert "<script>alert(1)" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert '"onmouseover="' not in page.text


def test_audit_log_lists_entries_and_verifies_the_chain(
    services: Services, reviewer: Browserish
) -> None:
    message_id = send(services, "acme", THREAT)
    review(reviewer, "acme", message_id, "release")
    page = reviewer.get("/console/audit?tenant=acme")
    assert page.status_code == 200
    assert "review.release" in page.text and message_id in page.text
    assert "case.opened" in page.text
    kinds = reviewer.get("/console/audit?kind=review.release")
    assert kinds.text.count("<code>review.release</code>") == 1
    verified = reviewer.post("/console/audit/verify", data={"csrf": csrf_of(page.text)})
    assert verified.status_code == 200
    assert re.search(r"The chain verifies: \d+ entries", verified.text)
    log = services.component(enforcement).store.audit
    first = log.recent(limit=1)[0]
    older = reviewer.get(f"/console/audit?before={first.seq}")
    assert f"<td>{first.seq}</td>" not in older.text
    assert reviewer.get("/console/audit?before=x").status_code == 400


def test_audit_log_reports_a_broken_chain(services: Services, reviewer: Browserish) -> None:
    from dataclasses import replace

    from aupguard.audit.log import MemoryAuditLog

    message_id = send(services, "acme", THREAT)
    review(reviewer, "acme", message_id, "block")
    log = services.component(enforcement).store.audit
    assert isinstance(log, MemoryAuditLog)
    entry = log.recent(limit=1)[0]
    log.tamper(entry.seq, replace(entry, payload={**entry.payload, "status": "queued"}))
    page = reviewer.get("/console/audit")
    broken = reviewer.post("/console/audit/verify", data={"csrf": csrf_of(page.text)})
    assert f"The chain is broken at seq {entry.seq}" in broken.text


def test_bulk_action_over_a_filter_confirms_then_acts_on_each(
    services: Services, reviewer: Browserish
) -> None:
    threats = [send(services, "acme", THREAT + f" ({i})") for i in range(3)]
    other_rule = send(services, "acme", "nobody loves you, just kys")  # content.harassment
    elsewhere = send(services, "globex", THREAT)
    page = reviewer.get("/console/queue?tenant=acme&rule=content.threat")
    assert all(t in page.text for t in threats) and other_rule not in page.text
    assert 'id="bulk"' in page.text
    form = {"csrf": csrf_of(page.text), "tenant": "acme", "rule": "content.threat"}
    confirm = reviewer.post("/console/queue/bulk", data={**form, "action": "block"})
    assert confirm.status_code == 200
    assert "Block the 3 oldest held message(s) of acme held by content.threat" in html.unescape(
        confirm.text
    )
    store = held_store(services)
    assert all(store.messages[("acme", t)].status == "held" for t in threats)  # not yet
    done = reviewer.post(
        "/console/queue/bulk", data={**form, "action": "block", "confirmed": "yes"}
    )
    assert done.status_code == 303
    assert done.headers["location"] == (
        "/console/queue?tenant=acme&rule=content.threat&note=bulk&done=3"
    )
    assert all(store.messages[("acme", t)].status == "blocked" for t in threats)
    assert store.messages[("acme", other_rule)].status == "held"
    assert store.messages[("globex", elsewhere)].status == "held"
    entries = services.component(enforcement).store.audit.entries("acme", kind="review.block")
    assert sorted(e.subject for e in entries) == sorted(threats)
    assert "Done for 3 message(s)." in reviewer.get(done.headers["location"]).text
    missing = reviewer.post("/console/queue/bulk", data={**form, "tenant": "", "action": "block"})
    assert missing.status_code == 400
    no_token = reviewer.post("/console/queue/bulk", data={"tenant": "acme", "action": "block"})
    assert no_token.status_code == 403
