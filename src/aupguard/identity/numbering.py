"""Telephone numbers and sender ids: E.164 normalisation, kinds, regions.

Every number aupguard stores or compares goes through `normalise_sender`
first, so "+1 (202) 555-0143", "tel:+12025550143" and "whatsapp:+12025550143"
are one sender. Parsing and regions come from libphonenumber (`phonenumbers`).
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

from aupguard.engine.events import SenderType

__all__ = [
    "InvalidSender",
    "classify",
    "destination_region",
    "e164",
    "normalise_sender",
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


@lru_cache(maxsize=65_536)
def e164(value: str, region: str | None = None) -> str | None:
    """The E.164 form of a telephone number, or None if it cannot be one.

    Without a leading ``+`` (or 00 / 011 international prefix) the number is read
    as a national number of `region`.
    """
    text = strip_scheme(value)
    if not text or len(text) > 64:
        return None
    try:
        parsed = phonenumbers.parse(text, region.upper() if region else None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def tn_digits(number: str) -> str:
    """The telephone-number form STIR/SHAKEN uses: country code and digits, no '+'."""
    return "".join(ch for ch in number if ch.isdigit())


@lru_cache(maxsize=65_536)
def region_of(number: str) -> str | None:
    """ISO region of an E.164 number ('001' for global services such as +800, +882).

    A possible number outside the known ranges counts as in its country code's main region.
    """
    try:
        parsed = phonenumbers.parse(strip_scheme(number), None)
    except phonenumbers.NumberParseException:
        return None
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
        parsed = phonenumbers.parse(normal, None)
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
    number = e164(text, fallback)
    if number is None:
        return None
    return region_of(number)
