"""The enforcement record-store contract: one suite for memory, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aupguard.audit import AuditDraft, MemoryAuditLog, verify_log
from aupguard.audit.sql import SqlAuditLog
from aupguard.enforcement.records import Case, ContentItem, Incident, IncidentNote, Standing
from aupguard.enforcement.sql import SqlRecordStore
from aupguard.enforcement.store import MemoryRecordStore, RecordStore
from aupguard.store.db import Database
from aupguard.store.migrate import upgrade
from tests.services import postgres_database

T0 = datetime(2026, 6, 2, 16, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RecordStore]:
    if request.param == "memory":
        yield MemoryRecordStore(MemoryAuditLog())
        return
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'records.sqlite'}")
        upgrade(db)
        yield SqlRecordStore(db, SqlAuditLog(db))
        db.dispose()
        return
    with postgres_database() as url:
        db = Database(url)
        upgrade(db)
        yield SqlRecordStore(db, SqlAuditLog(db))
        db.dispose()


def case(
    tenant: str, id_: str, *, due: timedelta = timedelta(hours=72), dedupe: str | None = None
) -> Case:
    return Case(
        tenant=tenant,
        id=id_,
        created=T0,
        updated=T0,
        type="robocall_complaint",
        subject="complaint",
        opened=T0,
        due=T0 + due,
        dedupe=dedupe,
    )


def test_records_round_trip_with_their_audit_entry(store: RecordStore) -> None:
    entries = store.put(
        [case("acme", "c1")], [AuditDraft("acme", "ann", "case.opened", "c1", {"x": 1})]
    )
    assert [e.seq for e in entries] == [1]
    found = store.get(Case, "acme", "c1")
    assert found == case("acme", "c1")
    assert store.audit.entries("acme")[0].subject == "c1"
    assert verify_log(store.audit).ok


def test_another_tenants_records_cannot_be_read(store: RecordStore) -> None:
    store.put([case("acme", "c1"), case("globex", "c2")])
    assert store.get(Case, "globex", "c1") is None
    assert store.get(Case, "acme", "c2") is None
    assert [c.id for c in store.find(Case, "acme")] == ["c1"]
    assert [c.id for c in store.find(Case, "globex")] == ["c2"]
    assert store.find(Case, "initech") == []
    assert store.delete(Case, "globex", ["c1"]) == 0
    assert store.get(Case, "acme", "c1") is not None


def test_kinds_do_not_mix(store: RecordStore) -> None:
    store.put([case("acme", "x")])
    assert store.get(Standing, "acme", "x") is None
    assert store.find(ContentItem, "acme") == []


def test_find_by_status_key_and_due(store: RecordStore) -> None:
    soon = case("acme", "c1", due=timedelta(hours=24), dedupe="report:url:a")
    later = case("globex", "c2", due=timedelta(days=5))
    decided = case("acme", "c3", due=timedelta(hours=1)).model_copy(update={"status": "decided"})
    store.put([soon, later, decided])
    assert [c.id for c in store.find(Case, "acme", key="report:url:a")] == ["c1"]
    assert [c.id for c in store.find(Case, "acme", status="decided")] == ["c3"]
    overdue = store.find_any(Case, due_before=T0 + timedelta(hours=25))
    assert [c.id for c in overdue] == ["c1"]  # a decided case has no clock
    assert {c.id for c in store.find_any(Case)} == {"c1", "c2", "c3"}


def test_put_replaces_and_delete_writes_progress_with_it(store: RecordStore) -> None:
    store.put([case("acme", "c1")])
    store.put([case("acme", "c1").model_copy(update={"assignee": "bob"})])
    assert store.get(Case, "acme", "c1") is not None
    assert store.get(Case, "acme", "c1").assignee == "bob"  # type: ignore[union-attr]
    gone = store.delete(
        Case,
        "acme",
        ["c1"],
        audit=[AuditDraft("acme", "ann", "case.deleted", "c1", {})],
        put=[case("acme", "c9")],
    )
    assert gone == 1
    assert store.get(Case, "acme", "c1") is None
    assert store.get(Case, "acme", "c9") is not None
    assert [e.kind for e in store.audit.entries("acme")] == ["case.deleted"]


def test_a_failing_audit_append_leaves_no_record(
    store: RecordStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    if isinstance(store, MemoryRecordStore):
        return  # the memory store cannot fail halfway

    def broken(*_: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(store.audit, "append_in", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        store.put([case("acme", "c1")], [AuditDraft("acme", "ann", "case.opened", "c1", {})])
    monkeypatch.undo()
    assert store.get(Case, "acme", "c1") is None
    assert store.audit.entries("acme") == []


def test_incidents_round_trip_and_are_found_by_status_and_dedupe_per_tenant(
    store: RecordStore,
) -> None:
    def incident(tenant: str, id_: str, status: str, dedupe: str | None) -> Incident:
        return Incident(
            tenant=tenant,
            id=id_,
            created=T0,
            updated=T0,
            kind="credential_compromise",
            severity="high",
            description="a key in clear",
            source="detector",
            reported_by="system:enforcement",
            detected_at=T0,
            reported_at=T0,
            keys=("0f1e2d3c4b5a6978",),
            status=status,
            contained_at=T0 if status != "open" else None,
            notes=(IncidentNote(at=T0, by="ann", text="rotated", status="contained"),),
            dedupe=dedupe,
        )

    store.put(
        [
            incident("acme", "i1", "open", "key:0f1e"),
            incident("acme", "i2", "contained", "key:0f1e"),
            incident("globex", "i3", "open", "key:0f1e"),
        ],
        [AuditDraft("acme", "ann", "incident.opened", "i1", {})],
    )
    assert store.get(Incident, "acme", "i1") == incident("acme", "i1", "open", "key:0f1e")
    assert store.get(Incident, "globex", "i1") is None
    assert [i.id for i in store.find(Incident, "acme", status="open")] == ["i1"]
    assert [i.id for i in store.find(Incident, "acme", key="key:0f1e")] == ["i1", "i2"]
    assert [i.id for i in store.find_any(Incident, status="open")] == ["i1", "i3"]
