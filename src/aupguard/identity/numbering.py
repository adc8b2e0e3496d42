"""Telephone numbers and sender ids: E.164 normalisation, kinds, regions.

Every number aupguard stores or compares goes through `normalise_sender`
first, so "+1 (202) 555-0143", "tel:+12025550143" and "whatsapp:+12025550143"
are one sender. Parsing and regions come from libphonenumber (`phonenumbers`).
"""

from __future__ import annotations

import re
from functools import cache, lru_cache

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata, PhoneNumber

from aupguard.engine.events import SenderType

__all__ = [
    "InvalidSender",
    "classify",
    "destination_region",
    "e164",
    "normalise_sender",
    "number_and_region",
    "parse_number",
    "region_of",
    "strip_scheme",
    "tn_digits",
]

_SCHEMES = ("tel:", "whatsapp:", "sms:", "sip:", "sips:")
_ALNUM_MAX = 11
_SHORT_CODE = range(3, 9)


class InvalidSender(ValueError):
    """A number or sender id that cannot be normalised (the message says why)."""


def strip_scheme(value: str) -> str:
    """`value` without a URI scheme (tel:, whatsapp:, sip:...) and, for SIP, the host part."""
    text = value.strip()
    lowered = text.lower()
    for scheme in _SCHEMES:
        if lowered.startswith(scheme):
            text = text[len(scheme) :]
            if scheme.startswith("sip"):
                text = text.split("@", 1)[0].split(";", 1)[0]
            break
    return text.strip()


_MIN_NSN, _MAX_NSN = 2, 17  # libphonenumber's bounds on a national significant number


@cache
def _national_prefix(country_code: int) -> re.Pattern[str] | None:
    """The pattern libphonenumber strips from the front of a national number of
    `country_code` (a trunk prefix such as 0 or 1), if the country has one."""
    region = phonenumbers.region_code_for_country_code(country_code)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    pattern = metadata.national_prefix_for_parsing if metadata is not None else None
    return re.compile(pattern) if pattern else None


def _strict_e164(text: str) -> PhoneNumber | None:
    """What ``phonenumbers.parse(text, None)`` returns for a plain ``+<digits>`` string,
    without its general-purpose scanning (most of its cost); None whenever the answer is
    not plain: other spellings, an unknown country code, a national number that starts
    with the country's trunk prefix. tests/identity/test_numbering.py checks the equality."""
    digits = text[1:]
    if text[:1] != "+" or not (digits.isascii() and digits.isdigit()) or digits[0] == "0":
        return None
    for size in (1, 2, 3):
        country_code = int(digits[:size])
        if country_code in COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return None
    national = digits[size:]
    if not _MIN_NSN <= len(national) <= _MAX_NSN:
        return None
    prefix = _national_prefix(country_code)
    if prefix is not None and prefix.match(national):
        return None
    parsed = PhoneNumber(country_code=country_code, national_number=int(national))
    if len(national) > 1 and national[0] == "0":
        parsed.italian_leading_zero = True
        zeros = len(national) - len(national.lstrip("0"))
        zeros = min(zeros, len(national) - 1)
        if zeros != 1:
            parsed.number_of_leading_zeros = zeros
    return parsed


def parse_number(text: str, region: str | None = None) -> PhoneNumber:
    """``phonenumbers.parse`` with a fast path for numbers already written in E.164.
    Raises phonenumbers.NumberParseException as it does."""
    parsed = _strict_e164(text)
    if parsed is not None:
        return parsed
    return phonenumbers.parse(text, region.upper() if region else None)


@lru_cache(maxsize=65_536)
def number_and_region(value: str, region: str | None = None) -> tuple[str, str | None] | None:
    """(E.164 form, ISO region) of a telephone number from one parse, or None if it
    cannot be one. Without a leading ``+`` (or 00 / 011 international prefix) the
    number is read as a national number of `region`."""
    text = strip_scheme(value)
    if not text or len(text) > 64:
        return None
    try:
        parsed = parse_number(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    number = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return number, _region(parsed)


def e164(value: str, region: str | None = None) -> str | None:
    """The E.164 form of a telephone number, or None if it cannot be one.

    Without a leading ``+`` (or 00 / 011 international prefix) the number is read
    as a national number of `region`.
    """
    found = number_and_region(value, region)
    return found[0] if found is not None else None


def tn_digits(number: str) -> str:
    """The telephone-number form STIR/SHAKEN uses: country code and digits, no '+'."""
    return "".join(ch for ch in number if ch.isdigit())


@lru_cache(maxsize=65_536)
def region_of(number: str) -> str | None:
    """ISO region of an E.164 number ('001' for global services such as +800, +882).

    A possible number outside the known ranges counts as in its country code's main region.
    """
    try:
        parsed = parse_number(strip_scheme(number))
    except phonenumbers.NumberParseException:
        return None
    return _region(parsed)


def _region(parsed: PhoneNumber) -> str | None:
    region = phonenumbers.region_code_for_number(parsed)
    if region is None and parsed.country_code and phonenumbers.is_possible_number(parsed):
        region = phonenumbers.region_code_for_country_code(parsed.country_code)
    return None if region in (None, "ZZ") else region


def _short_digits(text: str) -> str | None:
    compact = "".join(ch for ch in text if ch not in " -().")
    if compact.isdigit() and len(compact) in _SHORT_CODE:
        return compact
    return None


def _alphanumeric(text: str) -> str | None:
    words = text.split()
    compact = " ".join(words)
    if not compact or len(compact) > _ALNUM_MAX:
        return None
    if not all(ch.isascii() and (ch.isalnum() or ch in " -_.&") for ch in compact):
        return None
    if not any(ch.isalpha() for ch in compact):
        return None
    return compact


def classify(value: str, region: str | None = None) -> SenderType:
    """A sender's kind as far as its form tells (registrations may say more)."""
    normal = normalise_sender(value, region)
    if normal.startswith("+"):
        parsed = parse_number(normal)
        if phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.TOLL_FREE:
            return SenderType.TOLL_FREE
        return SenderType.LONG_CODE
    if normal.isdigit():
        return SenderType.SHORT_CODE
    return SenderType.ALPHANUMERIC


def normalise_sender(value: str, region: str | None = None) -> str:
    """The one spelling of a sender: E.164 for numbers, digits for short codes,
    single-spaced upper case for alphanumeric sender ids. Raises InvalidSender."""
    text = strip_scheme(value)
    if not text:
        raise InvalidSender("the sender is empty")
    number = e164(text, region)
    if number is not None:
        return number
    if text.startswith("+") or text.startswith("00"):
        raise InvalidSender(f"{value!r} is not a valid E.164 number")
    short = _short_digits(text)
    if short is not None:
        return short
    alnum = _alphanumeric(text)
    if alnum is not None:
        return alnum.upper()
    if any(ch.isdigit() for ch in text) and not any(ch.isalpha() for ch in text):
        raise InvalidSender(
            f"{value!r} is neither a valid number"
            + (f" in region {region}" if region else " (give it with +country code)")
            + " nor a 3-8 digit short code"
        )
    raise InvalidSender(
        f"{value!r} is not a number, a short code or an alphanumeric sender id "
        f"(at most {_ALNUM_MAX} ASCII letters, digits and spaces, with a letter)"
    )


def destination_region(to: str, fallback: str | None) -> str | None:
    """The region a destination number is in; short codes count as the sender's region."""
    text = strip_scheme(to)
    if _short_digits(text) is not None or (text.isdigit() and len(text) <= 3):
        return fallback.upper() if fallback else None
    found = number_and_region(text, fallback)
    return found[1] if found is not None else None
