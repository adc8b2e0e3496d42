"""E.164 normalisation, sender kinds and brand lookalike sender ids."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aupguard.engine.events import SenderType
from aupguard.identity.numbering import (
    InvalidSender,
    _strict_e164,
    classify,
    destination_region,
    e164,
    normalise_sender,
    parse_number,
    region_of,
)
from aupguard.identity.senderid import BrandNames


@pytest.mark.parametrize(
    "spelling",
    ["+12025550143", "+1 (202) 555-0143", "tel:+1-202-555-0143", "whatsapp:+12025550143",
     "sip:+12025550143@carrier.example;user=phone", "001 202 555 0143"],
)  # fmt: skip
def test_spellings_of_one_number_normalise_alike(spelling: str) -> None:
    region = "DE" if spelling.startswith("00") else None
    assert normalise_sender(spelling, region) == "+12025550143"


def test_national_numbers_need_a_region() -> None:
    assert normalise_sender("(202) 555-0143", "US") == "+12025550143"
    with pytest.raises(InvalidSender, match="country code"):
        normalise_sender("(202) 555-0143")


def test_sender_kinds() -> None:
    assert classify("+18005550100") is SenderType.TOLL_FREE
    assert classify("+12025550143") is SenderType.LONG_CODE
    assert classify("12345") is SenderType.SHORT_CODE
    assert classify("Acme Co") is SenderType.ALPHANUMERIC
    assert normalise_sender("  acme   co ") == "ACME CO"
    for bad in ("", "a" * 12, "+1 202", "ünïcode"):
        with pytest.raises(InvalidSender):
            normalise_sender(bad)


def test_destination_regions() -> None:
    assert destination_region("+5358123456", None) == "CU"
    assert destination_region("911", "US") == "US"
    assert destination_region("12345", None) is None
    assert destination_region("+447700900123", None) == "GB"  # a possible number, drama range


@given(st.sampled_from(["US", "GB", "DE", "FR", "IN", "BR", "JP", "AU"]), st.data())
def test_e164_is_idempotent_and_keeps_the_number(region: str, data: st.DataObject) -> None:
    example = phonenumbers.example_number(region)
    assert example is not None
    national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
    separators = data.draw(st.sampled_from([" ", "-", ".", ""]))
    spelled = national.replace(" ", separators)
    normal = e164(spelled, region)
    assert normal == phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    assert e164(normal) == normal
    assert normalise_sender(normal) == normal


@given(st.text(max_size=40))
def test_normalise_sender_raises_only_invalid_sender(text: str) -> None:
    try:
        normal = normalise_sender(text)
    except InvalidSender:
        return
    assert normalise_sender(normal) == normal


def _library_parse(text: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None


def _fast_parse(text: str) -> phonenumbers.PhoneNumber | None:
    try:
        return parse_number(text)
    except phonenumbers.NumberParseException:
        return None


_CALLING_CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


@given(
    st.sampled_from(_CALLING_CODES) | st.integers(0, 999),
    st.text("0123456789", max_size=18),
)
def test_the_e164_fast_path_parses_as_libphonenumber_does(code: int, rest: str) -> None:
    text = f"+{code}{rest}"
    assert _fast_parse(text) == _library_parse(text)


def test_the_fast_path_agrees_on_every_region_example_number() -> None:
    checked = fast = 0
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in phonenumbers.PhoneNumberType.values():
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            text = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            for spelling in (text, text[:-1], f"{text}0", text.replace("+", "+0")):
                assert _fast_parse(spelling) == _library_parse(spelling), spelling
            assert region_of(text) in (region, phonenumbers.region_code_for_number(example))
            checked += 1
            fast += _strict_e164(text) is not None
    assert checked > 1000
    assert fast > 0.9 * checked  # the fast path is the one taken for E.164 numbers


BRANDS = BrandNames({"paypal": ["paypal"], "ups": ["ups"], "amazon": ["amazon"], "att": ["at&t"]})


@pytest.mark.parametrize(
    ("sender", "brand"),
    [("PAYPA1", "paypal"), ("PayPal-Sec", "paypal"), ("AMAZ0N", "amazon"), ("MyPaypal", "paypal"),
     ("PAYPAAL", "paypal"), ("UPS Alert", "ups"), ("AT&T", "att"), ("ΡΑΥΡΑL", "paypal")],
)  # fmt: skip
def test_lookalike_sender_ids(sender: str, brand: str) -> None:
    assert brand in BRANDS.imitated(sender)


@pytest.mark.parametrize("sender", ["GROUPS", "Acme", "Pizza Hut", "CUPS", "12345"])
def test_ordinary_sender_ids(sender: str) -> None:
    assert BRANDS.imitated(sender) == {}
