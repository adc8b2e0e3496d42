"""Numbers and sender ids: emergency services (P18 S11), sanctioned destinations and
geo-permissions (S13 V1), recording consent (P23), call caps (O3) and sender ids
that imitate brands (O1 P22 P5).

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
from aupguard.engine.events import (
    CallAttempt,
    CallRecord,
    Channel,
    EventKind,
    OutboundMessage,
    SenderType,
)
from aupguard.engine.re2util import compile_set
from aupguard.engine.registry import Derived, ValueType, dataset, detector
from aupguard.identity.datasets import (
    CallPlans,
    ConsentIndex,
    RecordingConsent,
    SanctionIndex,
    Sanctions,
    prepare_recording_consent,
    prepare_sanctions,
)
from aupguard.identity.numbering import number_and_region, parse_number, region_of, strip_scheme
from aupguard.identity.senderid import BrandNames

__all__ = ["destination", "emergency_regions", "sender_region", "short_digits"]

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


def sender_region(event: Any) -> str | None:
    origin = getattr(event, "sender", None) or getattr(event, "caller", None)
    if not origin or not str(origin).startswith("+"):
        return None
    return region_of(str(origin))


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


# --- destinations: sanctions and geo-permissions (S13 V1) ---------------------------------------

dataset(
    "sanctions",
    Sanctions,
    prepare=prepare_sanctions,
    description="Embargoed and restricted destination regions and number prefixes",
)
dataset(
    "recording_consent",
    RecordingConsent,
    prepare=prepare_recording_consent,
    description="Call-recording consent by jurisdiction",
)
dataset("call_plans", CallPlans, description="Concurrent-call and duration caps per plan")

_PHONE_CHANNELS = frozenset(
    {Channel.SMS, Channel.MMS, Channel.WHATSAPP, Channel.RCS, Channel.VOICE}
)


def destination(ctx: Context) -> tuple[str | None, str | None] | None:
    """(E.164 number or None for short codes, region) of the event's destination;
    None when the event has no telephone destination (e-mail, chat)."""
    memo = ctx.memo.get("_destination", _UNSET)
    if memo is not _UNSET:
        return memo  # type: ignore[no-any-return]
    event = ctx.event
    result: tuple[str | None, str | None] | None = None
    if isinstance(event, CallAttempt) or (
        isinstance(event, OutboundMessage) and event.channel in _PHONE_CHANNELS
    ):
        to = strip_scheme(event.to)
        fallback = None
        if not to.startswith("+"):  # an international number needs no region to be read
            fallback = (
                (event.region if isinstance(event, CallAttempt) else None)
                or ctx.state.recipient.region
                or sender_region(event)
            )
        digits = short_digits(to)
        if digits is not None and len(digits) <= _MAX_SHORT and not to.startswith("00"):
            result = (None, fallback.upper() if fallback else None)
        else:
            found = number_and_region(to, fallback)
            result = found if found is not None else (None, None)
    ctx.memo["_destination"] = result
    return result


_UNSET = object()


@detector("numbers.sanctioned_destination", output=ValueType.LABELS, events=_DESTINATION_EVENTS)
def sanctioned_destination(ctx: Context) -> frozenset[str]:
    """'embargoed' or 'restricted' for a sanctioned destination (pack dataset `sanctions`);
    'unscreenable' when the destination's country cannot be told (sanctions fail closed)."""
    dest = destination(ctx)
    if dest is None:
        return frozenset()
    index: SanctionIndex | None = ctx.pack.data.get("sanctions")
    number, region = dest
    if index is None:
        label, why = "unscreenable", "the pack has no sanctions dataset"
    elif region is None:
        label, why = "unscreenable", f"the country of {ctx.event.to!r} cannot be determined"  # type: ignore[union-attr]
    else:
        hit = index.lookup(number, region)
        if hit is None:
            return frozenset()
        label, why = hit[0], f"{number or region}: {hit[1]}"
    ctx.add_evidence(
        "numbers.sanctioned_destination",
        Evidence("numbers.sanctioned_destination", f"{label}: {why}", "to"),
    )
    return frozenset({label})


@detector("numbers.region_not_permitted", output=ValueType.BOOL, events=_DESTINATION_EVENTS)
def region_not_permitted(ctx: Context) -> bool:
    """The destination's region is not among the account's geo-permissions (when it has any)."""
    allowed = ctx.state.account.allowed_regions
    if allowed is None:
        return False
    dest = destination(ctx)
    if dest is None or dest[1] is None or dest[1] in allowed:
        return False
    ctx.add_evidence(
        "numbers.region_not_permitted",
        Evidence(
            "numbers.region_not_permitted",
            f"{dest[1]} is not enabled (enabled: {', '.join(sorted(allowed)) or 'none'})",
            "to",
        ),
    )
    return True


# --- recording consent (P23) ----------------------------------------------------------------------


def _subdivision(number: str, country: str, names: dict[str, str]) -> str | None:
    """The subdivision of a number from libphonenumber's geocoding ("San Francisco, CA",
    "Florida"), matched against the place names the pack lists."""
    from phonenumbers import geocoder

    try:
        parsed = parse_number(number)
    except phonenumbers.NumberParseException:
        return None
    place = geocoder.description_for_number(parsed, "en")
    if not place:
        return None
    candidates = [place.lower(), place.rsplit(",", 1)[-1].strip().lower()]
    for candidate in candidates:
        code = names.get(f"{country}:{candidate}")
        if code is not None:
            return code
    return None


_STRICTNESS = {"one_party": 1, "all_party": 2}


@detector("recording.consent_rule", output=ValueType.TEXT, events=frozenset({EventKind.CALL}))
def recording_consent_rule(ctx: Context) -> str:
    """The consent a recorded call needs: 'all_party', 'one_party', or 'unknown' when no
    jurisdiction of the call is in the pack (strictest of caller's and callee's)."""
    event = ctx.event
    if not isinstance(event, CallAttempt) or not event.recorded:
        return ""
    data: ConsentIndex | None = ctx.pack.data.get("recording_consent")
    if data is None:
        return "unknown"
    names = data.names
    found: list[tuple[str, str]] = []
    callee_sub = ctx.state.recipient.subdivision
    for role, address in (("caller", event.caller), ("callee", event.to)):
        parsed = number_and_region(address, event.region or ctx.state.recipient.region)
        number, country = parsed if parsed is not None else (None, None)
        if country is None:
            continue
        code: str | None = None
        if role == "callee" and callee_sub:
            sub = callee_sub.upper()
            code = sub if sub.startswith(f"{country}-") else f"{country}-{sub}"
        if code is None or code not in data.jurisdictions:
            code = _subdivision(number or "", country, names) if number else None
        if code is None or code not in data.jurisdictions:
            code = country if country in data.jurisdictions else None
        if code is not None:
            found.append((code, data.jurisdictions[code]))
    if not found:
        return "unknown"
    code, rule = max(found, key=lambda item: _STRICTNESS[item[1]])
    ctx.add_evidence(
        "recording.consent_rule",
        Evidence("recording.consent_rule", f"{code} requires {rule.replace('_', '-')} consent", ""),
    )
    return rule


# --- call caps (O3) -------------------------------------------------------------------------------


def _plans(ctx: Context) -> CallPlans | None:
    plans: CallPlans | None = ctx.pack.data.get("call_plans")
    return plans


@detector("calls.over_concurrent_cap", output=ValueType.BOOL, events=frozenset({EventKind.CALL}))
def over_concurrent_cap(ctx: Context) -> bool:
    """The account already has as many calls up as its plan allows (signals.concurrent_calls)."""
    plans = _plans(ctx)
    if plans is None or not isinstance(ctx.event, CallAttempt):
        return False
    plan = plans.plan(ctx.state.account.plan)
    active = ctx.state.signals.get("concurrent_calls", 0.0)
    if active < plan.concurrent_calls:
        return False
    ctx.add_evidence(
        "calls.over_concurrent_cap",
        Evidence(
            "calls.over_concurrent_cap",
            f"{active:.0f} calls up; plan {ctx.state.account.plan!r} allows {plan.concurrent_calls}",
            "",
        ),
    )
    return True


@detector("calls.always_on_trunk", output=ValueType.BOOL, events=frozenset({EventKind.CALL}))
def always_on_trunk(ctx: Context) -> bool:
    """The call's trunk has had calls up without a break for longer than the plan allows
    for ordinary use (signals.trunk_busy_seconds): hosting-like, always-on use."""
    plans = _plans(ctx)
    if plans is None:
        return False
    plan = plans.plan(ctx.state.account.plan)
    busy = ctx.state.signals.get("trunk_busy_seconds", 0.0)
    if busy < plan.always_on_seconds:
        return False
    ctx.add_evidence(
        "calls.always_on_trunk",
        Evidence(
            "calls.always_on_trunk", f"trunk busy without a break for {busy / 3600:.1f} h", ""
        ),
    )
    return True


def _duration(ctx: Context) -> float | None:
    event = ctx.event
    if not isinstance(event, CallRecord):
        return None
    return (event.end - (event.answer or event.start)).total_seconds()


@detector("calls.over_duration_cap", output=ValueType.BOOL, events=frozenset({EventKind.CDR}))
def over_duration_cap(ctx: Context) -> bool:
    """The call lasted longer than the plan's maximum call duration."""
    plans, seconds = _plans(ctx), _duration(ctx)
    if plans is None or seconds is None:
        return False
    plan = plans.plan(ctx.state.account.plan)
    if seconds <= plan.max_duration_seconds:
        return False
    ctx.add_evidence(
        "calls.over_duration_cap",
        Evidence(
            "calls.over_duration_cap",
            f"{seconds / 60:.0f} min; plan maximum {plan.max_duration_seconds / 60:.0f} min",
            "",
        ),
    )
    return True


@detector("calls.long_duration", output=ValueType.BOOL, events=frozenset({EventKind.CDR}))
def long_duration(ctx: Context) -> bool:
    """The call lasted longer than the plan's long-call threshold (flagged for review)."""
    plans, seconds = _plans(ctx), _duration(ctx)
    if plans is None or seconds is None:
        return False
    plan = plans.plan(ctx.state.account.plan)
    if seconds <= plan.long_call_seconds:
        return False
    ctx.add_evidence(
        "calls.long_duration",
        Evidence("calls.long_duration", f"{seconds / 3600:.1f} h", ""),
    )
    return True


# --- sender ids imitating brands (O1 P22 P5) ------------------------------------------------------

_BRAND_NAMES: Derived[dict[str, Any], BrandNames] = Derived(
    lambda values: BrandNames(
        {k: list(v.get("names", ())) for k, v in values.items() if isinstance(v, dict)}
    )
)


def _brand_names(ctx: Context) -> BrandNames | None:
    located = ctx.pack.datasets.get("brands")
    return None if located is None else _BRAND_NAMES(located.value.values)


@detector("sender.imitates_brand", output=ValueType.LABELS, events=frozenset({EventKind.MESSAGE}))
def imitates_brand(ctx: Context) -> frozenset[str]:
    """Brands an alphanumeric sender id imitates that the sender is not verified for."""
    event = ctx.event
    if not isinstance(event, OutboundMessage):
        return frozenset()
    sender = event.sender
    if event.sender_type is not SenderType.ALPHANUMERIC and (
        sender.isdigit()
        or (sender[:1] == "+" and sender[1:].isdigit())  # the usual case: a number
        or not any(ch.isalpha() for ch in sender)
        or sender.lower().startswith(("whatsapp:", "tel:"))
    ):
        return frozenset()
    names = _brand_names(ctx)
    if names is None:
        return frozenset()
    found = {
        k: how for k, how in names.imitated(sender).items() if k not in ctx.state.sender.brands
    }
    for key, how in sorted(found.items()):
        ctx.add_evidence(
            "sender.imitates_brand",
            Evidence("sender.imitates_brand", f"sender id {sender!r} {how} {key!r}", "from"),
        )
    return frozenset(found)
