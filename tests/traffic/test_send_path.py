"""Limits and pumping signals in the send path (Screener + TrafficSignals + LimitStep)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, Literal

import phonenumbers
import pytest
import redis
from prometheus_client import REGISTRY
from tests.factories import NOON_NY, call, message
from tests.services import FakeClock, redis_prefix

from aupguard import Engine, Verdict
from aupguard.engine.events import AnyEvent
from aupguard.engine.state import AccountState
from aupguard.service import Screener
from aupguard.traffic.counters import CounterStore, Limit, LimitKind, MemoryCounters, day_windows
from aupguard.traffic.redis_counters import RedisCounters
from aupguard.traffic.service import CallGauge, LimitStep
from aupguard.traffic.signals import MemorySignals, RedisSignals, SignalStore
from aupguard.traffic.sources import TrafficSignals, record_verification


class Account:
    """A state source standing in for the account store."""

    name = "accounts"
    fail_mode: Literal["open", "closed"] = "closed"
    clauses: tuple[str, ...] = ("V12",)

    def __init__(self, **fields: Any) -> None:
        self.state = AccountState(**fields)

    def read(self, event: AnyEvent, now: datetime) -> dict[str, Any]:
        return {"account": self.state}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOON_NY.timestamp())


def _at(clock: FakeClock) -> datetime:
    return datetime.fromtimestamp(clock.now, NOON_NY.tzinfo)


def test_long_code_sending_five_segments_in_one_second_is_throttled(
    engine: Engine, clock: FakeClock
) -> None:
    counters = MemoryCounters(clock)
    screener = Screener(engine, after=[LimitStep(engine, counters)])
    decisions = []
    for _ in range(5):
        decisions.append(screener.screen(message("see you at 7", at=_at(clock))))
        clock.advance(0.2)
    assert [d.verdict for d in decisions] == [Verdict.ALLOW] + [Verdict.THROTTLE] * 4
    throttled = decisions[1]
    assert throttled.hits[0].rule == "traffic.channel_limit"
    assert throttled.clauses == ("W1", "P9")
    assert throttled.code == 20429
    assert throttled.retry_after == pytest.approx(0.8)
    assert [d.retry_after for d in decisions[2:]] == pytest.approx([0.6, 0.4, 0.2])


def test_a_five_segment_message_holds_the_long_code_for_five_seconds(
    engine: Engine, clock: FakeClock
) -> None:
    screener = Screener(engine, after=[LimitStep(engine, MemoryCounters(clock))])
    long_text = "word " * 140  # 700 GSM-7 characters: 5 segments
    assert screener.screen(message(long_text, at=_at(clock))).verdict is Verdict.ALLOW
    clock.advance(1)
    nxt = screener.screen(message("and one more", at=_at(clock)))
    assert nxt.verdict is Verdict.THROTTLE
    assert nxt.retry_after == pytest.approx(4.0)


def test_a_message_the_content_rules_block_consumes_no_limit(
    engine: Engine, clock: FakeClock
) -> None:
    counters = MemoryCounters(clock)
    screener = Screener(engine, after=[LimitStep(engine, counters)])
    lure = "Your parcel is held, pay the fee at hxxp://dhl-track[.]top/pay"
    assert screener.screen(message(lure, at=_at(clock))).verdict is Verdict.BLOCK
    quota = Limit(
        "plan_quota", LimitKind.QUOTA, "daily", 1e5, windows=day_windows("UTC", clock.now)
    )
    assert counters.usage("default", quota) == 0
    assert screener.screen(message("see you at 7", at=_at(clock))).verdict is Verdict.ALLOW
    assert counters.usage("default", quota) == 1


def test_a_throttled_message_consumes_none_of_its_other_limits(
    engine: Engine, clock: FakeClock
) -> None:
    counters = MemoryCounters(clock)
    screener = Screener(engine, after=[LimitStep(engine, counters)])
    quota = Limit(
        "plan_quota", LimitKind.QUOTA, "daily", 1e5, windows=day_windows("UTC", clock.now)
    )
    screener.screen(message("one", at=_at(clock)))
    assert screener.screen(message("two", at=_at(clock))).verdict is Verdict.THROTTLE
    assert counters.usage("default", quota) == 1


def test_plan_quota_fails_closed_and_others_fail_open_when_redis_is_down(
    engine: Engine,
) -> None:
    down = RedisCounters(redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2))
    screener = Screener(engine, after=[LimitStep(engine, down)])

    def metric(mode: str) -> float:
        return (
            REGISTRY.get_sample_value("aupguard_counter_store_degraded_total", {"mode": mode}) or 0
        )

    closed_before, open_before = metric("closed"), metric("open")
    decision = screener.screen(message("see you at 7"))
    assert decision.verdict is Verdict.THROTTLE
    assert decision.hits[0].rule == "traffic.limits_unavailable"
    assert decision.clauses == ("V9", "O3")
    assert decision.retry_after == 60
    assert "failed closed: plan_quota" in decision.degraded[0]
    assert "sender_throughput" in decision.degraded[0]
    assert metric("closed") == closed_before + 1
    # an API request has only fail-open limits: it goes on, and the decision says why
    from aupguard import ApiRequest

    request = ApiRequest(method="GET", path="/v1/messages", api_key="k", source_ip="192.0.2.1")
    answered = screener.screen(request)
    assert answered.verdict is Verdict.ALLOW
    assert "failed open: api_key_rate, source_ip_rate" in answered.degraded[0]
    assert metric("open") == open_before + 2


def test_concurrent_calls_are_capped_by_plan_and_released(engine: Engine, clock: FakeClock) -> None:
    counters = MemoryCounters(clock)
    screener = Screener(engine, [Account(plan="trial")], after=[LimitStep(engine, counters)])
    first = screener.screen(call("+14155550123", id="call-1", at=_at(clock)))
    assert first.verdict is Verdict.ALLOW
    clock.advance(2)
    second = screener.screen(call("+14155550124", id="call-2", at=_at(clock)))
    assert second.verdict is Verdict.THROTTLE
    assert second.hits[0].rule == "traffic.plan_quota"
    assert second.clauses == ("V9", "O3")
    gauge = CallGauge(counters)
    assert gauge.active("default") == 1
    gauge.release("default", "call-1")
    assert gauge.active("default") == 0
    clock.advance(2)
    assert screener.screen(call("+14155550124", id="call-2", at=_at(clock))).verdict is (
        Verdict.ALLOW
    )


def test_whatsapp_unique_recipients_by_tier(engine: Engine, clock: FakeClock) -> None:
    screener = Screener(engine, after=[LimitStep(engine, MemoryCounters(clock))])
    verdicts = []
    for i in range(252):
        event = message(
            "Your order has shipped",
            channel="whatsapp",
            sender_type="whatsapp_business",
            to=f"+1415555{i:04d}",
            category="transactional",
            at=_at(clock),
        )
        verdicts.append(screener.screen(event))
        clock.advance(0.1)
    assert all(d.verdict is Verdict.ALLOW for d in verdicts[:250])
    assert verdicts[250].verdict is Verdict.THROTTLE
    assert verdicts[250].retry_after == pytest.approx(86400 - 25.0, abs=0.01)


def test_whatsapp_messages_to_one_user_are_paced(engine: Engine, clock: FakeClock) -> None:
    screener = Screener(engine, after=[LimitStep(engine, MemoryCounters(clock))])

    def send(to: str) -> Any:
        event = message(
            "Your table is ready",
            channel="whatsapp",
            sender_type="whatsapp_business",
            to=to,
            category="conversational",
            at=_at(clock),
        )
        return screener.screen(event)

    assert send("+14155550100").verdict is Verdict.ALLOW
    clock.advance(2)
    again = send("+14155550100")
    assert again.verdict is Verdict.THROTTLE
    assert again.hits[0].rule == "traffic.whatsapp_pair_rate"
    assert again.code == 131056
    assert again.retry_after == pytest.approx(4.0)
    assert send("+14155550101").verdict is Verdict.ALLOW  # another user is not held back
    clock.advance(4)
    assert send("+14155550100").verdict is Verdict.ALLOW


# SMS pumping


@pytest.fixture(params=["memory", "redis"])
def signal_store(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[SignalStore]:
    if request.param == "memory":
        yield MemorySignals(clock)
    else:
        with redis_prefix() as (client, prefix):
            yield RedisSignals(client, prefix, clock=clock)


def _pipeline(engine: Engine, signals: SignalStore, clock: FakeClock, **account: Any) -> Screener:
    return Screener(
        engine,
        [Account(**account), TrafficSignals(engine, signals)],
        [LimitStep(engine, MemoryCounters(clock))],
    )


def test_pumping_burst_to_sequential_high_cost_numbers_is_blocked_early(
    engine: Engine, clock: FakeClock, signal_store: SignalStore
) -> None:
    # the account enabled the destination: geo permissions alone do not stop it
    screener = _pipeline(engine, signal_store, clock, enabled_countries={"001"})
    first_block = None
    for i in range(300):
        event = message(
            "Your verification code is 482913",
            to=f"+88216400{1000 + i:04d}",
            sender_type="short_code",
            category="otp",
            at=_at(clock),
        )
        decision = screener.screen(event)
        if decision.verdict is Verdict.BLOCK and first_block is None:
            first_block = (i, decision)
        clock.advance(0.5)
    assert first_block is not None
    index, decision = first_block
    assert index < 50
    assert decision.code == 30450
    assert "sms-pumping" in decision.tags
    assert "P24" in decision.clauses


def test_pumping_burst_to_a_new_country_with_sequential_numbers_is_blocked(
    engine: Engine, clock: FakeClock, signal_store: SignalStore
) -> None:
    screener = _pipeline(engine, signal_store, clock)
    verdicts = []
    for i in range(60):
        event = message(
            "Your verification code is 482913",
            to=f"+4479460{1000 + i * 3:05d}",
            sender_type="short_code",
            category="otp",
            at=_at(clock),
        )
        verdicts.append(screener.screen(event).verdict)
        clock.advance(0.5)
    assert Verdict.BLOCK in verdicts[:50]


_REGIONS = ("US", "US", "US", "GB", "DE", "FR", "CA", "AU", "BR", "IN", "MX")


def _real_looking_numbers(n: int, seed: int = 5, regions: tuple[str, ...] = _REGIONS) -> list[str]:
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        region = rng.choice(regions)
        example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        assert example is not None
        national = str(example.national_number)
        digits = national[: max(3, len(national) - 6)] + "".join(
            rng.choice("0123456789") for _ in range(len(national) - max(3, len(national) - 6))
        )
        candidate = phonenumbers.parse(f"+{example.country_code}{digits}")
        if phonenumbers.is_valid_number(candidate):
            out.append(phonenumbers.format_number(candidate, phonenumbers.PhoneNumberFormat.E164))
    return out


def test_normal_otp_traffic_at_the_same_rate_is_not_blocked(
    engine: Engine, clock: FakeClock, signal_store: SignalStore
) -> None:
    screener = _pipeline(engine, signal_store, clock)
    numbers = _real_looking_numbers(300)
    assert len(set(numbers)) > 290
    decisions = []
    for i, to in enumerate(numbers):
        event = message(
            f"Your verification code is {100000 + i * 7919 % 900000}",
            to=to,
            sender_type="short_code",
            category="otp",
            at=_at(clock),
        )
        decisions.append(screener.screen(event))
        if i % 3 == 0:  # the platform reports most codes used
            record_verification(signal_store, "default", to)
        clock.advance(0.5)
    held = [
        (d.verdict, [h.rule for h in d.hits]) for d in decisions if d.verdict is not Verdict.ALLOW
    ]
    assert held == []


def test_low_conversion_blocks_once_the_platform_reports_verifications(
    engine: Engine, clock: FakeClock
) -> None:
    signals = MemorySignals(clock)
    screener = _pipeline(engine, signals, clock)
    numbers = _real_looking_numbers(80, seed=9, regions=("GB",))
    record_verification(signals, "default", numbers[0])
    verdicts = []
    for to in numbers:
        event = message(
            "Your code is 123456", to=to, sender_type="short_code", category="otp", at=_at(clock)
        )
        verdicts.append(screener.screen(event))
        clock.advance(1)
    blocked = [d for d in verdicts if d.verdict is Verdict.BLOCK]
    assert blocked
    assert {h.rule for d in blocked for h in d.hits} >= {"traffic.otp_low_conversion"}


def test_signals_fail_open_when_the_store_is_down(engine: Engine) -> None:
    down = RedisSignals(redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2))
    screener = Screener(engine, [TrafficSignals(engine, down)])
    decision = screener.screen(message("see you at 7", to="+882164001234"))
    assert decision.verdict is Verdict.BLOCK  # geo permissions are not signals
    assert decision.degraded and decision.degraded[0].startswith("traffic-signals:")
    assert screener.screen(message("see you at 7")).verdict is Verdict.ALLOW


def test_events_carry_their_time_into_quota_windows(engine: Engine, clock: FakeClock) -> None:
    counters: CounterStore = MemoryCounters(clock)
    step = LimitStep(engine, counters)
    screener = Screener(engine, [Account(plan="trial")], after=[step])
    allowed = 0
    for _ in range(600):
        decision = screener.screen(message("hi", sender_type="short_code", at=_at(clock)))
        allowed += decision.verdict is Verdict.ALLOW
        clock.advance(1.01)
    assert allowed == 500  # the trial plan's daily segments
    assert step.last is not None
    clock.now = (NOON_NY + timedelta(days=1)).timestamp()
    assert screener.screen(message("hi", at=_at(clock))).verdict is Verdict.ALLOW


def test_sender_types_and_profiles_choose_the_limits(engine: Engine) -> None:
    from aupguard.traffic.limits import ChannelLimits, SenderProfile, plan_limits

    data = engine.pack.data["channel_limits"]
    assert isinstance(data, ChannelLimits)
    at = NOON_NY.timestamp()

    def by_name(event: AnyEvent, profile: SenderProfile | None = None) -> dict[str, Limit]:
        return {lim.name: lim for lim in plan_limits(data, event, at, profile=profile)}

    toll_free = by_name(message("hi", sender_type="toll_free"))
    assert (toll_free["sender_throughput"].limit, toll_free["sender_throughput"].period) == (3, 1)
    upgraded = by_name(message("hi", sender_type="toll_free"), SenderProfile(throughput=25))
    assert upgraded["sender_throughput"].limit == 25
    ten_dlc = by_name(
        message("x" * 200, sender_type="10dlc", campaign="C1", brand="B1", api_key="k"),
        SenderProfile(campaign_class="A", brand_tier="standard"),
    )
    assert ten_dlc["campaign_throughput"].limit == 4500
    assert ten_dlc["campaign_throughput"].period == 60
    assert ten_dlc["campaign_throughput"].cost == 2  # 200 GSM-7 characters: 2 segments
    assert ten_dlc["brand_daily"].limit == 40000
    assert ten_dlc["sender_throughput"].limit == 6000  # Verizon, per number per minute
    assert {"account_rate", "plan_quota", "api_key_rate"} <= set(ten_dlc)
    only_att = by_name(message("hi", sender_type="10dlc"), SenderProfile(carrier="att"))
    assert set(only_att) == {"campaign_throughput", "account_rate", "plan_quota"}
    assert only_att["campaign_throughput"].limit == 75  # unvetted: class T
    mms = by_name(message("hi", sender_type="10dlc", channel="mms"), SenderProfile(carrier="att"))
    assert mms["campaign_throughput"].limit == 50
    wa = by_name(message("hi", channel="whatsapp", sender_type="whatsapp_business"))
    assert wa["whatsapp_throughput"].limit == 80
    assert wa["whatsapp_unique"].limit == 250
    assert (wa["whatsapp_pair"].limit, wa["whatsapp_pair"].period) == (1, 6)
    inside_window = by_name(
        message(
            "hi", channel="whatsapp", category="conversational", sender_type="whatsapp_business"
        )
    )
    assert "whatsapp_unique" not in inside_window


def test_api_requests_are_limited_per_key_and_address(engine: Engine, clock: FakeClock) -> None:
    from aupguard import ApiRequest

    screener = Screener(engine, after=[LimitStep(engine, MemoryCounters(clock))])

    def request(key: str, ip: str) -> ApiRequest:
        return ApiRequest.model_validate(
            {"method": "POST", "path": "/v1/messages", "api_key": key, "source_ip": ip}
        )

    before = REGISTRY.get_sample_value("aupguard_limit_checks_total", {"outcome": "throttled"})
    verdicts = [screener.screen(request("k1", f"192.0.2.{i % 50}")).verdict for i in range(201)]
    assert verdicts[:200] == [Verdict.ALLOW] * 200  # burst 200 per key
    assert verdicts[200] is Verdict.THROTTLE
    other_key = screener.screen(request("k2", "198.51.100.7"))
    assert other_key.verdict is Verdict.ALLOW
    after = REGISTRY.get_sample_value("aupguard_limit_checks_total", {"outcome": "throttled"})
    assert (after or 0) == (before or 0) + 1
    clock.advance(0.01)  # 100 per second: one more after 10 ms
    assert screener.screen(request("k1", "192.0.2.1")).verdict is Verdict.ALLOW
