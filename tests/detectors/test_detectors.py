"""Detectors on their own: emergency numbers, links, card numbers, payloads."""

from __future__ import annotations

import pytest

from aupguard import Engine, State, Verdict
from aupguard.detectors.dlp import card_numbers, luhn_ok
from aupguard.detectors.numbers import emergency_regions, short_digits
from aupguard.detectors.urls import deobfuscate, find_links, registrable_domain
from aupguard.engine.normalise import normalise
from aupguard.engine.state import AccountState, RecipientState
from tests.factories import call, message


@pytest.mark.parametrize(
    ("dialled", "region"),
    [
        ("911", "US"),
        ("9-1-1", "US"),
        ("(112)", "DE"),
        ("112", "US"),
        ("999", "GB"),
        ("000", "AU"),
        ("110", "JP"),
        ("119", "JP"),
        ("100", "IN"),
    ],
)
def test_emergency_numbers_in_any_formatting(dialled: str, region: str) -> None:
    digits = short_digits(dialled)
    assert digits is not None
    assert region in emergency_regions(digits)


def test_ordinary_numbers_are_not_emergency() -> None:
    assert short_digits("+14155550123") is None
    assert short_digits("call 911 now") is None
    assert emergency_regions("5551234") == frozenset()


def test_emergency_call_depends_on_region_and_capability(engine: Engine) -> None:
    assert engine.screen(call("911")).verdict is Verdict.BLOCK
    assert engine.screen(call("112", region="DE")).verdict is Verdict.BLOCK
    # 000 is Australia's number, not Germany's
    assert engine.screen(call("000", region="DE")).verdict is Verdict.ALLOW
    able = State(account=AccountState(capabilities=frozenset({"emergency_calling"})))
    assert engine.screen(call("911"), able).verdict is Verdict.ALLOW
    # the recipient's known region decides when the call names none
    gb = State(recipient=RecipientState(region="GB"))
    assert engine.screen(call("999"), gb).verdict is Verdict.BLOCK
    assert engine.screen(message("help", to="911")).clauses == ("P18", "S11")


@pytest.mark.parametrize(
    ("raw", "domain"),
    [
        ("pay at hxxp://dhl-track[.]top/pay", "dhl-track.top"),
        ("go to paypal dot com now", "paypal.com"),
        ("login at https://secure.paypal.co.uk/x", "paypal.co.uk"),
        ("visit www.example.org", "example.org"),
        ("bit.ly/3xYz", "bit.ly"),
        ("http://192.168.10.4/login", "192.168.10.4"),
        ("see evil(.)com today", "evil.com"),
    ],
)
def test_links_are_found_through_defanging(raw: str, domain: str) -> None:
    text, _ = deobfuscate(normalise(raw))
    assert [link.domain for link in find_links(text)] == [domain]


@pytest.mark.parametrize(
    "raw", ["ok.so see you", "wait.what", "version 1.2.3", "e.g. this", "http://", "http://[::1"]
)
def test_prose_is_not_taken_for_links(raw: str) -> None:
    text, _ = deobfuscate(normalise(raw))
    assert find_links(text) == []


def test_registrable_domain_uses_the_bundled_suffix_list() -> None:
    assert registrable_domain("login.paypal.co.uk") == "paypal.co.uk"
    assert registrable_domain("a.b.c.dhl-track.top") == "dhl-track.top"
    assert registrable_domain("no-suffix") == ""
    assert registrable_domain("x" * 5000 + ".com") == ""


def test_card_numbers() -> None:
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("4111111111111112")
    found = card_numbers("card 4111-1111-1111-1111 and 5500 0000 0000 0004, order 1234567890123")
    assert [d[-4:] for _, _, d in found] == ["1111", "0004"]
    assert card_numbers("0000 0000 0000 0000") == []


def test_payload_rules(engine: Engine) -> None:
    assert engine.screen(message("a\u202eb")).verdict is Verdict.BLOCK
    assert engine.screen(message("line\nnext\ttab")).verdict is Verdict.ALLOW
    assert engine.screen(message("x" * 1601)).verdict is Verdict.BLOCK
    assert engine.screen(message("x" * 1601, channel="whatsapp")).verdict is Verdict.ALLOW
