"""Abuse patterns across senders, accounts and API use, through the screening pipeline."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.factories import NOON_NY, message
from tests.services import FakeClock

from aupguard import ApiRequest, Engine, Verdict
from aupguard.engine.decision import Decision
from aupguard.service import Screener
from aupguard.traffic.signals import MemorySignals
from aupguard.traffic.simhash import bands, hamming, simhash
from aupguard.traffic.sources import TrafficSignals

PROMO = "Huge sale this weekend only at Bright Shoes, visit our store for {n}% off everything"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOON_NY.timestamp())


@pytest.fixture
def screener(engine: Engine, clock: FakeClock) -> Screener:
    return Screener(engine, [TrafficSignals(engine, MemorySignals(clock))])


def _at(clock: FakeClock) -> datetime:
    return datetime.fromtimestamp(clock.now, NOON_NY.tzinfo)


def _rules(decision: Decision) -> set[str]:
    return {h.rule for h in decision.hits}


def test_near_identical_content_over_many_sender_numbers_is_held(
    screener: Screener, clock: FakeClock
) -> None:
    decisions = []
    for i in range(12):
        body = PROMO.format(n=20 + i)  # the number changes, the template does not
        event = message(body, **{"from": f"+1202555{i:04d}"}, category="marketing", at=_at(clock))
        decisions.append(screener.screen(event))
        clock.advance(30)
    rules = [_rules(d) for d in decisions]
    assert all("traffic.snowshoe_senders" not in r for r in rules[:9])
    assert "traffic.snowshoe_senders" in rules[9]
    assert decisions[9].verdict is Verdict.HOLD
    assert "V5" in decisions[9].clauses


def test_one_sender_repeating_itself_is_not_snowshoeing(
    screener: Screener, clock: FakeClock
) -> None:
    for i in range(30):
        decision = screener.screen(message(PROMO.format(n=i), category="marketing", at=_at(clock)))
        assert "traffic.snowshoe_senders" not in _rules(decision)
        clock.advance(10)


def test_the_same_promotion_through_many_accounts_is_held(
    screener: Screener, clock: FakeClock
) -> None:
    seen = []
    for i in range(6):
        event = message(
            PROMO.format(n=30), account=f"acct-{i}", category="marketing", at=_at(clock)
        )
        seen.append(_rules(screener.screen(event)))
    assert "traffic.snowshoe_accounts" not in seen[3]
    assert "traffic.snowshoe_accounts" in seen[4]


def test_many_brands_through_one_account_are_raised_for_review(
    screener: Screener, clock: FakeClock
) -> None:
    decisions = [
        screener.screen(message("hello there", brand=f"Brand {i}", at=_at(clock))) for i in range(6)
    ]
    assert "traffic.reseller_signal" in _rules(decisions[4])
    assert decisions[4].verdict is Verdict.ALLOW  # a tag for review, not a block
    assert "case-candidate" in decisions[4].tags


def _request(clock: FakeClock, **fields: object) -> ApiRequest:
    data: dict[str, object] = {"method": "POST", "path": "/v1/messages", "at": _at(clock)}
    data.update(fields)
    return ApiRequest.model_validate(data)


def test_one_key_used_from_many_countries_is_key_sharing(
    screener: Screener, clock: FakeClock
) -> None:
    verdicts = []
    for country in ("US", "BR", "VN", "NG"):
        event = _request(clock, api_key="key-1", country=country, source_ip="192.0.2.7")
        verdicts.append(screener.screen(event))
    assert [d.verdict for d in verdicts] == [Verdict.ALLOW] * 2 + [Verdict.HOLD] * 2
    assert "traffic.key_sharing" in _rules(verdicts[2])


def test_auth_failure_storm_locks_out_with_growing_backoff(
    screener: Screener, clock: FakeClock
) -> None:
    decisions = []
    for _ in range(25):
        decisions.append(screener.screen(_request(clock, status=401, source_ip="203.0.113.9")))
        clock.advance(1)
    assert all(d.verdict is Verdict.ALLOW for d in decisions[:9])
    assert decisions[9].verdict is Verdict.THROTTLE
    assert decisions[9].retry_after == 60
    assert decisions[19].retry_after == 120
    assert set(decisions[9].clauses) >= {"P3", "P4", "V5"}
    # another source is not locked out
    other = screener.screen(_request(clock, status=401, source_ip="198.51.100.1"))
    assert other.verdict is Verdict.ALLOW


def test_probing_many_unknown_paths_is_throttled(screener: Screener, clock: FakeClock) -> None:
    decisions = [
        screener.screen(_request(clock, method="GET", path=f"/admin/{i}", status=404))
        for i in range(22)
    ]
    assert decisions[18].verdict is Verdict.ALLOW
    assert decisions[19].verdict is Verdict.THROTTLE
    assert "traffic.path_probing" in _rules(decisions[19])


def test_crawling_a_list_endpoint_is_throttled_as_scraping(
    screener: Screener, clock: FakeClock
) -> None:
    decisions = []
    for page in range(130):
        event = _request(clock, method="GET", path=f"/v1/messages?page={page}", api_key="k9")
        decisions.append(screener.screen(event))
        clock.advance(0.3)
    assert decisions[100].verdict is Verdict.ALLOW
    assert decisions[-1].verdict is Verdict.THROTTLE
    assert decisions[-1].clauses == ("V6",)


def test_an_integration_reading_a_few_pages_is_not_scraping(
    screener: Screener, clock: FakeClock
) -> None:
    for page in range(30):
        event = _request(clock, method="GET", path=f"/v1/messages?page={page}", api_key="k9")
        assert screener.screen(event).verdict is Verdict.ALLOW
        clock.advance(2)


def test_simhash_finds_templated_variants_and_separates_unrelated_texts() -> None:
    a = simhash(PROMO.format(n=20))
    b = simhash(PROMO.format(n=35))
    c = simhash("Your appointment with Dr Jones is confirmed for Tuesday at 3pm, reply C to cancel")
    assert a is not None and b is not None and c is not None
    assert hamming(a, b) == 0  # digits are templated away
    assert hamming(a, c) > 10
    assert set(bands(a)) & set(bands(b))


@settings(max_examples=200)
@given(st.integers(min_value=0, max_value=2**64 - 1), st.sets(st.integers(0, 63), max_size=3))
def test_fingerprints_within_three_bits_share_a_band(value: int, flips: set[int]) -> None:
    other = value
    for bit in flips:
        other ^= 1 << bit
    assert set(bands(value)) & set(bands(other))


def _reference_simhash(text: str) -> int | None:
    """SimHash written out bit by bit: each word pair's hash votes +1 or -1 per bit."""
    import hashlib

    from aupguard.traffic.simhash import shingles

    parts = shingles(text)
    if not parts:
        return None
    weights = [0] * 64
    for part in parts:
        h = int.from_bytes(hashlib.blake2b(part.encode("utf-8"), digest_size=8).digest(), "big")
        for bit in range(64):
            weights[bit] += 1 if h >> bit & 1 else -1
    return sum(1 << bit for bit in range(64) if weights[bit] > 0)


@given(st.text(max_size=400))
@settings(max_examples=300, deadline=None)
def test_simhash_counts_bits_as_the_reference_does(text: str) -> None:
    assert simhash(text) == _reference_simhash(text)


def test_simhash_of_a_text_longer_than_one_counting_block() -> None:
    words = ("".join(chr(97 + i // 26**k % 26) for k in range(3)) for i in range(70_000))
    text = " ".join(words)  # 69,999 word pairs: more than one block of 65,535
    assert simhash(text) == _reference_simhash(text)
