"""The audit-log contract: one suite for memory, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from aupguard.audit import AuditDraft, MemoryAuditLog, verify_log
from aupguard.audit.keys import Signer, load_public_key
from aupguard.audit.log import AuditLog
from aupguard.audit.sql import SqlAuditLog
from aupguard.store.db import Database
from aupguard.store.migrate import upgrade
from tests.services import postgres_database

T0 = datetime(2026, 6, 2, 16, 0, tzinfo=UTC)


class Ticker:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


@pytest.fixture(scope="module")
def signer() -> Signer:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Signer(Ed25519PrivateKey.generate())


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, signer: Signer
) -> Iterator[tuple[AuditLog, Database | None]]:
    if request.param == "memory":
        yield MemoryAuditLog(signer, checkpoint_every=4, clock=Ticker()), None
        return
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'audit.sqlite'}")
        upgrade(db)
        yield SqlAuditLog(db, signer, checkpoint_every=4, clock=Ticker()), db
        db.dispose()
        return
    with postgres_database() as url:
        db = Database(url)
        upgrade(db)
        yield SqlAuditLog(db, signer, checkpoint_every=4, clock=Ticker()), db
        db.dispose()


def draft(tenant: str, n: int) -> AuditDraft:
    return AuditDraft(tenant, "reviewer:ann", "case.decided", f"case-{n}", {"n": n, "why": "x"})


def test_entries_chain_and_verify(
    backend: tuple[AuditLog, Database | None], signer: Signer
) -> None:
    log, _ = backend
    first = log.append([draft("acme", 1), draft("acme", 2)])
    log.append([draft("globex", 3)])
    log.append([draft("acme", 4)])  # seq 4: a checkpoint (every 4)
    log.append([draft("acme", i) for i in range(5, 10)])  # 5..9 passes 8: one at the batch end
    assert [e.seq for e in first] == [1, 2]
    assert first[1].prev == first[0].hash
    assert log.head()[0] == 9
    result = verify_log(log, load_public_key(signer.public_key))
    assert result.ok, result.broken
    assert result.entries == 9
    assert [c.seq for c in log.checkpoints()] == [4, 9]
    assert result.signatures_checked == 2


def test_reads_are_per_tenant(backend: tuple[AuditLog, Database | None]) -> None:
    log, _ = backend
    log.append([draft("acme", 1), draft("globex", 2), draft("acme", 3)])
    assert [e.subject for e in log.entries("acme")] == ["case-1", "case-3"]
    assert [e.subject for e in log.entries("globex")] == ["case-2"]
    assert log.entries("initech") == []
    assert [e.subject for e in log.entries("acme", subject="case-3")] == ["case-3"]


def test_a_signature_from_another_key_is_caught(
    backend: tuple[AuditLog, Database | None],
) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    log, _ = backend
    log.append([draft("acme", i) for i in range(5)])
    other = Signer(Ed25519PrivateKey.generate())
    result = verify_log(log, load_public_key(other.public_key))
    assert not result.ok
    assert result.broken is not None
    assert result.broken.seq == 5  # the batch of five passed seq 4: signed at its end
    assert "signature" in result.broken.reason


def test_an_edited_row_is_the_first_broken_link(
    backend: tuple[AuditLog, Database | None],
) -> None:
    log, db = backend
    log.append([draft("acme", i) for i in range(1, 8)])
    if db is None:
        assert isinstance(log, MemoryAuditLog)
        original = next(e for e in log.scan() if e.seq == 3)
        from dataclasses import replace

        log.tamper(3, replace(original, actor="reviewer:mallory"))
    else:
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE audit_entries SET actor = 'reviewer:mallory' WHERE seq = 3"))
    result = verify_log(log)
    assert result.broken is not None
    assert result.broken.seq == 3
    assert result.entries == 2


def test_a_payload_edit_is_caught_even_with_its_hash(
    backend: tuple[AuditLog, Database | None],
) -> None:
    log, db = backend
    log.append([draft("acme", i) for i in range(1, 4)])
    if db is None:
        return  # memory entries are immutable objects; the SQL row is what an attacker edits
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_entries SET payload = :p WHERE seq = 2"), {"p": '{"n":99}'})
    result = verify_log(log)
    assert result.broken is not None
    assert (result.broken.seq, result.broken.reason) == (2, "payload does not match its digest")


def test_a_removed_tail_is_caught(backend: tuple[AuditLog, Database | None]) -> None:
    log, db = backend
    log.append([draft("acme", i) for i in range(1, 7)])
    if db is None:
        return
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entries WHERE seq >= 5"))
    result = verify_log(log)
    assert result.broken is not None
    assert result.broken.seq == 5
