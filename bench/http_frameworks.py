"""Which ASGI framework: Starlette, FastAPI (idiomatic and raw) and Falcon, one
uvicorn worker each, on a trivial JSON POST and on screening with the default pack.

All four servers run at once (idle ones cost nothing); wrk loads one endpoint
of one server at a time, in alternating rounds, so that a slow spell of the
shared machine falls on all of them alike.

    .venv/bin/python -m bench.http_frameworks [--seconds 4] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import statistics

from bench.common import report, sms_bodies
from bench.http_load import free_port, start_uvicorn, stop, wrk

FRAMEWORKS = {
    "starlette": "bench.http_apps:starlette_app",
    "fastapi": "bench.http_apps:fastapi_app",
    "fastapi_raw": "bench.http_apps:fastapi_raw_app",
    "falcon": "bench.http_apps:falcon_app",
}


def bodies(limit: int = 2000) -> tuple[list[bytes], list[bytes]]:
    screen = [
        json.dumps({"from": "+12025550143", "to": "+14155550123", "body": text}).encode()
        for text in sms_bodies(limit)
    ]
    echo = [
        json.dumps({"from": "+12025550143", "to": "+14155550123", "body": "see you at 7"}).encode()
    ]
    return echo, screen


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    echo, screen = bodies()
    servers = {}
    try:
        for name, factory in FRAMEWORKS.items():
            port = free_port()
            proc = start_uvicorn(factory, port)
            servers[name] = (proc, port)
        runs: dict[str, dict[str, list[dict[str, float]]]] = {
            n: {"echo": [], "screen": []} for n in servers
        }
        for proc, port in servers.values():  # warm-up
            _wait_post(port, proc)
            wrk(f"http://127.0.0.1:{port}/screen", screen, 1.0, args.connections)
        for _ in range(args.rounds):
            for name, (_, port) in servers.items():
                for endpoint, payload in (("echo", echo), ("screen", screen)):
                    runs[name][endpoint].append(
                        wrk(
                            f"http://127.0.0.1:{port}/{endpoint}",
                            payload,
                            args.seconds,
                            args.connections,
                        )
                    )
    finally:
        for proc, _ in servers.values():
            stop(proc)
    results = {}
    for name, by_endpoint in runs.items():
        row = {}
        for endpoint, samples in by_endpoint.items():
            row[endpoint] = {
                "per_second": round(statistics.median(s["per_second"] for s in samples)),
                "p50_ms": round(statistics.median(s["p50_ms"] for s in samples), 3),
                "p99_ms": round(statistics.median(s["p99_ms"] for s in samples), 3),
                "errors": sum(int(s["errors"]) + int(s["non2xx"]) for s in samples),
            }
        results[name] = row
    base = results["starlette"]
    for row in results.values():
        for endpoint in ("echo", "screen"):
            row[endpoint]["ratio_to_starlette"] = round(
                row[endpoint]["per_second"] / base[endpoint]["per_second"], 2
            )
    report(
        "http_frameworks",
        {
            "what": "one uvicorn worker (uvloop, httptools) per framework; wrk 1 thread, "
            f"{args.connections} connections, {args.seconds} s x {args.rounds} alternating rounds; "
            "medians; screen bodies from the SMS corpus",
            "baseline": "starlette",
            "results": results,
        },
    )


def _wait_post(port: int, proc: object) -> None:
    import subprocess
    import time
    import urllib.error
    import urllib.request

    assert isinstance(proc, subprocess.Popen)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("a benchmark server exited")
        try:
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/echo",
                data=b"{}",
                headers={"Content-Type": "application/json"},
            )
            urllib.request.urlopen(request, timeout=1).close()
            return
        except urllib.error.HTTPError as exc:
            raise RuntimeError(
                f"the benchmark server answered {exc.code}: {exc.read()[:200]!r}"
            ) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise RuntimeError("a benchmark server did not start")


if __name__ == "__main__":
    main()
