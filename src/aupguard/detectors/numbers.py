"""Destination numbers: emergency services (P18 S11).

Emergency numbers come from libphonenumber's short-number metadata (the
`phonenumbers` package) for every region it knows: 911, 112, 999, 000, 110,
119, 100-102, ... A destination is compared in any formatting ("9-1-1",
"(112)"). The region that matters is the call's region, else the recipient's
known region, else the region of the calling/sending number; when none is
known, a number that is an emergency number anywhere counts.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import phonenumbers
from phonenumbers import PhoneMetadata

from aupguard.engine.context import Context
from aupguard.engine.decision import Evidence
from aupguard.engine.events import CallAttempt, EventKind, OutboundMessage
from aupguard.engine.re2util import compile_set
from aupguard.engine.registry import ValueType, detector

__all__ = ["emergency_regions", "sender_region", "short_digits"]

_MAX_SHORT = 6
_DESTINATION_EVENTS = frozenset({EventKind.MESSAGE, EventKind.CALL})


@cache
def _emergency_table() -> tuple[Any, tuple[str, ...]]:
    regions: list[str] = []
    patterns: list[str] = []
    for region in sorted(phonenumbers.SUPPORTED_SHORT_REGIONS):
        metadata = PhoneMetadata.short_metadata_for_region(region)
        desc = metadata.emergency if metadata is not None else None
        if desc is not None and desc.national_number_pattern:
            regions.append(region)
            patterns.append(f"^(?:{desc.national_number_pattern})$")
    return compile_set(patterns), tuple(regions)


def short_digits(address: str) -> str | None:
    """The digits of `address` if it is a short dialable string (not an E.164 number)."""
    stripped = address.strip()
    if stripped.startswith("+"):
        return None
    digits = "".join(ch for ch in stripped if ch.isdigit())
    other = [ch for ch in stripped if not ch.isdigit() and ch not in " -().#*"]
    if not digits or other or len(digits) > _MAX_SHORT:
        return None
    return digits


@cache
def emergency_regions(digits: str) -> frozenset[str]:
    """The regions in which `digits` is an emergency number."""
    rset, regions = _emergency_table()
    return frozenset(regions[i] for i in rset.Match(digits) or ())


@cache
def _region_of(number: str) -> str | None:
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.region_code_for_number(parsed)


def sender_region(event: Any) -> str | None:
    origin = getattr(event, "sender", None) or getattr(event, "caller", None)
    if not origin or not str(origin).startswith("+"):
        return None
    return _region_of(str(origin))


@detector("numbers.emergency_destination", output=ValueType.BOOL, events=_DESTINATION_EVENTS)
def emergency_destination(ctx: Context) -> bool:
    """The destination is an emergency-services number in the region that applies."""
    event = ctx.event
    if not isinstance(event, OutboundMessage | CallAttempt):
        return False
    digits = short_digits(event.to)
    if digits is None:
        return False
    regions = emergency_regions(digits)
    if not regions:
        return False
    region = (
        (event.region if isinstance(event, CallAttempt) else None)
        or ctx.state.recipient.region
        or sender_region(event)
    )
    if region is not None and region.upper() not in regions:
        return False
    where = region.upper() if region else ",".join(sorted(regions)[:6])
    ctx.add_evidence(
        "numbers.emergency_destination",
        Evidence(
            "numbers.emergency_destination", f"{digits} is an emergency number in {where}", "to"
        ),
    )
    return True
