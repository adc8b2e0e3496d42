"""Load generation for the HTTP benchmarks: wrk (Debian package `wrk`) in its own
process, POSTing JSON bodies in turn from a list, over keep-alive connections."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(
    url: str, timeout: float = 60.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def start_uvicorn(
    factory: str,
    port: int,
    workers: int = 1,
    env: dict[str, str] | None = None,
    stdout: Path | None = None,
) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        factory,
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    full_env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}", **(env or {})}
    out = stdout.open("wb") if stdout is not None else subprocess.DEVNULL
    return subprocess.Popen(cmd, env=full_env, cwd=ROOT, stdout=out)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


LUA = """
local bodies = {}
local i = 0
for line in io.lines("%(file)s") do bodies[#bodies + 1] = line end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
%(headers)s
request = function()
  i = i %% #bodies + 1
  return wrk.format(nil, nil, nil, bodies[i])
end
done = function(summary, latency, requests)
  io.write(string.format("JSON {\\"requests\\": %%d, \\"seconds\\": %%f, \\"errors\\": %%d, \\"non2xx\\": %%d, \\"p50_ms\\": %%f, \\"p90_ms\\": %%f, \\"p99_ms\\": %%f, \\"mean_ms\\": %%f}\\n",
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.mean / 1000))
end
"""


def wrk(
    url: str,
    bodies: Sequence[bytes],
    seconds: float,
    connections: int = 16,
    threads: int = 1,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian package 'wrk'; `make` installs it)")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "bodies.txt"
        data.write_bytes(b"\n".join(bodies) + b"\n")
        lines = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in (headers or {}).items())
        script = Path(tmp) / "post.lua"
        script.write_text(LUA % {"file": data, "headers": lines})
        out = subprocess.run(
            [
                "wrk",
                "-t",
                str(threads),
                "-c",
                str(connections),
                "-d",
                f"{max(1, round(seconds))}s",
                "-s",
                str(script),
                url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
            check=True,
        ).stdout
    match = re.search(r"^JSON (.*)$", out, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    result: dict[str, Any] = json.loads(match.group(1))
    result["per_second"] = round(result["requests"] / result["seconds"], 1)
    for key in ("p50_ms", "p90_ms", "p99_ms", "mean_ms"):
        result[key] = round(result[key], 3)
    return result


def alternate_with_echo(
    base: str,
    path: str,
    bodies: Sequence[bytes],
    echo: bytes,
    headers: dict[str, str],
    seconds: int,
    rounds: int,
    connections: int,
    workers: int,
) -> dict[str, list[dict[str, float]]]:
    """One checked request to `path` (fails loudly if the key is refused), a warm-up
    of every worker, then `rounds` alternating wrk runs of POST /bench/echo (body
    `echo`) and `path`.
    Returns the samples keyed "echo" and the last segment of `path`."""
    request = urllib.request.Request(
        f"{base}{path}", data=bodies[0], headers={**headers, "Content-Type": "application/json"}
    )
    urllib.request.urlopen(request, timeout=5).close()
    for _ in range(workers * 2):
        wrk(f"{base}{path}", bodies, 1, connections, headers=headers)
    name = path.rsplit("/", 1)[1]
    runs: dict[str, list[dict[str, float]]] = {"echo": [], name: []}
    for _ in range(rounds):
        runs["echo"].append(wrk(f"{base}/bench/echo", [echo], seconds, connections))
        runs[name].append(wrk(f"{base}{path}", bodies, seconds, connections, headers=headers))
    return runs


def medians(samples: Sequence[dict[str, float]]) -> dict[str, float]:
    """Median rate and latencies of wrk samples, and their summed errors and non-2xx."""
    return {
        "per_second": round(statistics.median(s["per_second"] for s in samples)),
        "p50_ms": round(statistics.median(s["p50_ms"] for s in samples), 3),
        "p99_ms": round(statistics.median(s["p99_ms"] for s in samples), 3),
        "errors": sum(int(s["errors"]) for s in samples),
        "non2xx": sum(int(s["non2xx"]) for s in samples),
    }
