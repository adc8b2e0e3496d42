"""Helpers for the benchmarks: corpora, timing, percentiles, reporting."""

from __future__ import annotations

import gc
import json
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
SMS_CORPUS = SHARED_DATA / "sms-spam-collection"


def sms_bodies(limit: int | None = None) -> list[str]:
    """Message bodies of the SMS Spam Collection (both splits), or a synthetic set without it."""
    bodies: list[str] = []
    for name in ("train.tsv", "test.tsv"):
        path = SMS_CORPUS / name
        if path.is_file():
            for line in path.read_text("utf-8").splitlines():
                _, _, text = line.partition("\t")
                bodies.append(text)
    if not bodies:
        print("note: ../shared/data is absent; using a synthetic corpus", file=sys.stderr)
        words = ["see", "you", "at", "7", "tonight", "call", "me", "when", "you", "land"]
        bodies = [" ".join(words[i % len(words) :] + words[: i % len(words)]) for i in range(5000)]
    return bodies[:limit] if limit else bodies


_RECIPIENT_RANGES = (
    # (E.164 prefix, digits after it, share of the traffic): mostly US mobiles and
    # landlines across area codes, some Canada, UK, Germany, India and Brazil
    ("+1202", 7, 10), ("+1212", 7, 10), ("+1312", 7, 8), ("+1415", 7, 8), ("+1617", 7, 6),
    ("+1713", 7, 6), ("+1305", 7, 6), ("+1404", 7, 6), ("+1206", 7, 5), ("+1303", 7, 5),
    ("+1416", 7, 5), ("+1604", 7, 4), ("+447", 9, 5), ("+4915", 9, 4), ("+9198", 8, 4),
    ("+55119", 8, 4),
)  # fmt: skip


def recipients(n: int, seed: int = 7) -> list[str]:
    """`n` distinct-looking destination numbers drawn from a mix of countries (fixed seed)."""
    rng = random.Random(seed)
    ranges = [r for r in _RECIPIENT_RANGES for _ in range(r[2])]
    out: list[str] = []
    for _ in range(n):
        prefix, digits, _share = rng.choice(ranges)
        first = str(rng.randint(2, 9))  # no trunk prefix, no 0/1 exchange in NANP
        out.append(prefix + first + "".join(str(rng.randint(0, 9)) for _ in range(digits - 1)))
    return out


Benched = dict[str, tuple[Callable[[Any], object], Sequence[Any]]]
"""Functions to measure by name, each with the items it is called on one by one."""


def interleaved(fns: Benched, passes: int = 5) -> dict[str, list[float]]:
    """Per-call wall time (µs) of several functions, measured in alternating passes.

    Each function first runs once over its items (warm-up). Then the passes
    alternate between the functions, so that a slow spell of a shared machine
    falls on all of them alike and their ratio stays meaningful.
    """
    for fn, items in fns.values():
        for item in items:
            fn(item)
    gc.collect()
    gc.freeze()  # what a long-running server does after start-up
    out: dict[str, list[float]] = {name: [] for name in fns}
    clock = time.perf_counter_ns
    for _ in range(passes):
        for name, (fn, items) in fns.items():
            samples = out[name]
            for item in items:
                start = clock()
                fn(item)
                samples.append((clock() - start) / 1000)
    gc.unfreeze()
    return out


def cpu_rates(fns: Benched, passes: int = 3) -> dict[str, float]:
    """Calls per second of this thread's CPU time, per function: the median of alternating passes.

    Wall-clock percentiles on a shared machine include the time other processes
    held the core; the CPU time of the measuring thread does not, so this is
    the figure for "per second on one core" when the machine is not quiet.
    """
    times: dict[str, list[float]] = {name: [] for name in fns}
    clock = time.thread_time_ns
    for _ in range(passes):
        for name, (fn, items) in fns.items():
            start = clock()
            for item in items:
                fn(item)
            times[name].append((clock() - start) / 1e9)
    return {name: len(fns[name][1]) / statistics.median(spent) for name, spent in times.items()}


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    n = len(ordered)
    return {
        "n": n,
        "p50_us": ordered[n // 2],
        "p99_us": ordered[min(n - 1, int(n * 0.99))],
        "mean_us": statistics.fmean(ordered),
        "per_second": 1e6 / statistics.fmean(ordered),
    }


def machine() -> str:
    return f"{platform.machine()}, Python {platform.python_version()}, {platform.system()}"


def report(name: str, data: dict[str, Any]) -> None:
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    payload = {"bench": name, "machine": machine(), "when": time.strftime("%Y-%m-%d %H:%M"), **data}
    (out / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n", "utf-8")
    print(json.dumps(payload, indent=2))
