"""Quiet hours from pack data, in the recipient's local time."""

from __future__ import annotations

from datetime import UTC, datetime

from aupguard.consent.quiet_hours import QuietIndex, wait_for

MIAMI = "+13055550123"
PROVIDENCE = "+14015550123"
JACKSON_MS = "+16015550123"
SAN_FRANCISCO = "+14155550123"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_federal_window_applies_to_states_without_rules(quiet: QuietIndex) -> None:
    assert wait_for(SAN_FRANCISCO, at("2026-06-02T20:59:00-07:00"), quiet).seconds == 0
    late = wait_for(SAN_FRANCISCO, at("2026-06-02T21:00:00-07:00"), quiet)
    assert late.rule == "US"
    assert late.seconds == 11 * 3600


def test_rhode_island_is_closed_on_sundays_and_holidays(quiet: QuietIndex) -> None:
    sunday = wait_for(PROVIDENCE, at("2026-06-07T12:00:00-04:00"), quiet)
    assert sunday.until == at("2026-06-08T09:00:00-04:00")
    # Thursday 2026-11-26 is Thanksgiving: next opening is Friday 09:00
    thanksgiving = wait_for(PROVIDENCE, at("2026-11-26T12:00:00-05:00"), quiet)
    assert thanksgiving.until == at("2026-11-27T09:00:00-05:00")
    saturday = wait_for(PROVIDENCE, at("2026-06-06T17:30:00-04:00"), quiet)
    assert saturday.until == at("2026-06-08T09:00:00-04:00")


def test_mississippi_counts_in_central_time(quiet: QuietIndex) -> None:
    # 20:30 Central is inside the federal window in Eastern time, but not in Mississippi's
    wait = wait_for(JACKSON_MS, at("2026-06-02T20:30:00-05:00"), quiet, zone="America/New_York")
    assert wait.rule == "US-MS"
    assert wait.until == at("2026-06-03T08:00:00-05:00")


def test_the_contacts_time_zone_overrides_the_numbers(quiet: QuietIndex) -> None:
    moment = at("2026-06-02T22:00:00-04:00")  # 19:00 in San Francisco
    assert wait_for(SAN_FRANCISCO, moment, quiet).seconds == 0
    moved = wait_for(SAN_FRANCISCO, moment, quiet, zone="America/New_York")
    assert moved.until == at("2026-06-03T08:00:00-04:00")


def test_florida_area_code_applies_even_when_the_contact_lives_elsewhere(
    quiet: QuietIndex,
) -> None:
    moment = at("2026-06-02T20:30:00-04:00")
    assert wait_for(MIAMI, moment, quiet, subdivision="NJ").rule == "US-FL"
    # a known Florida resident with a California number gets Florida's window too
    sf_late = at("2026-06-02T20:30:00-07:00")
    assert wait_for(SAN_FRANCISCO, sf_late, quiet, subdivision="FL").rule == "US-FL"
    assert wait_for(SAN_FRANCISCO, sf_late, quiet).seconds == 0


def test_numbers_without_rules_are_never_held(quiet: QuietIndex) -> None:
    assert wait_for("+447700900123", at("2026-06-02T03:00:00+01:00"), quiet).seconds == 0
