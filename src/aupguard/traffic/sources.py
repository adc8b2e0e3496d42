"""The traffic-signals state source: pumping, snowshoeing, key sharing, storms, scraping.

    screener = Screener(engine, sources=[TrafficSignals(engine, SignalStore)], after=[...])

For each event it records what the event adds to a few observation windows
and reads back, in one store call, the numbers pack rules judge as
``state: signals.<name>``:

Messages (P24 W8 V5 S1)
    ``pumping_neighbours``  other destinations within `near_span` of this
    one in the last `near_window` (enumeration of sequential numbers);
    ``pumping_velocity``    messages to this number prefix in the last
    `velocity_window`, over the account's own daily baseline for the same
    prefix scaled to that window (floored at `baseline_floor`);
    ``pumping_prefix_rate`` the first of those two numbers;
    ``pumping_new_country`` 1 when the account never sent to this country;
    ``otp_sends``, ``otp_conversion`` one-time-code messages to this country
    in the last hour and the share the platform reported verified
    (`record_verification`);
    ``snowshoe_senders``    distinct sender numbers of this account sending
    near-identical content (SimHash bands) in the last hour;
    ``snowshoe_accounts``   distinct accounts sending it, platform-wide;
    ``account_brands``      distinct brands sent for by the account (30 days).
API requests (V5 P3 P4 V6)
    ``api_key_countries``, ``api_key_ips``, ``api_key_agents``: where and by which
    clients one key is used (key sharing, V5; shared credentials, O2);
    ``auth_failures`` and ``auth_lockout_seconds`` (exponential backoff);
    ``client_errors`` and ``probe_paths`` (4xx storms, path probing);
    ``list_requests`` and ``list_pages`` (crawling list endpoints).

The source fails open: when the store is down, screening goes on without
these signals and the decision says so.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any, Literal

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field

from aupguard.engine.events import (
    AnyEvent,
    ApiRequest,
    Channel,
    MessageCategory,
    OutboundMessage,
)
from aupguard.engine.facade import Engine
from aupguard.engine.registry import dataset
from aupguard.identity.numbering import parse_number
from aupguard.traffic.signals import PLATFORM, Observation, ObserveKind, SignalStore
from aupguard.traffic.simhash import bands, shingles, simhash_of

__all__ = ["SignalSettings", "TrafficSignals", "record_verification"]

_STRICT = ConfigDict(extra="forbid", frozen=True)


class SignalSettings(BaseModel):
    """Windows and spans of the observations (thresholds are in the rules)."""

    model_config = _STRICT

    near_window: float = Field(default=600, gt=0)
    near_span: int = Field(default=20, ge=1)
    velocity_window: float = Field(default=600, gt=0)
    velocity_prefix_digits: int = Field(default=6, ge=2, le=10)
    baseline_floor: float = Field(default=3, gt=0)
    otp_window: float = Field(default=3600, gt=0)
    content_window: float = Field(default=3600, gt=0)
    content_min_words: int = Field(default=6, ge=1)
    brands_window: float = Field(default=30 * 86400, gt=0)
    api_window: float = Field(default=3600, gt=0)
    ip_window: float = Field(default=600, gt=0)
    auth_window: float = Field(default=300, gt=0)
    auth_threshold: int = Field(default=10, ge=1)
    lockout_base: float = Field(default=60, gt=0)
    lockout_max: float = Field(default=3600, gt=0)
    list_window: float = Field(default=60, gt=0)
    list_endpoints: list[str] = Field(default_factory=list)
    """Path suffixes of list (collection) endpoints, e.g. /messages."""


dataset(
    "traffic_signals",
    SignalSettings,
    description="Windows and spans of the pumping, snowshoeing and API-abuse observations",
)


@lru_cache(maxsize=65_536)
def _e164(number: str) -> tuple[str, str] | None:
    """(country calling code, national number) of an E.164 number (kept per number:
    a libphonenumber parse costs more than the rest of the message's observations)."""
    if not number.startswith("+") or not number[1:].isdigit():
        return None
    try:
        parsed = parse_number(number)
    except phonenumbers.NumberParseException:
        return None
    national = str(parsed.national_number)
    return str(parsed.country_code), national


class TrafficSignals:
    """State source filling ``state.signals`` from a `SignalStore` (fails open)."""

    name = "traffic-signals"
    fail_mode: Literal["open", "closed"] = "open"
    clauses: tuple[str, ...] = ("P24",)

    def __init__(self, engine: Engine, store: SignalStore) -> None:
        self.engine = engine
        self.store = store

    def settings(self) -> SignalSettings:
        data = self.engine.pack.data.get("traffic_signals")
        return data if isinstance(data, SignalSettings) else SignalSettings()

    def read(self, event: AnyEvent, now: datetime) -> dict[str, Any]:
        s = self.settings()
        if isinstance(event, OutboundMessage):
            obs = _message_observations(event, s)
        elif isinstance(event, ApiRequest):
            obs = _api_observations(event, s)
        else:
            return {}
        if not obs:
            return {}
        seen = self.store.observe(event.account, obs)
        return {"signals": _derive(seen, s)}


def _message_observations(event: OutboundMessage, s: SignalSettings) -> list[Observation]:
    obs: list[Observation] = []
    parts = _e164(event.to) if event.channel is not Channel.EMAIL else None
    if parts is not None:
        cc, national = parts
        digits = cc + national
        obs += [
            Observation(
                "pumping_neighbours",
                ObserveKind.NEAR,
                f"near:{cc}:{len(national)}",
                s.near_window,
                national,
                s.near_span,
            ),
            Observation(
                "pumping_prefix_rate",
                ObserveKind.COUNT,
                f"prefix:{digits[: s.velocity_prefix_digits]}",
                s.velocity_window,
            ),
            Observation(
                "pumping_prefix_daily",
                ObserveKind.COUNT,
                f"prefix:{digits[: s.velocity_prefix_digits]}",
                86400,
            ),
            Observation("pumping_new_country", ObserveKind.FIRST, "countries", member=cc),
        ]
        if event.category is MessageCategory.OTP:
            obs += [
                Observation("otp_sends", ObserveKind.COUNT, f"otp:{cc}", s.otp_window),
                Observation(
                    "otp_verified", ObserveKind.COUNT, f"otp-ok:{cc}", s.otp_window, add=False
                ),
                Observation("otp_reported_day", ObserveKind.COUNT, "otp-ok:all", 86400, add=False),
            ]
    pairs = shingles(event.body)
    if len(pairs) + 1 >= s.content_min_words:
        fingerprint = simhash_of(pairs)
        if fingerprint is not None:
            for i, band in enumerate(bands(fingerprint)):
                obs.append(
                    Observation(
                        f"snowshoe_senders_{i}",
                        ObserveKind.DISTINCT,
                        f"content:{band}",
                        s.content_window,
                        event.sender,
                    )
                )
                obs.append(
                    Observation(
                        f"snowshoe_accounts_{i}",
                        ObserveKind.DISTINCT,
                        f"content:{band}",
                        s.content_window,
                        event.account,
                        tenant=PLATFORM,
                    )
                )
    if event.brand:
        obs.append(
            Observation(
                "account_brands", ObserveKind.DISTINCT, "brands", s.brands_window, event.brand
            )
        )
    return obs


def _api_observations(event: ApiRequest, s: SignalSettings) -> list[Observation]:
    obs: list[Observation] = []
    who = event.api_key or event.source_ip or "anonymous"
    if event.api_key and event.country:
        obs.append(
            Observation(
                "api_key_countries",
                ObserveKind.DISTINCT,
                f"key-cc:{event.api_key}",
                s.api_window,
                event.country,
            )
        )
    if event.api_key and event.source_ip:
        obs.append(
            Observation(
                "api_key_ips",
                ObserveKind.DISTINCT,
                f"key-ip:{event.api_key}",
                s.ip_window,
                event.source_ip,
            )
        )
    if event.api_key and event.user_agent:
        obs.append(
            Observation(
                "api_key_agents",
                ObserveKind.DISTINCT,
                f"key-ua:{event.api_key}",
                s.ip_window,
                event.user_agent,
            )
        )
    source = event.source_ip or who
    status = event.status or 0
    obs.append(
        Observation(
            "auth_failures",
            ObserveKind.COUNT,
            f"auth-fail:{source}",
            s.auth_window,
            add=status in (401, 403),
        )
    )
    obs.append(
        Observation(
            "client_errors",
            ObserveKind.COUNT,
            f"4xx:{source}",
            s.auth_window,
            add=400 <= status < 500,
        )
    )
    if status in (404, 405):
        obs.append(
            Observation(
                "probe_paths", ObserveKind.DISTINCT, f"404:{source}", s.ip_window, event.path
            )
        )
    path, _, query = event.path.partition("?")
    if event.method.upper() == "GET" and any(path.endswith(e) for e in s.list_endpoints):
        obs.append(Observation("list_requests", ObserveKind.COUNT, f"list:{who}", s.list_window))
        obs.append(
            Observation(
                "list_pages",
                ObserveKind.DISTINCT,
                f"pages:{who}:{path}",
                s.api_window,
                query or "-",
            )
        )
    return obs


def _derive(seen: dict[str, float], s: SignalSettings) -> dict[str, float]:
    out = {k: v for k, v in seen.items() if not k.startswith("snowshoe_")}
    senders = [v for k, v in seen.items() if k.startswith("snowshoe_senders_")]
    accounts = [v for k, v in seen.items() if k.startswith("snowshoe_accounts_")]
    if senders:
        out["snowshoe_senders"] = max(senders)
    if accounts:
        out["snowshoe_accounts"] = max(accounts)
    if "pumping_prefix_rate" in seen:
        baseline = seen["pumping_prefix_daily"] * s.velocity_window / 86400
        out["pumping_velocity"] = seen["pumping_prefix_rate"] / max(baseline, s.baseline_floor)
    if "otp_sends" in seen:
        out["otp_conversion"] = min(1.0, seen["otp_verified"] / max(seen["otp_sends"], 1.0))
    failures = seen.get("auth_failures", 0.0)
    if failures >= s.auth_threshold:
        doublings = int(failures // s.auth_threshold) - 1
        out["auth_lockout_seconds"] = min(s.lockout_max, s.lockout_base * 2 ** min(doublings, 30))
    return out


def record_verification(
    store: SignalStore, account: str, to: str, settings: SignalSettings | None = None
) -> None:
    """The platform reports that a one-time code sent to `to` was used.

    Conversion rules only judge accounts whose platform reports verifications
    (``otp_reported_day`` > 0): silence is not a conversion rate of zero.
    """
    parts = _e164(to)
    if parts is None:
        return
    window = (settings or SignalSettings()).otp_window
    store.observe(
        account,
        [
            Observation("otp_verified", ObserveKind.COUNT, f"otp-ok:{parts[0]}", window),
            Observation("otp_reported_day", ObserveKind.COUNT, "otp-ok:all", 86400),
        ],
    )
