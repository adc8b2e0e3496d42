"""The consent check's per-process cache: every write, through any store instance (any
worker, the CLI), is seen by the next check; nothing changed means no re-read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aupguard.consent import (
    PLATFORM_LIST,
    ConsentEvent,
    ConsentKind,
    ConsentMethod,
    ConsentSource,
    MemoryConsentStore,
    MemoryDncStore,
)
from aupguard.consent.cache import CachedLookup, RecipientLookup
from aupguard.consent.sql import SqlConsentStore, SqlDncStore
from aupguard.engine.events import OutboundMessage
from aupguard.engine.state import ConsentState
from aupguard.store.db import Database
from aupguard.store.migrate import upgrade
from tests.services import postgres_database

NOW = datetime(2026, 6, 2, 18, 0, tzinfo=UTC)
ALICE = "+14155550123"
BOB = "+14155550124"
OURS = "+12025550143"


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'consent.sqlite'}")
        upgrade(db)
        yield db
        db.dispose()
        return
    with postgres_database() as url:
        db = Database(url)
        upgrade(db)
        yield db
        db.dispose()


def message(to: str = ALICE, account: str = "acme") -> OutboundMessage:
    return OutboundMessage.model_validate(
        {"from": OURS, "to": to, "body": "see you at 7", "account": account}
    )


def change(
    kind: ConsentKind, to: str = ALICE, tenant: str = "acme", hours_ago: int = 2
) -> ConsentEvent:
    return ConsentEvent(
        tenant=tenant,
        recipient=to,
        kind=kind,
        at=NOW - timedelta(hours=hours_ago),
        method=ConsentMethod.KEYWORD,
        wording="STOP" if kind is ConsentKind.OPT_OUT else "START",
    )


def consent(source: ConsentSource, msg: OutboundMessage) -> ConsentState | None:
    found = source.read(msg, NOW).get("consent")
    assert found is None or isinstance(found, ConsentState)
    return found


class Worker:
    """What one server process holds: its own stores and consent source on the database."""

    def __init__(self, db: Database) -> None:
        self.ledger = SqlConsentStore(db)
        self.dnc = SqlDncStore(db)
        self.source = ConsentSource(self.ledger, self.dnc)

    @property
    def lookup(self) -> CachedLookup:
        assert isinstance(self.source.lookup, CachedLookup)
        return self.source.lookup

    def close(self) -> None:
        self.ledger.close()
        self.dnc.close()


@pytest.fixture
def workers(database: Database) -> Iterator[tuple[Worker, Worker]]:
    a, b = Worker(database), Worker(database)
    yield a, b
    a.close()
    b.close()


def test_an_opt_out_written_by_another_worker_is_seen_by_the_next_check(
    workers: tuple[Worker, Worker],
) -> None:
    reader, writer = workers
    assert consent(reader.source, message()) is None
    assert consent(reader.source, message()) is None  # kept: a hit
    assert reader.lookup.hits == 1
    writer.ledger.append([change(ConsentKind.OPT_OUT)])
    state = consent(reader.source, message())
    assert state is not None and state.status == "opted_out"
    # and back again: never a stale answer
    writer.ledger.append([change(ConsentKind.OPT_IN, hours_ago=1)])
    later = consent(reader.source, message())
    assert later is not None and later.status == "opted_in"


def test_do_not_call_entries_of_the_tenant_and_of_the_platform_are_seen_at_once(
    workers: tuple[Worker, Worker],
) -> None:
    reader, writer = workers
    assert consent(reader.source, message(BOB)) is None
    writer.dnc.add("acme", [BOB], "test", NOW)
    state = consent(reader.source, message(BOB))
    assert state is not None and state.dnc_listed
    assert consent(reader.source, message(ALICE)) is None
    writer.dnc.add(PLATFORM_LIST, [ALICE], "test", NOW)
    listed = consent(reader.source, message(ALICE))
    assert listed is not None and listed.dnc_listed
    assert writer.dnc.remove("acme", [BOB]) == 1  # and unlisted: seen at once too
    assert consent(reader.source, message(BOB)) is None


def test_a_write_for_another_tenant_keeps_this_tenants_entries(
    workers: tuple[Worker, Worker],
) -> None:
    reader, writer = workers
    consent(reader.source, message())
    writer.ledger.append([change(ConsentKind.OPT_OUT, tenant="globex")])
    writer.dnc.add("globex", [ALICE], "test", NOW)
    before = reader.lookup.hits
    assert consent(reader.source, message()) is None
    assert reader.lookup.hits == before + 1
    globex = consent(reader.source, message(account="globex"))
    assert globex is not None and globex.status == "opted_out" and globex.dnc_listed


def test_versions_are_read_for_one_or_two_tenants(workers: tuple[Worker, Worker]) -> None:
    reader, writer = workers
    assert reader.ledger.versions(("acme", PLATFORM_LIST)) == (0, 0)
    writer.ledger.append([change(ConsentKind.OPT_OUT)])
    first = reader.ledger.versions(("acme",))
    assert first != (0,)
    writer.dnc.add("acme", [BOB], "test", NOW)
    assert reader.ledger.versions(("acme",)) != first
    with pytest.raises(ValueError, match="one or two tenants"):
        reader.ledger.versions(("a", "b", "c"))


def test_the_cache_keeps_at_most_max_entries(database: Database) -> None:
    ledger, dnc = SqlConsentStore(database), SqlDncStore(database)
    lookup = CachedLookup(ledger, dnc, ledger, max_entries=2)
    source = ConsentSource(ledger, dnc, lookup=lookup)
    for n in range(5):
        consent(source, message(f"+1415555010{n}"))
    assert len(lookup) == 2
    assert lookup.misses == 5
    ledger.close()
    dnc.close()


def test_memory_stores_are_read_directly() -> None:
    source = ConsentSource(MemoryConsentStore(), MemoryDncStore())
    assert type(source.lookup) is RecipientLookup
