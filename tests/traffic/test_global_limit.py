"""A limit is global: worker processes sharing Redis admit what one would.

Two processes hammer one 100 msg/s limit (burst 10) for 10 s of *Redis*
time. The window is measured by the server's clock, which the script returns
with every answer, so a worker descheduled for a while on a busy machine
changes how many requests it makes, never how many are admitted. GCRA admits
the burst plus 100 per second: 1,010 in 10 s; the test asks for 1,000 ± 2%,
and, exactly, never more than the algorithm allows.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from multiprocessing.sharedctypes import Synchronized
from typing import Any

import redis
from tests.services import REDIS_URL, redis_prefix

from aupguard.traffic.counters import Limit, LimitKind
from aupguard.traffic.redis_counters import RedisCounters

RATE, BURST, SECONDS, WORKERS = 100, 10, 10.0, 2
PAUSE = 0.001
"""Each worker pauses between attempts: ~2,000 attempts/s for a 100/s limit, while
leaving the CPU to Redis on a 2-core machine (spinning workers starve it, and a
stall of all of them longer than the burst, 100 ms, loses admissions)."""


def _limit() -> Limit:
    return Limit("account_rate", LimitKind.RATE, "global", RATE, 1.0, BURST)


def _worker(prefix: str, start: Synchronized[float], ready: Any, out: Any) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    store = RedisCounters(client, prefix)
    store.load()
    limit = [_limit()]
    ready.release()
    while start.value == 0.0:  # wait for the starting gun
        time.sleep(0.001)
    deadline = start.value + SECONDS
    admitted = attempts = 0
    stop_at = time.monotonic() + SECONDS + 60  # stops by itself whatever happens
    while time.monotonic() < stop_at:
        result = store.check("tenant", limit)
        if result.now >= deadline:
            break
        attempts += 1
        admitted += result.admitted
        time.sleep(PAUSE)
    out.put((admitted, attempts))


def test_worker_processes_sharing_redis_admit_the_global_limit() -> None:
    ctx = mp.get_context("spawn")
    with redis_prefix() as (client, prefix):
        start = ctx.Value("d", 0.0)
        out = ctx.Queue()
        ready = ctx.Semaphore(0)
        procs = [
            ctx.Process(target=_worker, args=(prefix, start, ready, out)) for _ in range(WORKERS)
        ]
        for p in procs:
            p.start()
        for _ in procs:  # every worker has imported, connected and loaded the script
            assert ready.acquire(timeout=120)
        seconds, micros = client.time()
        start.value = seconds + micros / 1e6
        results = [out.get(timeout=SECONDS + 120) for _ in procs]
        for p in procs:
            p.join(timeout=30)
        admitted = sum(a for a, _ in results)
        attempts = sum(n for _, n in results)
    assert all(n > 0 for _, n in results), results  # every worker took part
    assert attempts > admitted  # the limit was contended
    assert admitted <= BURST + RATE * SECONDS + 1  # never more than GCRA allows
    assert 980 <= admitted <= 1020, (admitted, attempts)
