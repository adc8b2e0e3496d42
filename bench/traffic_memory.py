"""In-memory counters: checks per second on one core.

`check_1` is one rate limit per check (a long code's 1 segment/s, many
senders); `check_5` is a message's 5 limits at once (sender, account rate,
daily plan quota, API key, source address). Baseline, alternating with them
in the same process: incrementing a counter in a dict under a lock, the least
a thread-safe in-process counter does.

    python -m bench.traffic_memory
"""

from __future__ import annotations

import threading
import time

from aupguard.traffic.counters import Limit, LimitKind, MemoryCounters, day_windows
from bench.common import interleaved, report, summary

N = 20_000


def main() -> None:
    store = MemoryCounters()
    windows = day_windows("UTC", time.time())
    big = 1e12
    one = [
        [Limit("sender_throughput", LimitKind.RATE, f"s{i % 500}", big, 1.0, big)] for i in range(N)
    ]
    five = [
        [
            Limit("sender_throughput", LimitKind.RATE, f"s{i % 500}", big, 1.0, big),
            Limit("account_rate", LimitKind.RATE, "account", big, 1.0, big),
            Limit("plan_quota", LimitKind.QUOTA, "daily", big, windows=windows),
            Limit("api_key_rate", LimitKind.RATE, "key", big, 1.0, big),
            Limit("source_ip_rate", LimitKind.RATE, "ip", big, 1.0, big),
        ]
        for i in range(N)
    ]
    lock = threading.Lock()
    counts: dict[str, int] = {}

    def bare(key: str) -> None:
        with lock:
            counts[key] = counts.get(key, 0) + 1

    samples = interleaved(
        {
            "bare_dict_increment": (bare, [f"s{i % 500}" for i in range(N)]),
            "check_1": (lambda limits: store.check("t", limits), one),
            "check_5": (lambda limits: store.check("t", limits), five),
        },
        passes=5,
    )
    base, c1, c5 = (summary(samples[k]) for k in ("bare_dict_increment", "check_1", "check_5"))
    # throughput without per-call timers: tight loops, the best of 5 (a shared
    # machine only ever slows a loop down)
    loops = []
    for _ in range(5):
        start = time.perf_counter()
        for limits in one:
            store.check("t", limits)
        loops.append(N / (time.perf_counter() - start))
    loop = max(loops)
    report(
        "traffic_memory",
        {
            "checks": N,
            "bare_dict_increment": base,
            "check_1_limit": c1,
            "check_5_limits": c5,
            "checks_per_second_one_core_tight_loop": round(loop),
            "tight_loop_runs": [round(x) for x in loops],
            "ratio_mean_check_1": round(c1["mean_us"] / base["mean_us"], 2),
            "ratio_mean_check_5": round(c5["mean_us"] / base["mean_us"], 2),
        },
    )


if __name__ == "__main__":
    main()
