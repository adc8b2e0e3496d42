"""`POST /v1/messages` with the durable commit before the answer (group commit),
on SQLite (WAL, synchronous=FULL) and on PostgreSQL, against the trivial JSON
endpoint of the same server in the same run.

The server is the real gateway app (`bench.http_apps:gateway_app`, access log
on, as `aupguard serve` runs it); no downstream is configured, so accepted
messages stay in the outbox and the run measures screen + record + enqueue +
commit. wrk (one thread, its own process) alternates between the baseline
`POST /bench/echo` and `/v1/messages` in rounds; bodies are the SMS corpus in
turn, from 100 sender numbers to 1,000 recipients (a message the policy
blocks is recorded too, and answers 403).

The point is the durable accept path at the target rate, which one tenant
may not reach under the default pack's traffic limits (its default plan allows
50 messages/s, a long code 1 segment/s). The server therefore runs a pack of
the bench's own, written to a temporary folder: `extends: default` with the
`channel_limits` dataset replaced by the same dataset whose plan, sender-type
and API limits are raised to 1,000,000 per second and per day (every rule and
every counter are still there and still consumed per request; only the
thresholds are out of reach). `--default-limits` runs the default pack instead,
to show how much of such a load the limits refuse.

    .venv/bin/python -m bench.http_messages [--database sqlite|postgresql|both]
        [--seconds 5] [--rounds 3] [--connections 16] [--workers 2] [--default-limits]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

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

HIGH = 1_000_000
DEFAULT_LIMITS = (
    Path(__file__).resolve().parent.parent
    / "src"
    / "aupguard"
    / "policy"
    / "default"
    / "data"
    / "channel_limits.yaml"
)


def raised(rate: dict[str, Any]) -> dict[str, Any]:
    return {**rate, "rate": HIGH, "burst": HIGH}


def bench_pack(folder: Path) -> Path:
    """A pack that is the default one with its plan, sender-type and API limits out of
    reach (see the module's docstring); returns its root file."""
    dataset = yaml.safe_load(DEFAULT_LIMITS.read_text("utf-8"))["data"]["channel_limits"]
    values = dataset["values"]
    values["sender_types"] = {k: raised(v) for k, v in values["sender_types"].items()}
    values["api"] = {k: raised(v) for k, v in values["api"].items()}
    for plan in values["plans"].values():
        plan["messages_per_second"] = raised(plan["messages_per_second"])
        plan["daily_segments"] = HIGH
    dataset["description"] = "The default limits, raised out of reach for bench/http_messages.py."
    root = folder / "pack.yaml"
    root.write_text(
        yaml.safe_dump(
            {
                "pack": "bench-high-limits",
                "version": "1",
                "extends": "default",
                "data": {"channel_limits": dataset},
            },
            sort_keys=False,
        ),
        "utf-8",
    )
    return root


def recipient(n: int) -> str:
    """The n-th recipient: San Francisco numbers 7,919 apart, so that no two are
    neighbours for the pumping signals (sequential destinations are enumeration)."""
    return f"+1415{2_000_000 + n * 7919 % 8_000_000:07d}"


def bodies_for(texts: list[str]) -> list[bytes]:
    """The corpus as messages from 100 sender numbers to 1,000 recipients."""
    return [
        json.dumps(
            {"from": f"+1202555{i % 100:04d}", "to": recipient(i % 1000), "body": text}
        ).encode()
        for i, text in enumerate(texts)
    ]


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
        if not args.default_limits:
            env["AUPGUARD_PACK"] = str(bench_pack(tmp))
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
            verdicts: dict[str, int] = dict(
                conn.exec_driver_sql(
                    "SELECT verdict, count(*) FROM gateway_decisions GROUP BY verdict"
                ).all()
            )
            statuses: dict[str, int] = dict(
                conn.exec_driver_sql(
                    "SELECT status, count(*) FROM gateway_messages GROUP BY status"
                ).all()
            )
        db.dispose()
    results = {name: medians(samples) for name, samples in runs.items()}
    row = results["messages"]
    return {
        "results": results,
        "rounds": runs,
        "ratio_messages_to_echo": round(row["per_second"] / results["echo"]["per_second"], 2),
        "decisions_recorded": int(recorded),
        "decisions_by_verdict": {str(k): int(v) for k, v in sorted(verdicts.items())},
        "messages_by_status": {str(k): int(v) for k, v in sorted(statuses.items())},
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
    parser.add_argument("--default-limits", action="store_true")
    args = parser.parse_args()
    bodies = bodies_for(sms_bodies(2000))
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    report(
        "http_messages",
        {
            "what": f"POST /v1/messages, durable commit before the answer; uvicorn "
            f"{args.workers} workers, access log on; wrk 1 thread, {args.connections} "
            f"connections, {args.seconds} s x {args.rounds} alternating rounds; medians "
            "(non2xx: messages the policy blocked, 403, recorded all the same, and any "
            "429); 100 senders, 1,000 recipients; pack: "
            + (
                "default"
                if args.default_limits
                else "default with the plan, sender-type and API limits raised out of reach"
            ),
            "baseline": "POST /bench/echo on the same server",
            **{kind: run(kind, args, bodies) for kind in kinds},
        },
    )


if __name__ == "__main__":
    main()
