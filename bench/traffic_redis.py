"""Redis counters: every limit of a message in one script call, from 2 client processes.

Each message is a 10DLC SMS (best of two alternating runs per mode) with an API key and a source address: 7 limits
(AT&T campaign throughput, T-Mobile brand daily cap, Verizon number
throughput, account rate, plan daily quota, API key rate, source-address
rate), checked and consumed atomically in one EVALSHA. Two client processes
send batches of 100 messages per pipeline for a fixed time; the baseline, in
the same run, is the same two processes sending pipelined bare `INCR`s (one
command per message, no check at all). The ratio says what the atomic
check of 7 limits costs against the cheapest thing Redis can do per message.

Also measured: one message at a time (no pipelining), round-trip latency
against a bare `INCR` round trip, alternating passes.

    python -m bench.traffic_redis
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import redis

from aupguard import Engine, OutboundMessage
from aupguard.traffic.limits import ChannelLimits, plan_limits
from aupguard.traffic.redis_counters import RedisCounters
from bench.common import interleaved, report, summary

URL = os.environ.get("AUPGUARD_BENCH_REDIS", "redis://127.0.0.1:6379/0")
SECONDS = 4.0
BATCH = 100
PROCESSES = 2


def _limits() -> list[Any]:
    data = Engine.from_pack().pack.data["channel_limits"]
    assert isinstance(data, ChannelLimits)
    big = data.model_copy(deep=True)
    event = OutboundMessage.model_validate(
        {
            "from": "+12025550143",
            "to": "+14155550123",
            "body": "Your appointment is confirmed for Tuesday at 3pm",
            "sender_type": "10dlc",
            "campaign": "C123",
            "brand": "B9",
            "api_key": "key-1",
            "source_ip": "192.0.2.10",
        }
    )
    limits = plan_limits(big, event, datetime.now(UTC).timestamp())
    # the bench measures cost, not refusals: raise every limit out of reach
    return [
        type(lim)(**{**{f: getattr(lim, f) for f in lim.__slots__}, "limit": 1e12, "burst": 1e12})
        for lim in limits
    ]


def _checker(prefix: str, mode: str, start: Any, out: Any) -> None:
    client = redis.Redis.from_url(URL)
    store = RedisCounters(client, prefix)
    store.load()
    limits = _limits()
    if mode == "check5":  # without the API key and source-address limits
        limits = [lim for lim in limits if lim.name not in ("api_key_rate", "source_ip_rate")]
    batch = [(f"tenant-{i % 10}", limits) for i in range(BATCH)]
    while start.value == 0.0:
        time.sleep(0.001)
    done = 0
    stop = time.perf_counter() + SECONDS
    while time.perf_counter() < stop:
        if mode != "incr":
            results = store.check_many(batch)
            assert all(r.admitted for r in results)
        else:
            pipe = client.pipeline(transaction=False)
            for i in range(BATCH):
                pipe.incr(f"{prefix}incr:{i % 10}")
            pipe.execute()
        done += BATCH
    out.put(done)


def _run(mode: str, prefix: str) -> float:
    ctx = mp.get_context("spawn")
    start, out = ctx.Value("d", 0.0), ctx.Queue()
    procs = [
        ctx.Process(target=_checker, args=(prefix, mode, start, out)) for _ in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    time.sleep(2.0)
    start.value = time.time()
    total: float = sum(out.get(timeout=120) for _ in procs)
    for p in procs:
        p.join()
    return total / SECONDS


def main() -> None:
    prefix = f"aupguard-bench:{uuid.uuid4().hex[:8]}:"
    client = redis.Redis.from_url(URL)
    try:
        limits = _limits()
        rounds = []
        for _ in range(2):  # alternate, so a slow spell falls on all of them
            rounds.append((_run("incr", prefix), _run("check", prefix), _run("check5", prefix)))
        incr = max(r[0] for r in rounds)
        check = max(r[1] for r in rounds)
        check5 = max(r[2] for r in rounds)
        store = RedisCounters(client, prefix)
        store.load()
        single = interleaved(
            {
                "bare_incr": (lambda i: client.incr(f"{prefix}one"), list(range(2000))),
                "check_7_limits": (lambda i: store.check("tenant", limits), list(range(2000))),
            },
            passes=3,
        )
        base, full = summary(single["bare_incr"]), summary(single["check_7_limits"])
        report(
            "traffic_redis",
            {
                "limits_per_message": len(limits),
                "limit_families": sorted({lim.name for lim in limits}),
                "round_trips_per_message": 1,
                "client_processes": PROCESSES,
                "pipeline_batch": BATCH,
                "seconds_per_run": SECONDS,
                "pipelined_bare_incr_per_second": round(incr),
                "pipelined_messages_checked_per_second": round(check),
                "ratio_checked_to_incr": round(check / incr, 3),
                "pipelined_messages_checked_per_second_5_limits": round(check5),
                "ratio_checked_5_limits_to_incr": round(check5 / incr, 3),
                "runs": [
                    {"incr": round(a), "check_7": round(b), "check_5": round(c)}
                    for a, b, c in rounds
                ],
                "one_at_a_time_bare_incr": base,
                "one_at_a_time_check": full,
                "ratio_latency_p50": round(full["p50_us"] / base["p50_us"], 2),
            },
        )
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)


if __name__ == "__main__":
    main()
