"""Pack datasets of the identity domain: sanctioned destinations, recording-consent
rules by jurisdiction, and call plans (caps). The values live in the pack
(`data/sanctions.yaml`, `data/recording_consent.yaml`, `data/call_plans.yaml`)
with their source and date; these are their schemas and prepared forms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "CallPlan",
    "CallPlans",
    "ConsentIndex",
    "Jurisdiction",
    "RecordingConsent",
    "SanctionIndex",
    "Sanctions",
    "prepare_recording_consent",
    "prepare_sanctions",
]

_STRICT = ConfigDict(extra="forbid", frozen=True)


class Sanctions(BaseModel):
    """Destinations that are embargoed (blocked) or restricted (held for review),
    by ISO region and by E.164 prefix (regions inside a country, e.g. Crimea)."""

    model_config = _STRICT

    embargoed_regions: dict[str, str] = Field(default_factory=dict)
    restricted_regions: dict[str, str] = Field(default_factory=dict)
    embargoed_prefixes: dict[str, str] = Field(default_factory=dict)
    restricted_prefixes: dict[str, str] = Field(default_factory=dict)

    @field_validator("embargoed_regions", "restricted_regions")
    @classmethod
    def _regions(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if len(key) != 2 or not key.isalpha() or not key.isupper():
                raise ValueError(f"{key!r} is not an upper-case ISO 3166 alpha-2 region")
        return value

    @field_validator("embargoed_prefixes", "restricted_prefixes")
    @classmethod
    def _prefixes(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not key.startswith("+") or not key[1:].isdigit() or not 2 <= len(key) <= 10:
                raise ValueError(f"{key!r} is not an E.164 prefix like '+7365'")
        return value


@dataclass(frozen=True)
class SanctionIndex:
    regions: dict[str, tuple[str, str]]
    prefixes: dict[str, tuple[str, str]]
    lengths: tuple[int, ...]

    def lookup(self, number: str | None, region: str | None) -> tuple[str, str] | None:
        """(level, why) for a destination: level is 'embargoed' or 'restricted'."""
        found: tuple[str, str] | None = None
        if number:
            for length in self.lengths:
                hit = self.prefixes.get(number[:length])
                if hit is not None:
                    found = hit
                    break
        if region is not None:
            hit = self.regions.get(region.upper())
            if hit is not None and (found is None or hit[0] == "embargoed"):
                found = hit
        return found


def prepare_sanctions(model: Sanctions) -> SanctionIndex:
    regions = {k: ("restricted", v) for k, v in model.restricted_regions.items()}
    regions.update({k: ("embargoed", v) for k, v in model.embargoed_regions.items()})
    prefixes = {k: ("restricted", v) for k, v in model.restricted_prefixes.items()}
    prefixes.update({k: ("embargoed", v) for k, v in model.embargoed_prefixes.items()})
    lengths = tuple(sorted({len(p) for p in prefixes}, reverse=True))
    return SanctionIndex(regions, prefixes, lengths)


Consent = Literal["one_party", "all_party"]


class Jurisdiction(BaseModel):
    model_config = _STRICT

    consent: Consent
    names: list[str] = Field(default_factory=list)
    note: str = ""


class RecordingConsent(BaseModel):
    """Consent to record a call by jurisdiction: a country (``US``) or a subdivision
    (``US-CA``). A subdivision's rule applies to numbers located there; otherwise the
    country's. Across jurisdictions the strictest applies."""

    model_config = _STRICT

    jurisdictions: dict[str, Jurisdiction]

    @field_validator("jurisdictions")
    @classmethod
    def _codes(cls, value: dict[str, Jurisdiction]) -> dict[str, Jurisdiction]:
        for key in value:
            country, _, sub = key.partition("-")
            if len(country) != 2 or not country.isupper() or (sub and not sub.isalnum()):
                raise ValueError(f"{key!r} is not a region (US) or subdivision (US-CA) code")
        return value

    def subdivision_names(self) -> dict[str, str]:
        """Lower-case place name or abbreviation -> subdivision code, per country."""
        out: dict[str, str] = {}
        for code, item in self.jurisdictions.items():
            country, _, sub = code.partition("-")
            if sub:
                out[f"{country}:{sub.lower()}"] = code
                for name in item.names:
                    out[f"{country}:{name.lower()}"] = code
        return out


@dataclass(frozen=True)
class ConsentIndex:
    jurisdictions: dict[str, Consent]
    names: dict[str, str]


def prepare_recording_consent(model: RecordingConsent) -> ConsentIndex:
    return ConsentIndex(
        {k: v.consent for k, v in model.jurisdictions.items()}, model.subdivision_names()
    )


class CallPlan(BaseModel):
    model_config = _STRICT

    concurrent_calls: int = Field(ge=1)
    max_duration_seconds: int = Field(ge=60)
    long_call_seconds: int = Field(ge=60)
    always_on_seconds: int = Field(ge=600)


class CallPlans(BaseModel):
    """Call caps per account plan (`state.account.plan`); `default` applies to unknown plans."""

    model_config = _STRICT

    plans: dict[str, CallPlan]

    @field_validator("plans")
    @classmethod
    def _has_default(cls, value: dict[str, CallPlan]) -> dict[str, CallPlan]:
        if "default" not in value:
            raise ValueError("a 'default' plan is required")
        return value

    def plan(self, name: str) -> CallPlan:
        return self.plans.get(name) or self.plans["default"]
