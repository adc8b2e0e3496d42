"""The counter and signal store contracts: the same semantics in memory and in real Redis.

Time is a fake clock handed to both stores (Redis receives it as a script
argument instead of reading `TIME`), so every expectation here is exact. The
real-clock behaviour of Redis is shown by tests/traffic/test_global_limit.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar

import hiredis
import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from aupguard.traffic.counters import (
    CounterStore,
    CounterUnavailable,
    Limit,
    LimitKind,
    MemoryCounters,
    day_windows,
)
from aupguard.traffic.redis_counters import CHECK_SCRIPT, RedisCounters
from aupguard.traffic.signals import (
    PLATFORM,
    MemorySignals,
    Observation,
    ObserveKind,
    RedisSignals,
    SignalStore,
)
from tests.services import FakeClock, redis_prefix


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "redis"])
def store(
    request: pytest.FixtureRequest, clock: FakeClock, redis_keys: tuple[redis.Redis, str]
) -> Iterator[CounterStore]:
    if request.param == "memory":
        yield MemoryCounters(clock)
    else:
        client, prefix = redis_keys
        yield RedisCounters(client, prefix, clock=clock)


def rate(n: float, per: float = 1.0, burst: float = 1.0, cost: int = 1, key: str = "s") -> Limit:
    return Limit("sender_throughput", LimitKind.RATE, key, n, per, burst, cost)


def test_rate_limit_admits_the_burst_then_waits_exactly(
    store: CounterStore, clock: FakeClock
) -> None:
    lim = rate(3, 1.0, burst=3)
    assert [store.check("t", [lim]).admitted for _ in range(3)] == [True, True, True]
    refused = store.check("t", [lim])
    assert not refused.admitted
    assert refused.exceeded == ("sender_throughput",)
    assert refused.retry_after == pytest.approx(1 / 3, abs=1e-5)
    clock.advance(1 / 3)
    assert store.check("t", [lim]).admitted
    assert not store.check("t", [lim]).admitted


def test_a_long_code_sending_five_segments_in_one_second_is_throttled(
    store: CounterStore, clock: FakeClock
) -> None:
    lim = rate(1, 1.0, burst=1)  # 1 segment per second
    results = []
    for _ in range(5):
        results.append(store.check("t", [lim]))
        clock.advance(0.2)
    assert [r.admitted for r in results] == [True, False, False, False, False]
    assert [round(r.retry_after or 0, 6) for r in results[1:]] == [0.8, 0.6, 0.4, 0.2]


def test_a_message_costing_more_than_the_burst_goes_when_idle_then_holds_the_rest(
    store: CounterStore, clock: FakeClock
) -> None:
    five = rate(1, 1.0, burst=1, cost=5)
    one = rate(1, 1.0, burst=1, cost=1)
    assert store.check("t", [five]).admitted
    clock.advance(1)
    refused = store.check("t", [one])
    assert not refused.admitted
    assert refused.retry_after == pytest.approx(4.0, abs=1e-5)
    clock.advance(4)
    assert store.check("t", [one]).admitted


def test_a_message_that_would_exceed_any_limit_consumes_none(
    store: CounterStore, clock: FakeClock
) -> None:
    windows = day_windows("UTC", clock.now)
    roomy = Limit("plan_quota", LimitKind.QUOTA, "acct", 100, cost=2, windows=windows)
    tight = rate(1, 60.0, burst=1, cost=1, key="k")
    unique = Limit("whatsapp_unique", LimitKind.DISTINCT, "acct", 10, 86400, member="+1415")
    assert store.check("t", [roomy, tight, unique]).admitted
    assert store.usage("t", roomy) == 2
    refused = store.check(
        "t", [roomy, tight, unique.__class__(**{**_fields(unique), "member": "+2"})]
    )
    assert refused.exceeded == ("sender_throughput",)
    assert store.usage("t", roomy) == 2
    assert store.usage("t", unique) == 1
    outcomes = {o.name: o.allowed for o in refused.outcomes}
    assert outcomes == {"plan_quota": True, "sender_throughput": False, "whatsapp_unique": True}


def _fields(limit: Limit) -> dict[str, Any]:
    return {f: getattr(limit, f) for f in limit.__slots__}


def test_every_exceeded_limit_is_named_with_the_longest_wait(
    store: CounterStore, clock: FakeClock
) -> None:
    a = Limit("api_key_rate", LimitKind.RATE, "key", 1, 10.0)
    b = Limit("source_ip_rate", LimitKind.RATE, "ip", 1, 30.0)
    assert store.check("t", [a, b]).admitted
    refused = store.check("t", [a, b])
    assert refused.exceeded == ("api_key_rate", "source_ip_rate")
    assert refused.retry_after == pytest.approx(30.0, abs=1e-5)


def test_daily_quota_resets_at_local_midnight(store: CounterStore, clock: FakeClock) -> None:
    # 2026-03-07 22:00 in Los Angeles; the next day is 23 hours long (DST starts)
    clock.now = datetime(2026, 3, 8, 6, 0, tzinfo=UTC).timestamp()
    lim = Limit(
        "brand_daily",
        LimitKind.QUOTA,
        "brand",
        3,
        windows=day_windows("America/Los_Angeles", clock.now),
    )
    assert [store.check("t", [lim]).admitted for _ in range(4)] == [True, True, True, False]
    refused = store.check("t", [lim])
    assert refused.retry_after == pytest.approx(2 * 3600, abs=1e-5)
    clock.advance(2 * 3600)  # local midnight; the same windows still hold it
    assert store.check("t", [lim]).admitted
    assert store.usage("t", lim) == 1
    clock.advance(23 * 3600 - 1)  # the day of the DST change lasts 23 hours
    lim2 = Limit("brand_daily", LimitKind.QUOTA, "brand", 3, windows=lim.windows)
    assert store.usage("t", lim2) == 1
    clock.advance(1)
    fresh = day_windows("America/Los_Angeles", clock.now)
    assert fresh[1] == clock.now  # the next local midnight, 23 hours later
    assert store.usage("t", Limit("brand_daily", LimitKind.QUOTA, "brand", 3, windows=fresh)) == 0


def test_quota_refuses_when_no_window_holds_the_store_time(
    store: CounterStore, clock: FakeClock
) -> None:
    lim = Limit("plan_quota", LimitKind.QUOTA, "a", 3, windows=day_windows("UTC", clock.now))
    clock.advance(5 * 86400)
    with pytest.raises(CounterUnavailable):
        store.check("t", [lim])


def test_distinct_recipients_in_a_moving_window(store: CounterStore, clock: FakeClock) -> None:
    def to(member: str) -> Limit:
        return Limit("whatsapp_unique", LimitKind.DISTINCT, "portfolio", 2, 86400, member=member)

    assert store.check("t", [to("+1")]).admitted
    clock.advance(3600)
    assert store.check("t", [to("+2")]).admitted
    assert store.check("t", [to("+1")]).admitted  # seen already: costs nothing
    refused = store.check("t", [to("+3")])
    assert not refused.admitted
    # +1 was seen again at 3600 s, so +2 (at 3600 s too) and +1 leave at 86400 + 3600
    assert refused.retry_after == pytest.approx(86400, abs=1e-5)
    clock.advance(86400)
    assert store.check("t", [to("+3")]).admitted
    assert store.usage("t", to("+3")) == 1


def test_gauge_leases_are_released_or_expire(store: CounterStore, clock: FakeClock) -> None:
    def call(lease: str) -> Limit:
        return Limit("concurrent_calls", LimitKind.GAUGE, "calls", 2, 3600, member=lease)

    assert store.check("t", [call("a")]).admitted
    assert store.check("t", [call("b")]).admitted
    assert store.check("t", [call("a")]).admitted  # the same call again: no new slot
    refused = store.check("t", [call("c")])
    assert not refused.admitted
    assert refused.retry_after == pytest.approx(3600, abs=1e-5)
    store.release("t", call("a"))
    assert store.usage("t", call("x")) == 1
    assert store.check("t", [call("c")]).admitted
    clock.advance(3601)  # a worker that crashed never released: the lease expires
    assert store.usage("t", call("x")) == 0


def test_tenants_never_share_a_counter(store: CounterStore) -> None:
    lim = rate(1, 60.0)
    assert store.check("tenant-a", [lim]).admitted
    assert not store.check("tenant-a", [lim]).admitted
    assert store.usage("tenant-b", lim) == 0
    assert store.check("tenant-b", [lim]).admitted


def test_check_many_is_check_in_order(store: CounterStore) -> None:
    lim = rate(2, 60.0, burst=2)
    results = store.check_many([("t", [lim]), ("t", [lim]), ("u", [lim]), ("t", [lim])])
    assert [r.admitted for r in results] == [True, True, True, False]


class _Recording(redis.Connection):
    """A connection that records the commands it writes (parsed back from RESP)."""

    sent: ClassVar[list[str]] = []

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        reader = hiredis.Reader()
        for chunk in [command] if isinstance(command, bytes | str) else command:
            reader.feed(chunk.encode() if isinstance(chunk, str) else chunk)
        while (parsed := reader.gets()) is not False:
            self.sent.append(parsed[0].decode().upper())
        super().send_packed_command(command, check_health)  # type: ignore[no-untyped-call]


def _recording(client: redis.Redis) -> tuple[redis.Redis, list[str]]:
    kwargs = client.connection_pool.connection_kwargs
    pool = redis.ConnectionPool(connection_class=_Recording, **kwargs)
    _Recording.sent = []
    return redis.Redis(connection_pool=pool), _Recording.sent


def test_redis_checks_five_limits_in_one_evalsha(redis_keys: tuple[redis.Redis, str]) -> None:
    client, prefix = redis_keys
    recording, seen = _recording(client)
    store = RedisCounters(recording, prefix)  # the server's clock
    windows = day_windows("America/Los_Angeles", _now(client))
    limits = [
        rate(1, 1.0),
        Limit("campaign_throughput", LimitKind.RATE, "c", 4500, 60.0, 100),
        Limit("brand_daily", LimitKind.QUOTA, "b", 2000, windows=day_windows("UTC", _now(client))),
        Limit("whatsapp_unique", LimitKind.DISTINCT, "p", 250, 86400, member="+14155550123"),
        Limit("plan_quota", LimitKind.QUOTA, "a", 10, windows=windows),
    ]
    store.load()
    seen.clear()
    result = store.check("t", limits)
    assert result.admitted
    assert seen == ["EVALSHA"]
    assert store.load() == hashlib.sha1(CHECK_SCRIPT.encode()).hexdigest()
    assert abs(result.now - _now(client)) < 60  # the server's clock, not a fake one


def _now(client: redis.Redis) -> float:
    seconds, micros = client.time()
    return float(seconds) + micros / 1e6


def test_a_batch_is_one_write_of_one_evalsha_per_event(redis_keys: tuple[redis.Redis, str]) -> None:
    client, prefix = redis_keys
    recording, seen = _recording(client)
    store = RedisCounters(recording, prefix)
    store.load()
    seen.clear()
    lim = rate(2, 60.0, burst=2)
    results = store.check_many([("t", [lim, rate(9, key="x")]), ("t", []), ("t", [lim])] * 2)
    assert [r.admitted for r in results] == [True, True, True, False, True, False]
    assert seen == ["EVALSHA"] * 4  # an event without limits sends nothing


def test_a_flushed_script_is_loaded_again_and_nothing_counts_twice(
    redis_keys: tuple[redis.Redis, str],
) -> None:
    client, prefix = redis_keys
    store = RedisCounters(client, prefix)
    lim = rate(3, 60.0, burst=3)
    assert store.check("t", [lim]).admitted
    client.script_flush()  # what a restarted Redis looks like to a worker
    results = store.check_many([("t", [lim]), ("t", [lim]), ("t", [lim])])
    assert [r.admitted for r in results] == [True, True, False]
    assert store.usage("t", lim) == pytest.approx(3, abs=0.01)


def test_a_script_error_is_counter_unavailable(redis_keys: tuple[redis.Redis, str]) -> None:
    client, prefix = redis_keys
    store = RedisCounters(client, prefix)
    stale = Limit("plan_quota", LimitKind.QUOTA, "a", 10, windows=(0.0, 1.0, 2.0, 3.0))
    with pytest.raises(CounterUnavailable, match="QUOTAWINDOW"):
        store.check("t", [stale])


def test_unreachable_redis_raises_counter_unavailable() -> None:
    client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    store = RedisCounters(client, "x:")
    with pytest.raises(CounterUnavailable):
        store.check("t", [rate(1)])


# Observation windows (signals): the same semantics in memory and in Redis


@pytest.fixture(params=["memory", "redis"])
def signals(
    request: pytest.FixtureRequest, clock: FakeClock, redis_keys: tuple[redis.Redis, str]
) -> SignalStore:
    if request.param == "memory":
        return MemorySignals(clock)
    client, prefix = redis_keys
    return RedisSignals(client, prefix, clock=clock)


def test_count_is_a_sliding_window(signals: SignalStore, clock: FakeClock) -> None:
    clock.now = 1_780_000_200.0  # a multiple of the window: a bucket starts here
    obs = Observation("n", ObserveKind.COUNT, "k", window=100)
    assert [signals.observe("t", [obs])["n"] for _ in range(3)] == [1, 2, 3]
    clock.advance(150)  # half of the previous bucket is still inside the window
    assert signals.observe("t", [obs])["n"] == pytest.approx(1 + 3 * 0.5)
    peek = Observation("n", ObserveKind.COUNT, "k", window=100, add=False)
    assert signals.observe("t", [peek])["n"] == pytest.approx(1 + 3 * 0.5)
    clock.advance(200)
    assert signals.observe("t", [peek])["n"] == 0


def test_distinct_members_and_platform_scope(signals: SignalStore) -> None:
    def seen(tenant: str, member: str, scope: str | None = None) -> float:
        obs = Observation("d", ObserveKind.DISTINCT, "brands", 3600, member, tenant=scope)
        return signals.observe(tenant, [obs])["d"]

    assert [seen("t", m) for m in ("a", "b", "a", "c")] == [1, 2, 2, 3]
    assert seen("u", "a") == 1  # another tenant's window
    assert seen("t", "x", PLATFORM) == 1
    assert seen("u", "y", PLATFORM) == 2  # shared on purpose, across tenants


def test_near_counts_other_numbers_within_the_span(signals: SignalStore) -> None:
    def near(number: str) -> float:
        obs = Observation("n", ObserveKind.NEAR, "near:44:10", 600, number, span=20)
        return signals.observe("t", [obs])["n"]

    assert near("7946001000") == 0
    assert near("7946001001") == 1
    assert near("7946001050") == 0
    assert near("7946001010") == 2
    assert near("7946001001") == 2  # a number seen again is not its own neighbour


def test_first_time_members(signals: SignalStore) -> None:
    obs = Observation("f", ObserveKind.FIRST, "countries", member="44")
    assert signals.observe("t", [obs])["f"] == 1
    assert signals.observe("t", [obs])["f"] == 0
    assert signals.observe("u", [obs])["f"] == 1


_OPS = st.lists(
    st.tuples(
        st.sampled_from([0.0, 0.05, 0.3, 1.0, 7.0, 3600.0]),  # time passing before the check
        st.integers(min_value=1, max_value=4),  # cost (segments)
        st.sets(st.integers(min_value=0, max_value=3), min_size=1),  # which limits apply
        st.sampled_from(["+1", "+2", "+3", "+4"]),  # recipient / call id
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=40, deadline=None)
@given(ops=_OPS)
def test_memory_and_redis_decide_alike(ops: list[tuple[float, int, set[int], str]]) -> None:
    """Random traffic against both stores: the same admissions, exceeded limits and waits."""
    with redis_prefix() as (client, prefix):
        c1, c2 = FakeClock(), FakeClock()
        stores: list[CounterStore] = [MemoryCounters(c1), RedisCounters(client, prefix, clock=c2)]
        windows = day_windows("Europe/Paris", c1.now)
        for advance, cost, chosen, member in ops:
            c1.advance(advance)
            c2.advance(advance)
            family = [
                Limit("sender_throughput", LimitKind.RATE, "s", 2, 1.0, 3, cost),
                Limit("plan_quota", LimitKind.QUOTA, "q", 9, cost=cost, windows=windows),
                Limit("whatsapp_unique", LimitKind.DISTINCT, "w", 2, 60.0, member=member),
                Limit("concurrent_calls", LimitKind.GAUGE, "g", 2, 10.0, member=member),
            ]
            limits = [family[i] for i in sorted(chosen)]
            try:
                got = [s.check("t", limits) for s in stores]
            except CounterUnavailable:  # the fake day ended: both must say so
                with pytest.raises(CounterUnavailable):
                    stores[1].check("t", limits)
                break
            a, b = got
            assert (a.admitted, a.exceeded) == (b.admitted, b.exceeded)
            assert (a.retry_after is None) == (b.retry_after is None)
            if a.retry_after is not None and b.retry_after is not None:
                assert a.retry_after == pytest.approx(b.retry_after, abs=1e-5)
            assert [o.remaining for o in a.outcomes] == [o.remaining for o in b.outcomes]
