"""The audit log and enforcement in the send path.

1. `append`: audit entries made durable on SQLite (WAL, synchronous=FULL) in
   batches of 500, against one entry per transaction (the baseline), in the
   same run. Target: at least 5,000 entries/s batched.
2. `verify`: `verify_log` over 1,000,000 entries on SQLite (every payload
   digest, hash and link recomputed, streamed in pages), against reading the
   same rows the same way without checking them. Target: under 20 s.
3. `screening`: `Screener` with the standing source (cached lookups of the
   account's standing on SQLite) and the candidate step (hits appended to the
   worker's queue), against `Engine.screen` alone on the same messages,
   interleaved. Target: within 10 % (ratio <= 1.10).

    .venv/bin/python bench/run.py audit
    AUPGUARD_BENCH_AUDIT_ENTRIES=200000 .venv/bin/python bench/run.py audit   # a shorter verify
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from aupguard import Engine, OutboundMessage
from aupguard.audit.chain import AuditDraft
from aupguard.audit.sql import SqlAuditLog
from aupguard.audit.verify import verify_log
from aupguard.enforcement.service import SYSTEM, Enforcement
from aupguard.enforcement.sources import CandidateStep, StandingSource
from aupguard.enforcement.sql import SqlRecordStore
from aupguard.service import Screener
from aupguard.store.db import Database
from aupguard.store.migrate import upgrade
from bench.common import interleaved, report, sms_bodies, summary

BATCH = 500


def drafts(n: int, start: int = 0) -> list[AuditDraft]:
    return [
        AuditDraft(
            f"tenant-{i % 50}",
            "system:enforcement",
            "decision.block",
            f"msg-{start + i}",
            {"rules": ["phishing.lure_link"], "content_sha256": f"{start + i:064x}"},
        )
        for i in range(n)
    ]


def database(folder: Path, name: str) -> Database:
    db = Database(f"sqlite:///{folder / name}")
    upgrade(db)
    return db


def bench_append(folder: Path) -> dict[str, float]:
    log = SqlAuditLog(database(folder, "append.sqlite"), checkpoint_every=0)
    single = drafts(500)
    started = time.perf_counter()
    for draft in single:
        log.append([draft])
    single_rate = len(single) / (time.perf_counter() - started)
    batched = drafts(50_000, 500)
    started = time.perf_counter()
    for i in range(0, len(batched), BATCH):
        log.append(batched[i : i + BATCH])
    batched_rate = len(batched) / (time.perf_counter() - started)
    return {
        "single_commit_entries_per_s": round(single_rate),
        "batched_entries_per_s": round(batched_rate),
        "batch": BATCH,
        "ratio_batched_to_single": round(batched_rate / single_rate, 1),
    }


def bench_verify(folder: Path, entries: int) -> dict[str, float]:
    db = database(folder, "verify.sqlite")
    log = SqlAuditLog(db, checkpoint_every=0)
    started = time.perf_counter()
    for i in range(0, entries, 5000):
        log.append(drafts(min(5000, entries - i), i))
    fill = time.perf_counter() - started
    started = time.perf_counter()
    rows = sum(1 for _ in log.links())  # the baseline: the same paged reads, nothing checked
    read = time.perf_counter() - started
    started = time.perf_counter()
    result = verify_log(log)
    verify = time.perf_counter() - started
    assert result.ok, result.broken
    assert result.entries == entries == rows
    return {
        "entries": entries,
        "fill_s": round(fill, 1),
        "read_only_s": round(read, 2),
        "verify_s": round(verify, 2),
        "ratio_verify_to_read": round(verify / read, 2),
    }


def bench_screening(folder: Path) -> dict[str, object]:
    engine = Engine.from_pack()
    db = database(folder, "standing.sqlite")
    audit = SqlAuditLog(db)
    svc = Enforcement(SqlRecordStore(db, audit), engine.pack.data)
    now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    svc.act(SYSTEM, "tenant-1", "warn", "bench: an account with a standing record", now=now)
    step = CandidateStep(svc, maxlen=1000)
    screener = Screener(engine, sources=[StandingSource(svc, ttl=60)], after=[step])
    events = [
        OutboundMessage.model_validate(
            {
                "account": f"tenant-{i % 4}",
                "from": "+12025550143",
                "to": "+14155550123",
                "body": b,
                "at": now,
            }
        )
        for i, b in enumerate(sms_bodies())
    ]

    def alone(event: OutboundMessage) -> object:
        return engine.screen(event, now=now)

    def enforced(event: OutboundMessage) -> object:
        return screener.screen(event, now)

    samples = interleaved({"engine": (alone, events), "with_enforcement": (enforced, events)})
    base, full = summary(samples["engine"]), summary(samples["with_enforcement"])
    return {
        "messages": len(events),
        "engine": base,
        "with_enforcement": full,
        "ratio_mean": round(full["mean_us"] / base["mean_us"], 3),
        "ratio_p50": round(full["p50_us"] / base["p50_us"], 3),
        "queued_hits": len(step),
    }


def main() -> None:
    entries = int(os.environ.get("AUPGUARD_BENCH_AUDIT_ENTRIES", "1000000"))
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        results = {
            "append": bench_append(folder),
            "screening": bench_screening(folder),
            "verify": bench_verify(folder, entries),
        }
    report("audit", results)


if __name__ == "__main__":
    main()
