"""Quiet hours in the recipient's local time (pack dataset ``quiet_hours``, P15).

Which jurisdictions apply to a number: its country, the state of its area
code (libphonenumber's geocoding, matched against the names the pack lists)
and the contact's known state (``state.recipient.subdivision``). A known
state replaces the area code's unless the area code's state presumes
residence (``area_code_presumption``: Florida, Oklahoma, Connecticut), in
which case both apply. Every one must allow the moment: the strictest wins.

Local time is the contact's known time zone (``state.recipient.timezone``)
when given, else every zone libphonenumber gives for the number (all must be
inside the window), unless a jurisdiction pins its own zone (Mississippi:
Central time). The answer is the number of seconds until the next minute at
which every jurisdiction allows sending: 0 means now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, field_validator

from aupguard.engine.registry import dataset
from aupguard.identity.numbering import parse_number

__all__ = [
    "Jurisdiction",
    "QuietHours",
    "QuietIndex",
    "Wait",
    "daily_cap",
    "jurisdictions_for",
    "prepare_quiet_hours",
    "wait_for",
]

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MAX_STEPS = 64


def _window(text: str) -> tuple[time, time]:
    start, sep, end = text.partition("-")
    if not sep:
        raise ValueError(f"window {text!r} is not HH:MM-HH:MM")
    first, last = time.fromisoformat(start.strip()), time.fromisoformat(end.strip())
    if last <= first:
        raise ValueError(f"window {text!r} ends before it starts")
    return first, last


class Jurisdiction(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    names: list[str] = Field(default_factory=list)
    windows: dict[str, str]
    closed_on_holidays: bool = False
    consent_opens_closed_days: bool = False
    """Closed days (Sundays, holidays) do not apply to recipients who opted in (Utah)."""
    timezone: str | None = None
    max_per_24h: int | None = Field(default=None, ge=1)
    """At most this many solicitations on the same subject to one person in 24 h."""
    note: str = ""

    @field_validator("windows")
    @classmethod
    def _days(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            if key != "all" and key not in _DAYS:
                raise ValueError(f"{key!r} is not a day (mon..sun or all)")
            _window(text)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class QuietHours(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    jurisdictions: dict[str, Jurisdiction]
    holidays: dict[str, list[date]] = Field(default_factory=dict)
    area_code_presumption: list[str] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    week: tuple[tuple[time, time] | None, ...]
    """Window per weekday, Monday first; None: closed."""
    holidays: frozenset[date]
    consent_opens: bool
    zone: ZoneInfo | None
    max_per_24h: int | None = None


@dataclass(frozen=True, slots=True)
class QuietIndex:
    rules: dict[str, Rule]
    names: dict[str, str]
    """"US:florida" -> "US-FL" (and the 2-letter code itself: "US:fl")."""
    presumption: frozenset[str]
    holidays: dict[str, frozenset[date]]

    def holidays_of(self, country: str) -> frozenset[date]:
        """The legal holidays the pack lists for `country`."""
        return self.holidays.get(country, frozenset())


def prepare_quiet_hours(model: QuietHours) -> QuietIndex:
    rules: dict[str, Rule] = {}
    names: dict[str, str] = {}
    for code, spec in model.jurisdictions.items():
        country, _, sub = code.partition("-")
        default = spec.windows.get("all")
        week = tuple(_window(w) if (w := spec.windows.get(day, default)) else None for day in _DAYS)
        closed: frozenset[date] = (
            frozenset(model.holidays.get(country, ())) if spec.closed_on_holidays else frozenset()
        )
        zone = ZoneInfo(spec.timezone) if spec.timezone else None
        rules[code] = Rule(
            code, week, closed, spec.consent_opens_closed_days, zone, spec.max_per_24h
        )
        if sub:
            names[f"{country}:{sub.lower()}"] = code
            for name in spec.names:
                names[f"{country}:{name.lower()}"] = code
    calendars = {k: frozenset(v) for k, v in model.holidays.items()}
    return QuietIndex(rules, names, frozenset(model.area_code_presumption), calendars)


dataset(
    "quiet_hours",
    QuietHours,
    prepare=prepare_quiet_hours,
    description="Calling/texting windows in the recipient's local time, by jurisdiction",
)


@lru_cache(maxsize=65_536)
def _number_facts(number: str) -> tuple[str | None, str, tuple[str, ...]]:
    """(region, geocoded place, time zones) of an E.164 number."""
    # imported on first use: the geocoding data takes over half a second to load,
    # which every process importing the detectors would otherwise pay at start-up
    from phonenumbers import geocoder, timezone

    try:
        parsed = parse_number(number)
    except phonenumbers.NumberParseException:
        return None, "", ()
    region = phonenumbers.region_code_for_number(parsed)
    place = geocoder.description_for_number(parsed, "en")
    zones = tuple(z for z in timezone.time_zones_for_number(parsed) if z != "Etc/Unknown")
    return region, place, zones


def _place_code(place: str, country: str, index: QuietIndex) -> str | None:
    lowered = place.lower()
    for candidate in (lowered, lowered.rsplit(",", 1)[-1].strip()):
        code = index.names.get(f"{country}:{candidate}")
        if code is not None:
            return code
    return None


def jurisdictions_for(
    number: str, index: QuietIndex, subdivision: str | None = None
) -> tuple[list[Rule], tuple[str, ...]]:
    """The rules that apply to `number` and the number's time zones."""
    region, place, zones = _number_facts(number)
    if region is None:
        return [], ()
    found: list[Rule] = []
    if region in index.rules:
        found.append(index.rules[region])
    area = _place_code(place, region, index) if place else None
    known: str | None = None
    if subdivision:
        sub = subdivision.upper()
        known = sub if sub.startswith(f"{region}-") else f"{region}-{sub}"
        known = known if known in index.rules else None
    if known is not None:
        found.append(index.rules[known])
    if area is not None and area != known and (known is None or area in index.presumption):
        found.append(index.rules[area])
    return found, zones


def _allowed(rule: Rule, local: datetime, opted_in: bool) -> bool:
    day = local.date()
    window = rule.week[local.weekday()]
    closed = window is None or day in rule.holidays
    if closed and rule.consent_opens and opted_in:
        window = window or _widest(rule)
        closed = window is None
    if closed or window is None:
        return False
    return window[0] <= local.time() < window[1]


def _widest(rule: Rule) -> tuple[time, time] | None:
    windows = [w for w in rule.week if w is not None]
    return windows[0] if windows else None


def _next_open(rule: Rule, local: datetime, opted_in: bool) -> datetime | None:
    """The first moment at or after `local` inside `rule`'s window (in local's zone)."""
    for offset in range(0, 15):
        day = local.date() + timedelta(days=offset)
        probe = datetime.combine(day, time(0, 0), tzinfo=local.tzinfo)
        window = rule.week[probe.weekday()]
        closed = window is None or day in rule.holidays
        if closed and rule.consent_opens and opted_in:
            window = window or _widest(rule)
            closed = window is None
        if closed or window is None:
            continue
        start = datetime.combine(day, window[0], tzinfo=local.tzinfo)
        end = datetime.combine(day, window[1], tzinfo=local.tzinfo)
        if local < end:
            return max(start, local)
    return None


@dataclass(frozen=True, slots=True)
class Wait:
    seconds: float
    rule: str
    """The jurisdiction that closed the window (empty when sending is allowed)."""
    zone: str
    until: datetime | None


NO_WAIT = Wait(0.0, "", "", None)


def wait_for(
    number: str,
    now: datetime,
    index: QuietIndex,
    *,
    subdivision: str | None = None,
    zone: str | None = None,
    opted_in: bool = False,
) -> Wait:
    """How long a solicitation to `number` must wait at `now` (0: send now)."""
    rules, zones = jurisdictions_for(number, index, subdivision)
    if not rules:
        return NO_WAIT
    zone_names = (zone,) if zone else zones
    try:
        tzs = [ZoneInfo(z) for z in zone_names]
    except (ZoneInfoNotFoundError, ValueError):
        tzs = [ZoneInfo(z) for z in zones]
    if not tzs:
        return NO_WAIT
    pairs = [(r, r.zone or tz) for r in rules for tz in ([r.zone] if r.zone else tzs)]
    blocker: tuple[str, str] | None = None
    candidate = now
    for _ in range(_MAX_STEPS):
        later = candidate
        closed_by: tuple[str, str] | None = None
        for rule, tz in pairs:
            local = candidate.astimezone(tz)
            if _allowed(rule, local, opted_in):
                continue
            opens = _next_open(rule, local, opted_in)
            if opens is None:
                return Wait(15 * 86400.0, rule.code, str(tz), None)
            if opens > later:
                later = opens
                closed_by = (rule.code, str(tz))
        if later == candidate:
            if candidate == now:
                return NO_WAIT
            assert blocker is not None
            return Wait((candidate - now).total_seconds(), blocker[0], blocker[1], candidate)
        if blocker is None:
            blocker = closed_by
        candidate = later
    return Wait(15 * 86400.0, blocker[0] if blocker else "", "", None)


def daily_cap(
    number: str, index: QuietIndex, subdivision: str | None = None
) -> tuple[int, str] | None:
    """The strictest same-subject cap per 24 h that applies to `number`, and whose it is."""
    rules, _ = jurisdictions_for(number, index, subdivision)
    caps = [(r.max_per_24h, r.code) for r in rules if r.max_per_24h is not None]
    return min(caps) if caps else None
