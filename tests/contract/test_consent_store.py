"""The consent ledger and do-not-call contract: one suite for memory, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aupguard.consent.model import (
    ConsentEvent,
    ConsentKind,
    ConsentMethod,
    ConsentStatus,
    fold,
    scopes_for,
)
from aupguard.consent.sql import SqlConsentStore, SqlDncStore
from aupguard.consent.store import ConsentStore, DncStore, MemoryConsentStore, MemoryDncStore
from aupguard.store.db import Database
from aupguard.store.migrate import upgrade
from tests.services import postgres_database

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ALICE = "+14155550123"
BOB = "+14155550124"


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def stores(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[ConsentStore, DncStore]]:
    if request.param == "memory":
        yield MemoryConsentStore(), MemoryDncStore()
        return
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'consent.sqlite'}")
        upgrade(db)
        ledger, dnc = SqlConsentStore(db), SqlDncStore(db)
        yield ledger, dnc
        ledger.close()
        dnc.close()
        db.dispose()
        return
    with postgres_database() as url:
        db = Database(url)
        upgrade(db)
        ledger, dnc = SqlConsentStore(db), SqlDncStore(db)
        yield ledger, dnc
        ledger.close()
        dnc.close()
        db.dispose()


def event(kind: ConsentKind, at: datetime, **fields: object) -> ConsentEvent:
    data: dict[str, object] = {
        "tenant": "acme",
        "recipient": ALICE,
        "kind": kind,
        "at": at,
        "scope": "brand:acme",
        "channel": "sms",
    }
    data.update(fields)
    return ConsentEvent.model_validate(data)


def test_history_round_trips_evidence_in_time_order(stores: tuple[ConsentStore, DncStore]) -> None:
    ledger, _ = stores
    opt_in = event(
        ConsentKind.OPT_IN,
        T0,
        method=ConsentMethod.WEB_FORM,
        source="198.51.100.7 form signup-3",
        wording="Yes, text me offers from Acme. Msg&data rates may apply. Reply STOP to cancel.",
        expires=T0 + timedelta(days=365),
        age_verified=True,
    )
    opt_out = event(ConsentKind.OPT_OUT, T0 + timedelta(days=10), method=ConsentMethod.KEYWORD)
    ledger.append([opt_out])
    ledger.append([opt_in])
    assert ledger.history("acme", ALICE) == [opt_in, opt_out]
    assert ledger.history("acme", ALICE, until=T0 + timedelta(days=1)) == [opt_in]
    assert ledger.history("acme", BOB) == []


def test_state_as_of_any_past_time(stores: tuple[ConsentStore, DncStore]) -> None:
    ledger, _ = stores
    ledger.append(
        [
            event(ConsentKind.OPT_IN, T0, method=ConsentMethod.PAPER),
            event(ConsentKind.OPT_OUT, T0 + timedelta(days=30), method=ConsentMethod.KEYWORD),
            event(ConsentKind.OPT_IN, T0 + timedelta(days=60), method=ConsentMethod.KEYWORD),
        ]
    )
    history = ledger.history("acme", ALICE)
    scopes = scopes_for("+12025550143", "acme", None)

    def status(at: datetime) -> ConsentStatus:
        return fold(history, at, scopes, "sms").status

    assert status(T0 - timedelta(seconds=1)) is ConsentStatus.UNKNOWN
    assert status(T0 + timedelta(days=1)) is ConsentStatus.OPTED_IN
    assert status(T0 + timedelta(days=31)) is ConsentStatus.OPTED_OUT
    assert status(T0 + timedelta(days=61)) is ConsentStatus.OPTED_IN
    view = fold(history, T0 + timedelta(days=1), scopes, "sms")
    assert view.method == "paper"
    assert view.since == T0


def test_reading_across_tenants_finds_nothing(stores: tuple[ConsentStore, DncStore]) -> None:
    ledger, dnc = stores
    ledger.append([event(ConsentKind.OPT_OUT, T0)])
    dnc.add("acme", [BOB], "list.csv", T0)
    assert ledger.history("acme", ALICE)
    assert ledger.history("rival", ALICE) == []
    assert list(ledger.export("rival")) == []
    assert dnc.listed("acme", BOB)
    assert not dnc.listed("rival", BOB)
    assert dnc.count("rival") == 0


def test_export_holds_every_event_of_the_tenant_only(stores: tuple[ConsentStore, DncStore]) -> None:
    ledger, _ = stores
    ledger.append(
        [
            event(ConsentKind.OPT_IN, T0, recipient=BOB),
            event(ConsentKind.OPT_IN, T0),
            event(ConsentKind.OPT_OUT, T0, tenant="other"),
        ]
    )
    exported = list(ledger.export("acme"))
    assert [e.recipient for e in exported] == [ALICE, BOB]
    assert all(e.tenant == "acme" for e in exported)


def test_dnc_add_counts_new_numbers_and_ignores_duplicates(
    stores: tuple[ConsentStore, DncStore],
) -> None:
    _, dnc = stores
    assert dnc.add("acme", [ALICE, BOB, ALICE], "a.csv", T0) == 2
    assert dnc.add("acme", [BOB, "+14155550125"], "b.csv", T0) == 1
    assert dnc.count("acme") == 3
    assert dnc.listed("acme", "+14155550125")
    assert not dnc.listed("acme", "+14155550126")


def test_dnc_listed_in_the_account_or_the_platform_list(
    stores: tuple[ConsentStore, DncStore],
) -> None:
    _, dnc = stores
    dnc.add("*platform", [ALICE], "registry.csv", T0)
    dnc.add("acme", [BOB], "own.csv", T0)
    assert dnc.listed_in(("acme", "*platform"), ALICE)
    assert dnc.listed_in(("acme", "*platform"), BOB)
    assert not dnc.listed_in(("rival", "*platform"), BOB)
    assert not dnc.listed("acme", ALICE)


def test_dnc_remove_unlists_only_the_tenants_numbers(
    stores: tuple[ConsentStore, DncStore],
) -> None:
    _, dnc = stores
    dnc.add("acme", [ALICE, BOB], "a.csv", T0)
    dnc.add("rival", [ALICE], "r.csv", T0)
    assert dnc.remove("acme", [ALICE, ALICE, "+14155550199"]) == 1
    assert not dnc.listed("acme", ALICE)
    assert dnc.listed("acme", BOB)
    assert dnc.listed("rival", ALICE)
    assert dnc.remove("acme", []) == 0


def test_dnc_pages_by_number_after_a_cursor(stores: tuple[ConsentStore, DncStore]) -> None:
    _, dnc = stores
    numbers = [f"+1415555{n:04d}" for n in (7, 3, 11, 5, 1)]
    dnc.add("acme", numbers, "list.csv", T0)
    dnc.add("rival", ["+14155550002"], "r.csv", T0)
    first = dnc.page("acme", None, 2)
    assert [e.number for e in first] == ["+14155550001", "+14155550003"]
    assert first[0].source == "list.csv" and first[0].added == T0
    rest = dnc.page("acme", first[-1].number, 10)
    assert [e.number for e in rest] == ["+14155550005", "+14155550007", "+14155550011"]
    assert dnc.page("acme", rest[-1].number, 10) == []


def test_a_reader_sees_what_another_connection_commits_later(
    stores: tuple[ConsentStore, DncStore],
) -> None:
    ledger, dnc = stores
    assert ledger.history("acme", ALICE) == []  # the read connection is open now
    assert not dnc.listed("acme", ALICE)
    ledger.append([event(ConsentKind.OPT_OUT, T0)])
    dnc.add("acme", [ALICE], "later.csv", T0)
    assert len(ledger.history("acme", ALICE)) == 1
    assert dnc.listed("acme", ALICE)


def test_many_reading_threads_each_get_an_answer(stores: tuple[ConsentStore, DncStore]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    ledger, dnc = stores
    ledger.append([event(ConsentKind.OPT_OUT, T0)])
    dnc.add("acme", [ALICE], "x.csv", T0)

    def read(_: int) -> tuple[int, bool]:
        return len(ledger.history("acme", ALICE)), dnc.listed("acme", ALICE)

    with ThreadPoolExecutor(max_workers=24) as pool:  # more threads than a default pool holds
        answers = list(pool.map(read, range(96)))
    assert answers == [(1, True)] * 96


def test_statistics_count_the_period_and_who_is_opted_out_now(
    stores: tuple[ConsentStore, DncStore],
) -> None:
    ledger, _ = stores
    carol, dave = "+14155550125", "+14155550126"
    in_, out = ConsentKind.OPT_IN, ConsentKind.OPT_OUT
    keyword = {"method": ConsentMethod.KEYWORD}
    ledger.append(
        [
            event(in_, T0 - timedelta(days=40)),  # before the period: not counted there
            event(out, T0 - timedelta(days=1), **keyword),  # Alice: out
            event(in_, T0 - timedelta(days=2), recipient=BOB),
            event(out, T0 - timedelta(days=1), recipient=BOB, **keyword),
            event(in_, T0, recipient=BOB, scope="*"),  # Bob: in again (any scope counts)
            event(out, T0, recipient=carol, channel="whatsapp"),  # Carol: out, another channel
            event(in_, T0 + timedelta(days=1), recipient=carol),  # after `now`: not yet
            event(in_, T0 - timedelta(days=3), recipient=dave, method=ConsentMethod.WEB_FORM),
            event(ConsentKind.EXPIRY, T0, recipient=dave),
            event(out, T0, tenant="globex"),  # another tenant
        ]
    )
    stats = ledger.statistics("acme", T0 - timedelta(days=30), T0)
    assert stats.opted_out == 2  # Alice and Carol
    assert stats.total("opt_in") == 3 and stats.total("opt_out") == 3
    assert stats.total("expiry") == 1
    assert stats.by("opt_out", 1) == [("keyword", 2), ("api", 1)]
    assert stats.by("opt_out", 2) == [("sms", 2), ("whatsapp", 1)]
    assert stats.events[("opt_in", "web_form", "sms")] == 1
    later = ledger.statistics("acme", T0, T0 + timedelta(days=1))
    assert later.opted_out == 1  # Carol opted in again
    assert ledger.statistics("nobody", T0 - timedelta(days=30), T0).opted_out == 0
