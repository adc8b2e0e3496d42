"""Consent: the check at send time, SQL lookups, do-not-call imports, durable opt-outs.

- `consent_check_memory`: `ConsentSource.read` on an in-memory ledger of
  20,000 recipients (opt-ins, some opt-outs) and a do-not-call list, against
  the baseline of the engine screening the same marketing message with the
  state given directly (`engine_only`), alternating in the same process.
- `sqlite_checks`: the same check on SQLite read each time (two reads: the
  ledger and the do-not-call lists), per second on one core in a tight loop
  (best of 3), the ledger lookup alone, and the ratio to memory; and the check
  as the gateway runs it (`CachedLookup`: one read of the consent versions,
  every recipient already seen once).
- `dnc_import`: 1,000,000 generated numbers into SQLite (executemany in
  batches) and PostgreSQL (COPY), in batches of 100,000, each batch one
  transaction.
- `opt_out_commits`: durable opt-out writes per second, one commit each and
  grouped 100 per commit (what one writer task batching concurrent requests
  does), on SQLite (WAL, synchronous=FULL) and PostgreSQL.

    python -m bench.consent            # PostgreSQL parts need 127.0.0.1:5432
"""

from __future__ import annotations

import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.services import postgres_database

from aupguard.consent import (
    ConsentEvent,
    ConsentKind,
    ConsentMethod,
    ConsentSource,
    MemoryConsentStore,
    MemoryDncStore,
)
from aupguard.consent.cache import RecipientLookup
from aupguard.consent.sql import SqlConsentStore, SqlDncStore
from aupguard.engine.events import OutboundMessage
from aupguard.engine.facade import Engine
from aupguard.engine.state import State
from aupguard.store.db import Database
from aupguard.store.migrate import upgrade
from bench.common import interleaved, report, summary

RECIPIENTS = 20_000
CHECKS = 5_000
DNC_NUMBERS = 1_000_000
DNC_BATCH = 100_000
NOW = datetime(2026, 6, 2, 18, 0, tzinfo=UTC)


def number(i: int) -> str:
    return f"+1415{2_000_000 + i:07d}"


def ledger_events() -> list[ConsentEvent]:
    events = []
    for i in range(RECIPIENTS):
        events.append(
            ConsentEvent(
                tenant="acme",
                scope="brand:acme",
                recipient=number(i),
                channel="sms",
                kind=ConsentKind.OPT_IN,
                at=NOW - timedelta(days=60),
                method=ConsentMethod.WEB_FORM,
                source="form:signup",
                wording="Yes, text me Acme offers. Reply STOP to cancel.",
            )
        )
        if i % 10 == 0:
            events.append(
                ConsentEvent(
                    tenant="acme",
                    scope="brand:acme",
                    recipient=number(i),
                    kind=ConsentKind.OPT_OUT,
                    at=NOW - timedelta(days=5),
                    method=ConsentMethod.KEYWORD,
                    wording="STOP",
                )
            )
    return events


def messages() -> list[OutboundMessage]:
    rng = random.Random(7)
    return [
        OutboundMessage.model_validate(
            {
                "from": "+12025550143",
                "to": number(rng.randrange(RECIPIENTS)),
                "body": "Acme Shoes: 20% off today. Reply STOP to opt out",
                "category": "marketing",
                "brand": "acme",
                "account": "acme",
                "at": NOW,
            }
        )
        for _ in range(CHECKS)
    ]


def best_rate(fn: Any, items: list[Any], runs: int = 3) -> tuple[float, list[float]]:
    rates = []
    for _ in range(runs):
        start = time.perf_counter()
        for item in items:
            fn(item)
        rates.append(len(items) / (time.perf_counter() - start))
    return max(rates), rates


def check_figures(engine: Engine, folder: Path) -> dict[str, Any]:
    events = ledger_events()
    memory, dnc = MemoryConsentStore(), MemoryDncStore()
    memory.append(events)
    dnc.add("acme", [number(i) for i in range(0, RECIPIENTS, 7)], "bench", NOW)
    source = ConsentSource(memory, dnc)
    msgs = messages()
    state = State.model_validate({"consent": {"status": "opted_in"}})
    samples = interleaved(
        {
            "engine_only": (lambda m: engine.screen(m, state, now=NOW), msgs),
            "consent_check_memory": (lambda m: source.read(m, NOW), msgs),
        },
        passes=3,
    )
    base, check = summary(samples["engine_only"]), summary(samples["consent_check_memory"])

    db = Database(f"sqlite:///{folder / 'consent.sqlite'}")
    upgrade(db)
    sql_ledger, sql_dnc = SqlConsentStore(db), SqlDncStore(db)
    for start in range(0, len(events), 5000):
        sql_ledger.append(events[start : start + 5000])
    sql_dnc.add("acme", [number(i) for i in range(0, RECIPIENTS, 7)], "bench", NOW)
    sql_source = ConsentSource(sql_ledger, sql_dnc, lookup=RecipientLookup(sql_ledger, sql_dnc))
    cached = ConsentSource(sql_ledger, sql_dnc)
    agree = all(sql_source.read(m, NOW) == source.read(m, NOW) == cached.read(m, NOW) for m in msgs)
    sqlite_rate, sqlite_runs = best_rate(lambda m: sql_source.read(m, NOW), msgs)
    cached_rate, _ = best_rate(lambda m: cached.read(m, NOW), msgs)
    lookup_rate, _ = best_rate(lambda m: sql_ledger.history("acme", m.to), msgs)
    memory_rate, _ = best_rate(lambda m: source.read(m, NOW), msgs)
    sql_ledger.close()
    sql_dnc.close()
    db.dispose()
    return {
        "engine_only": base,
        "consent_check_memory": check,
        "ratio_mean_check_to_engine": round(check["mean_us"] / base["mean_us"], 3),
        "sqlite_checks_per_second_one_core": round(sqlite_rate),
        "sqlite_runs": [round(r) for r in sqlite_runs],
        "sqlite_cached_checks_per_second_one_core": round(cached_rate),
        "sqlite_ledger_lookups_per_second_one_core": round(lookup_rate),
        "memory_checks_per_second_one_core": round(memory_rate),
        "ratio_memory_to_sqlite": round(memory_rate / sqlite_rate, 1),
        "sqlite_answers_equal_memory": agree,
    }


def dnc_numbers() -> list[str]:
    rng = random.Random(11)
    picked = rng.sample(range(2_000_000_000, 9_999_999_999), DNC_NUMBERS)
    return [f"+1{n:010d}" for n in picked]


def dnc_import(db: Database, numbers: list[str]) -> dict[str, Any]:
    store = SqlDncStore(db)
    start = time.perf_counter()
    added = 0
    for i in range(0, len(numbers), DNC_BATCH):
        added += store.add("bench", numbers[i : i + DNC_BATCH], "bench.csv", NOW)
    seconds = time.perf_counter() - start
    probe = numbers[:: len(numbers) // 1000]
    start = time.perf_counter()
    assert all(store.listed("bench", n) for n in probe)
    lookups = len(probe) / (time.perf_counter() - start)
    return {
        "numbers": len(numbers),
        "added": added,
        "seconds": round(seconds, 2),
        "numbers_per_second": round(len(numbers) / seconds),
        "listed_lookups_per_second": round(lookups),
    }


def opt_out(i: int) -> ConsentEvent:
    return ConsentEvent(
        tenant="acme",
        scope="brand:acme",
        recipient=number(i),
        kind=ConsentKind.OPT_OUT,
        at=NOW,
        method=ConsentMethod.KEYWORD,
        source=f"SM{i}",
        wording="STOP",
    )


def commits(db: Database, singles: int = 500, groups: int = 50, group: int = 100) -> dict[str, Any]:
    store = SqlConsentStore(db)
    start = time.perf_counter()
    for i in range(singles):
        store.append([opt_out(i)])
    single_rate = singles / (time.perf_counter() - start)
    start = time.perf_counter()
    for g in range(groups):
        store.append([opt_out(100_000 + g * group + k) for k in range(group)])
    grouped = groups * group / (time.perf_counter() - start)
    return {
        "one_per_commit_per_second": round(single_rate),
        f"grouped_{group}_per_commit_per_second": round(grouped),
    }


def main() -> None:
    engine = Engine.from_pack()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        figures = check_figures(engine, folder)
        numbers = dnc_numbers()
        sqlite = Database(f"sqlite:///{folder / 'dnc.sqlite'}")
        upgrade(sqlite)
        figures["dnc_import_sqlite"] = dnc_import(sqlite, numbers)
        figures["opt_out_commits_sqlite"] = commits(sqlite)
        sqlite.dispose()
        with postgres_database() as url:
            pg = Database(url)
            upgrade(pg)
            figures["dnc_import_postgresql"] = dnc_import(pg, numbers)
            figures["opt_out_commits_postgresql"] = commits(pg)
            pg.dispose()
    report("consent", figures)


if __name__ == "__main__":
    main()
