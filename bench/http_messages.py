"""`POST /v1/messages` with the durable commit before the answer (group commit),
on SQLite (WAL, synchronous=FULL) and on PostgreSQL, against the trivial JSON
endpoint of the same server in the same run.

The server is the real gateway app (`bench.http_apps:gateway_app`, access log
on, as `aupguard serve` runs it); no downstream is configured, so accepted
messages stay in the outbox and the run measures screen + record + enqueue +
commit. wrk (one thread, its own process) alternates between the baseline
`POST /bench/echo` and `/v1/messages` in rounds; bodies are the SMS corpus in
turn (a message the policy blocks is recorded too, and answers 403).

    .venv/bin/python -m bench.http_messages [--database sqlite|postgresql|both]
        [--seconds 5] [--rounds 3] [--connections 16] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aupguard.actors import Actor, Role
from aupguard.api.keys import KeyManager
from aupguard.api.keys_sql import SqlKeyStore
from aupguard.store.db import Database
from aupguard.store.migrate import upgrade
from bench.common import report, sms_bodies
from bench.http_load import (
    alternate_with_echo,
    free_port,
    medians,
    start_uvicorn,
    stop,
    wait_until_up,
)

TARGETS = {"per_second": 3000, "p99_ms": 15.0}


@contextmanager
def database(kind: str, tmp: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'bench.sqlite'}"
        return
    import os
    import uuid

    import psycopg

    admin_url = os.environ.get("AUPGUARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"aupguard_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(kind: str, args: argparse.Namespace, bodies: list[bytes]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmpdir, database(kind, Path(tmpdir)) as url:
        tmp = Path(tmpdir)
        db = Database(url)
        upgrade(db)
        operator = Actor("bench", frozenset({Role.ADMIN}))
        key = KeyManager(SqlKeyStore(db)).issue(operator, "bench", ["send"]).secret
        port = free_port()
        env = {
            "AUPGUARD_DATABASE_URL": url,
            "AUPGUARD_ACCESS_LOG": "true",
            "AUPGUARD_KEY_PEPPER": "",
            "AUPGUARD_DOWNSTREAM": "",
        }
        log = tmp / "server.log"
        proc = start_uvicorn("bench.http_apps:gateway_app", port, args.workers, env, stdout=log)
        base = f"http://127.0.0.1:{port}"
        auth = {"Authorization": f"Bearer {key}"}
        try:
            wait_until_up(f"{base}/healthz", proc=proc)
            runs = alternate_with_echo(
                base,
                "/v1/messages",
                bodies,
                bodies[0],
                auth,
                args.seconds,
                args.rounds,
                args.connections,
                args.workers,
            )
        finally:
            stop(proc)
        with db.engine.connect() as conn:
            recorded = conn.exec_driver_sql("SELECT count(*) FROM gateway_decisions").scalar_one()
        db.dispose()
    results = {name: medians(samples) for name, samples in runs.items()}
    row = results["messages"]
    return {
        "results": results,
        "rounds": runs,
        "ratio_messages_to_echo": round(row["per_second"] / results["echo"]["per_second"], 2),
        "decisions_recorded": int(recorded),
        "targets": {
            "per_second": [TARGETS["per_second"], row["per_second"] >= TARGETS["per_second"]],
            "p99_ms": [TARGETS["p99_ms"], row["p99_ms"] <= TARGETS["p99_ms"]],
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    bodies = [
        json.dumps({"from": "+12025550143", "to": "+14155550123", "body": text}).encode()
        for text in sms_bodies(2000)
    ]
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    report(
        "http_messages",
        {
            "what": f"POST /v1/messages, durable commit before the answer; uvicorn "
            f"{args.workers} workers, access log on; wrk 1 thread, {args.connections} "
            f"connections, {args.seconds} s x {args.rounds} alternating rounds; medians "
            "(non2xx: messages the policy blocked, 403, recorded all the same)",
            "baseline": "POST /bench/echo on the same server",
            **{kind: run(kind, args, bodies) for kind in kinds},
        },
    )


if __name__ == "__main__":
    main()
