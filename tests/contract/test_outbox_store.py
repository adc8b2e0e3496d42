"""The message store contract (messages, decisions, outbox, idempotency keys),
run against memory, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from aupguard.outbox.model import (
    Accept,
    DecisionQuery,
    DecisionRecord,
    IdempotencyEntry,
    MessageQuery,
    MessageRecord,
    OutboxEntry,
    new_id,
)
from aupguard.outbox.sql import SqlMessageStore
from aupguard.outbox.store import MemoryMessageStore, MessageStore
from aupguard.outbox.worker import callback_entry
from aupguard.store.db import Database
from aupguard.store.migrate import upgrade
from tests.services import postgres_database

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MessageStore]:
    if request.param == "memory":
        yield MemoryMessageStore()
        return
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'outbox.sqlite'}")
        upgrade(db)
        yield SqlMessageStore(db)
        db.dispose()
        return
    with postgres_database() as url:
        db = Database(url)
        upgrade(db)
        yield SqlMessageStore(db)
        db.dispose()


def accept(
    tenant: str = "acme",
    *,
    at: datetime = T0,
    verdict: str = "allow",
    rules: tuple[str, ...] = (),
    clauses: tuple[str, ...] = (),
    key: str | None = None,
    digest: str = "h1",
    deliver: bool = True,
    sender: str = "+12025550143",
) -> Accept:
    message_id = new_id("SM")
    message = MessageRecord(
        id=message_id,
        tenant=tenant,
        created_at=at,
        updated_at=at,
        status={"allow": "queued", "hold": "held"}.get(verdict, "blocked"),
        channel="sms",
        sender=sender,
        recipient="+14155550123",
        verdict=verdict,
        rules=rules,
        clauses=clauses,
        status_callback="https://example.test/cb",
    )
    decision = DecisionRecord(
        id=new_id("DC"),
        tenant=tenant,
        at=at,
        kind="message",
        verdict=verdict,
        rules=rules,
        clauses=clauses,
        message_id=message_id,
    )
    outbox = (
        (
            OutboxEntry(
                id=new_id("OB"),
                tenant=tenant,
                message_id=message_id,
                kind="deliver",
                payload={"to": "+14155550123", "body": "hi"},
                created_at=at,
                next_attempt_at=at,
            ),
        )
        if deliver
        else ()
    )
    idem = (
        IdempotencyEntry(key, digest, 202, b'{"id":"' + message_id.encode() + b'"}', message_id, at)
        if key
        else None
    )
    return Accept(tenant, decision, message, outbox, idem)


def test_an_accepted_message_reads_back_for_its_tenant_only(store: MessageStore) -> None:
    item = accept()
    assert [a.outcome for a in store.accept([item], T0)] == ["written"]
    assert item.message is not None
    assert store.message("acme", item.message.id) == item.message
    assert store.message("globex", item.message.id) is None  # another tenant's id


def test_a_batch_is_written_whole(store: MessageStore) -> None:
    items = [accept(at=T0 + timedelta(seconds=i)) for i in range(50)]
    assert all(a.outcome == "written" for a in store.accept(items, T0))
    assert store.pending() == 50


def test_idempotency_replays_the_same_body_and_refuses_another(store: MessageStore) -> None:
    first = accept(key="k", digest="same")
    store.accept([first], T0)
    replay, conflict = store.accept(
        [accept(key="k", digest="same"), accept(key="k", digest="other")], T0
    )
    assert replay.outcome == "replay"
    assert replay.earlier is not None and first.message is not None
    assert replay.earlier.message_id == first.message.id
    assert replay.earlier.status == 202
    assert conflict.outcome == "conflict"
    assert store.pending() == 1  # nothing enqueued twice
    # another tenant's key of the same name is its own
    assert store.accept([accept("globex", key="k", digest="other")], T0)[0].outcome == "written"


def test_the_same_key_twice_in_one_batch_is_written_once(store: MessageStore) -> None:
    results = store.accept([accept(key="b", digest="x"), accept(key="b", digest="x")], T0)
    assert [r.outcome for r in results] == ["written", "replay"]
    assert store.pending() == 1


def test_keys_expire_after_24_hours(store: MessageStore) -> None:
    store.accept([accept(key="old", digest="a")], T0)
    later = T0 + timedelta(hours=24, seconds=1)
    assert store.accept([accept(key="old", digest="b", at=later)], later)[0].outcome == "written"
    store.accept([accept(key="gone", digest="a")], T0)
    assert store.purge(later) >= 1


def test_a_kept_answer_reads_back_for_its_tenant_until_it_expires(store: MessageStore) -> None:
    assert store.kept("acme", "k", T0) is None
    first = accept(key="k", digest="same")
    store.accept([first], T0)
    found = store.kept("acme", "k", T0 + timedelta(hours=23))
    assert found is not None and first.message is not None
    assert (found.request_hash, found.status, found.message_id) == ("same", 202, first.message.id)
    assert store.kept("globex", "k", T0) is None  # another tenant's key
    assert store.kept("acme", "k", T0 + timedelta(hours=24, seconds=1)) is None


def test_decisions_filter_and_page_newest_first(store: MessageStore) -> None:
    store.accept(
        [
            accept(at=T0, verdict="block", rules=("consent.opted_out",), clauses=("P28", "V4")),
            accept(at=T0 + timedelta(minutes=1)),
            accept(at=T0 + timedelta(minutes=2), verdict="block", rules=("a_b",), clauses=("P2",)),
            accept("globex", at=T0, verdict="block", rules=("consent.opted_out",)),
        ],
        T0,
    )
    everything = store.decisions("acme", DecisionQuery())
    assert [d.at for d in everything] == sorted((d.at for d in everything), reverse=True)
    assert len(everything) == 3
    blocked = store.decisions("acme", DecisionQuery(verdict="block"))
    assert len(blocked) == 2
    assert [d.rules for d in store.decisions("acme", DecisionQuery(rule="consent.opted_out"))] == [
        ("consent.opted_out",)
    ]
    # "_" is not a wildcard: a_b matches itself only
    assert len(store.decisions("acme", DecisionQuery(rule="a_b"))) == 1
    assert len(store.decisions("acme", DecisionQuery(rule="aXb"))) == 0
    assert len(store.decisions("acme", DecisionQuery(clause="V4"))) == 1
    assert len(store.decisions("acme", DecisionQuery(clause="P2"))) == 1  # not P28
    window = DecisionQuery(since=T0 + timedelta(seconds=30), until=T0 + timedelta(minutes=2))
    assert len(store.decisions("acme", window)) == 1
    first = store.decisions("acme", DecisionQuery(limit=2))
    rest = store.decisions("acme", DecisionQuery(limit=2, after=(first[-1].at, first[-1].id)))
    assert len(first) == 2 and len(rest) == 1
    assert {d.id for d in first} | {d.id for d in rest} == {d.id for d in everything}


def shadowed(
    tenant: str, at: datetime, verdict: str, shadow: tuple[str, ...], changes: tuple[str, ...]
) -> Accept:
    item = accept(tenant, at=at, verdict=verdict)
    decision = replace(item.decision, shadow=shadow, shadow_changes=changes)
    return replace(item, decision=decision)


def test_shadow_hits_per_day_and_rule_with_the_verdicts_they_would_change(
    store: MessageStore,
) -> None:
    day = T0.date()
    store.accept(
        [
            shadowed("acme", T0, "allow", ("brand.link",), ("brand.link",)),
            shadowed(
                "globex", T0 + timedelta(minutes=1), "allow", ("brand.link",), ("brand.link",)
            ),
            shadowed("acme", T0, "block", ("brand.link", "x_y"), ()),  # blocked already
            shadowed("acme", T0 + timedelta(days=1), "allow", ("brand.link",), ("brand.link",)),
            shadowed("acme", T0 - timedelta(days=2), "allow", ("brand.link",), ("brand.link",)),
            accept("acme", at=T0, verdict="hold", rules=("brand.link",)),  # enforced: not shadow
        ],
        T0,
    )
    hits = sorted(store.shadow_hits(datetime(2026, 3, 1, tzinfo=UTC)))
    assert hits == [
        (day, "brand.link", 3, 2),
        (day, "x_y", 1, 0),
        (day + timedelta(days=1), "brand.link", 1, 1),
    ]
    examples = store.shadow_examples("brand.link", datetime(2026, 3, 1, tzinfo=UTC), 2)
    assert [(d.tenant, d.at) for d in examples] == [
        ("acme", T0 + timedelta(days=1)),
        ("globex", T0 + timedelta(minutes=1)),
    ]
    assert all(d.message_id and "brand.link" in d.shadow_changes for d in examples)
    assert store.shadow_examples("x_y", datetime(2026, 3, 1, tzinfo=UTC), 5) == []
    # "_" is not a wildcard
    assert store.shadow_examples("brand_link", datetime(2026, 2, 1, tzinfo=UTC), 5) == []
    read = store.decisions("acme", DecisionQuery(verdict="block"))
    assert [(d.shadow, d.shadow_changes) for d in read] == [(("brand.link", "x_y"), ())]


def test_claim_leases_each_due_entry_to_one_worker(store: MessageStore) -> None:
    store.accept([accept() for _ in range(3)], T0)
    first = store.claim(T0, 2, LEASE)
    second = store.claim(T0, 10, LEASE)
    assert len(first) == 2 and len(second) == 1
    assert {e.id for e in first}.isdisjoint({e.id for e in second})
    assert all(e.attempts == 1 for e in first + second)
    assert store.claim(T0 + timedelta(seconds=5), 10, LEASE) == []
    # a lease that ran out (the worker died) makes the entry due again
    again = store.claim(T0 + LEASE, 10, LEASE)
    assert len(again) == 3
    assert all(e.attempts == 2 for e in again)


def test_settle_marks_done_updates_the_message_and_enqueues_follow_ups(
    store: MessageStore,
) -> None:
    item = accept()
    store.accept([item], T0)
    (entry,) = store.claim(T0, 10, LEASE)
    callback = OutboxEntry(
        id=new_id("CB"),
        tenant="acme",
        message_id=entry.message_id,
        kind="callback",
        payload={"url": "https://example.test/cb", "params": {"MessageStatus": "sent"}},
        created_at=T0,
        next_attempt_at=T0,
    )
    store.settle(entry, T0, "done", None, ("sent", None), [callback])
    message = store.message("acme", entry.message_id)
    assert message is not None and message.status == "sent"
    (follow,) = store.claim(T0, 10, LEASE)
    assert follow.kind == "callback"
    assert follow.payload["params"] == {"MessageStatus": "sent"}
    assert store.pending() == 1


def test_reschedule_and_dead_letters(store: MessageStore) -> None:
    store.accept([accept()], T0)
    (entry,) = store.claim(T0, 10, LEASE)
    store.reschedule(entry, T0 + timedelta(seconds=4), "ConnectionError: down")
    assert store.claim(T0 + timedelta(seconds=3), 10, LEASE) == []
    (again,) = store.claim(T0 + timedelta(seconds=4), 10, LEASE)
    assert again.last_error == "ConnectionError: down"
    store.settle(again, T0, "dead", "gave up", ("failed", 30008))
    assert store.pending() == 0
    (dead,) = store.dead_letters("acme")
    assert dead.last_error == "gave up"
    assert dead.payload["body"] == "hi"  # kept for a replay by hand
    assert store.dead_letters("globex") == []
    message = store.message("acme", entry.message_id)
    assert message is not None and (message.status, message.error_code) == ("failed", 30008)


def test_a_delivery_receipt_updates_the_tenants_message_only(store: MessageStore) -> None:
    item = accept()
    store.accept([item], T0)
    assert item.message is not None
    assert store.update_status("globex", item.message.id, ("delivered", None), T0) is None
    updated = store.update_status("acme", item.message.id, ("delivered", None), T0)
    assert updated is not None and updated.status == "delivered"


def held(tenant: str = "acme", *, at: datetime = T0, sender: str = "+12025550143") -> Accept:
    """A held message with its held delivery (body and evidence), as the gateway writes it."""
    item = accept(
        tenant, at=at, verdict="hold", rules=("content.threat",), clauses=("W3",), sender=sender
    )
    payload = {"from": sender, "to": "+14155550123", "body": "the body", "hits": []}
    return replace(item, outbox=(replace(item.outbox[0], state="held", payload=payload),))


def test_held_messages_page_by_keyset_across_tenants(store: MessageStore) -> None:
    batch = [
        held("acme" if i % 2 else "globex", at=T0 + timedelta(seconds=i // 3)) for i in range(8)
    ]
    store.accept([*batch, accept()], T0)
    expected = sorted(
        ((b.message.created_at, b.message.id) for b in batch if b.message), key=lambda k: k
    )
    seen: list[tuple[datetime, str]] = []
    after = None
    while page := store.find_messages(
        MessageQuery(statuses=("held",), limit=3, after=after, oldest_first=True)
    ):
        seen.extend((m.created_at, m.id) for m in page)
        after = seen[-1]
    assert seen == expected
    acme = store.find_messages(MessageQuery(tenant="acme", statuses=("held",), limit=50))
    assert len(acme) == 4 and all(m.tenant == "acme" for m in acme)
    assert [m.created_at for m in acme] == sorted((m.created_at for m in acme), reverse=True)
    newest_first = store.find_messages(
        MessageQuery(
            tenant="acme", statuses=("held",), limit=50, after=(acme[1].created_at, acme[1].id)
        )
    )
    assert [m.id for m in newest_first] == [m.id for m in acme[2:]]


def test_a_held_delivery_waits_for_review(store: MessageStore) -> None:
    one, two = held(), held()
    store.accept([one, two], T0)
    assert one.message is not None and two.message is not None
    assert store.claim(T0 + timedelta(hours=1), 10, LEASE) == []
    entry = store.held_entry("acme", one.message.id)
    assert entry is not None and entry.payload["body"] == "the body"
    assert store.held_entry("globex", one.message.id) is None
    released = store.review("acme", one.message.id, "release", T0 + timedelta(minutes=5))
    assert released is not None and released.status == "queued"
    assert store.review("acme", one.message.id, "block", T0) is None  # reviewed already
    assert store.review("globex", two.message.id, "release", T0) is None  # another tenant's
    claimed = store.claim(T0 + timedelta(minutes=5), 10, LEASE)
    assert [e.message_id for e in claimed] == [one.message.id]
    assert claimed[0].payload["body"] == "the body"
    blocked = store.review("acme", two.message.id, "block", T0 + timedelta(minutes=6))
    assert blocked is not None and blocked.status == "blocked"
    assert store.held_entry("acme", two.message.id) is None
    assert store.claim(T0 + timedelta(minutes=5, seconds=10), 10, LEASE) == []  # leased
    assert store.pending() == 1  # the released one, leased


def test_a_senders_history(store: MessageStore) -> None:
    store.accept(
        [held(at=T0 + timedelta(seconds=i), sender="+1202555010" + str(i % 2)) for i in range(5)],
        T0,
    )
    mine = store.find_messages(MessageQuery(tenant="acme", sender="+12025550100", limit=10))
    assert len(mine) == 3 and all(m.sender == "+12025550100" for m in mine)


def test_rule_hits_per_utc_day(store: MessageStore) -> None:
    midnight = datetime(2026, 3, 2, tzinfo=UTC)
    store.accept(
        [
            accept(at=midnight - timedelta(minutes=1), verdict="block", rules=("a.one", "b.two")),
            accept(at=midnight + timedelta(minutes=1), verdict="block", rules=("a.one",)),
            accept(at=midnight + timedelta(minutes=2), verdict="block", rules=("a.one",)),
            accept(at=midnight + timedelta(minutes=3)),  # no rule
            accept(at=midnight - timedelta(days=5), verdict="block", rules=("a.one",)),  # too old
        ],
        midnight,
    )
    hits = sorted(store.rule_hits(midnight - timedelta(days=1)))
    assert hits == [
        (date(2026, 3, 1), "a.one", 1),
        (date(2026, 3, 1), "b.two", 1),
        (date(2026, 3, 2), "a.one", 2),
    ]


def test_a_receipt_enqueues_its_callback_with_it_and_only_for_a_known_message(
    store: MessageStore,
) -> None:
    item = accept(deliver=False)
    store.accept([item], T0)
    assert item.message is not None
    callback = callback_entry("acme", item.message.id, "https://example.test/cb", {"a": "b"}, T0)
    assert store.update_status("globex", item.message.id, ("sent", None), T0, [callback]) is None
    assert store.pending() == 0  # nothing enqueued for a message of another tenant
    store.update_status("acme", item.message.id, ("sent", None), T0, [callback])
    (claimed,) = store.claim(T0, 10, LEASE)
    assert (claimed.kind, claimed.payload["params"]) == ("callback", {"a": "b"})
