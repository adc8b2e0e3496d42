"""Traffic detectors: destination country, high-cost prefixes, geo permissions.

Reference data is in the pack: ``geo_permissions`` (destinations an account
must enable first) and ``high_cost_prefixes``
(E.164 prefixes whose termination is expensive: the targets of artificially
inflated traffic). Importing this module registers the detectors and every
traffic dataset.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from aupguard.detectors.numbers import destination
from aupguard.engine.context import Context
from aupguard.engine.decision import Evidence
from aupguard.engine.events import CallAttempt, EventKind, OutboundMessage
from aupguard.engine.registry import Derived, ValueType, dataset, detector
from aupguard.identity.numbering import region_of
from aupguard.traffic import limits as _limits  # noqa: F401  (registers channel_limits)
from aupguard.traffic import sources as _sources  # noqa: F401  (registers traffic_signals)

__all__ = ["GeoPermissions", "HighCostPrefixes", "high_cost_prefix"]

_STRICT = ConfigDict(extra="forbid", frozen=True)
_DEST_EVENTS = frozenset({EventKind.MESSAGE, EventKind.CALL})
_COUNTRY = r"^[A-Z]{2}$"


class GeoPermissions(BaseModel):
    model_config = _STRICT

    opt_in: list[str] = Field(default_factory=list)
    """Destinations an account must enable first (its enabled_countries). Destinations no
    account may reach are sanctions, in the ``sanctions`` dataset (identity)."""
    high_cost_opt_in: bool = True
    """Numbers under a high-cost prefix need the account to enable their country too."""


class HighCostPrefixes(BaseModel):
    model_config = _STRICT

    prefixes: dict[str, str]
    """E.164 digit prefix (no +) -> why it is costly."""


dataset(
    "geo_permissions",
    GeoPermissions,
    description="Destinations an account must enable first",
)
dataset(
    "high_cost_prefixes",
    HighCostPrefixes,
    description="E.164 prefixes with expensive termination (pumping targets)",
)


def high_cost_prefix(number: str, prefixes: dict[str, str]) -> str | None:
    """The longest high-cost prefix `number` starts with."""
    digits = number.lstrip("+")
    for n in _prefix_lengths(prefixes):
        if digits[:n] in prefixes:
            return digits[:n]
    return None


_prefix_lengths: Derived[dict[str, str], tuple[int, ...]] = Derived(
    lambda prefixes: tuple(sorted({len(p) for p in prefixes}, reverse=True))
)
"""The lengths of a table's prefixes, longest first."""


def _to(ctx: Context) -> str | None:
    event = ctx.event
    if isinstance(event, OutboundMessage | CallAttempt):
        return event.to
    return None


@detector("traffic.destination_country", output=ValueType.TEXT, events=_DEST_EVENTS)
def destination_country(ctx: Context) -> str:
    """ISO region of the destination number ('' when it is not an E.164 number)."""
    to = _to(ctx)
    if not to or not to.startswith("+"):
        return ""
    dest = destination(ctx)  # parsed once per event for every destination detector
    if dest is not None and dest[1] is not None:
        return dest[1]
    return region_of(to) or ""


@detector("traffic.high_cost_destination", output=ValueType.BOOL, events=_DEST_EVENTS)
def high_cost_destination(ctx: Context) -> bool:
    """The destination is under a high-cost prefix of the pack."""
    to = _to(ctx)
    data = ctx.pack.data.get("high_cost_prefixes")
    if not to or not isinstance(data, HighCostPrefixes):
        return False
    prefix = high_cost_prefix(to, data.prefixes)
    if prefix is None:
        return False
    ctx.add_evidence(
        "traffic.high_cost_destination",
        Evidence("traffic.high_cost_destination", f"+{prefix}: {data.prefixes[prefix]}", "to"),
    )
    return True


@detector("traffic.geo_not_enabled", output=ValueType.BOOL, events=_DEST_EVENTS)
def geo_not_enabled(ctx: Context) -> bool:
    """The destination needs the account to enable its country first, and it has not."""
    data = ctx.pack.data.get("geo_permissions")
    country = destination_country(ctx)
    if not isinstance(data, GeoPermissions) or not country:
        return False
    if country in ctx.state.account.enabled_countries:
        return False
    needs = country in data.opt_in or (
        data.high_cost_opt_in and bool(ctx.get("traffic.high_cost_destination"))
    )
    if needs:
        ctx.add_evidence(
            "traffic.geo_not_enabled",
            Evidence("traffic.geo_not_enabled", f"destination {country} not enabled", "to"),
        )
    return needs
