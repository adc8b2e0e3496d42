"""`POST /v1/screen` on the real gateway, 2 uvicorn workers, against a trivial JSON
endpoint served by the same server in the same run.

The server is `aupguard.api.create_app` (SQLite key store in a temporary folder,
access log on, as `aupguard serve` runs it) plus one endpoint, `POST /bench/echo`,
that parses a small JSON body and answers a small JSON object through the same
middleware. wrk (one thread, its own process) alternates between the two
endpoints in rounds; bodies for /v1/screen are the SMS corpus in turn, each
to one of `--recipients` numbers in turn and authenticated with a tenant key.
Every screen reads the recipient's consent (per-worker cache checked against
the consent versions: one query per request once a worker has seen the
recipient) and the account's standing.

    .venv/bin/python -m bench.http_screen [--seconds 5] [--rounds 3] [--connections 8]
        [--workers 2] [--recipients 1000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

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

TARGETS = {"per_second": 5000, "p50_ms": 2.0, "p99_ms": 10.0, "ratio": 0.5}


def recipient(n: int) -> str:
    """The n-th of the bench's recipients: valid US mobile-range numbers."""
    return f"+1415555{n:04d}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--recipients", type=int, default=1000)
    args = parser.parse_args()
    if not 1 <= args.recipients <= 10_000:
        parser.error("--recipients is 1 to 10000")
    screen = [
        json.dumps(
            {"from": "+12025550143", "to": recipient(i % args.recipients), "body": text}
        ).encode()
        for i, text in enumerate(sms_bodies(2000))
    ]
    echo = json.dumps(
        {"from": "+12025550143", "to": "+14155550123", "body": "see you at 7"}
    ).encode()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        db = Database(url)
        upgrade(db)
        operator = Actor("bench", frozenset({Role.ADMIN}))
        key = KeyManager(SqlKeyStore(db)).issue(operator, "bench", ["send"]).secret
        db.dispose()
        port = free_port()
        env = {
            "AUPGUARD_DATABASE_URL": url,
            "AUPGUARD_ACCESS_LOG": str(args.access_log).lower(),
            "AUPGUARD_KEY_PEPPER": "",
        }
        log = Path(tmp) / "server.log"
        proc = start_uvicorn("bench.http_apps:gateway_app", port, args.workers, env, stdout=log)
        base = f"http://127.0.0.1:{port}"
        auth = {"Authorization": f"Bearer {key}"}
        try:
            wait_until_up(f"{base}/healthz", proc=proc)
            runs = alternate_with_echo(
                base,
                "/v1/screen",
                screen,
                echo,
                auth,
                args.seconds,
                args.rounds,
                args.connections,
                args.workers,
            )
        finally:
            stop(proc)
        log_lines = log.read_text("utf-8", errors="replace").splitlines()
    results: dict[str, dict[str, float]] = {}
    for name, samples in runs.items():
        row = medians(samples)
        row["errors"] += row.pop("non2xx")  # this report counts both as errors
        results[name] = row
    ratio = round(results["screen"]["per_second"] / results["echo"]["per_second"], 2)
    screen_row = results["screen"]
    report(
        "http_screen",
        {
            "what": f"uvicorn {args.workers} workers (uvloop, httptools), access log "
            f"{'on' if args.access_log else 'off'}; wrk 1 thread, {args.connections} connections, "
            f"{args.seconds} s x {args.rounds} alternating rounds; medians; "
            f"{args.recipients} recipients in turn",
            "baseline": "POST /bench/echo on the same server",
            "results": results,
            "rounds": runs,
            "ratio_screen_to_echo": ratio,
            "log_lines": len(log_lines),
            "targets": {
                "per_second": [
                    TARGETS["per_second"],
                    screen_row["per_second"] >= TARGETS["per_second"],
                ],
                "p50_ms": [TARGETS["p50_ms"], screen_row["p50_ms"] <= TARGETS["p50_ms"]],
                "p99_ms": [TARGETS["p99_ms"], screen_row["p99_ms"] <= TARGETS["p99_ms"]],
                "ratio": [TARGETS["ratio"], ratio >= TARGETS["ratio"]],
            },
        },
    )


if __name__ == "__main__":
    main()
