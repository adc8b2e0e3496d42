"""Channel, carrier, plan and API limits as pack data, and the limits one event is under.

The figures live in the pack (`data/channel_limits.yaml`, dataset
``channel_limits``) with their source and date; this module only knows their
shape and how an event maps onto them:

- an SMS costs its segments (`count_segments`, smart encoding as configured),
  an MMS or chat message one unit;
- a sender's own throughput by sender type (long code 1 segment/s, toll-free
  3, short code 100; WhatsApp 80 messages/s per number);
- 10DLC: AT&T per campaign per minute by campaign class, T-Mobile per brand
  per day (reset at midnight Pacific) by trust tier, Verizon per number per
  minute; the carrier of the recipient when known, else every listed carrier;
- WhatsApp: unique users of business-initiated messages per rolling 24 h by
  tier, shared by every number of the portfolio;
- the account's plan: messages per second, segments per day in the plan's
  time zone, concurrent calls, calls per second;
- per API key and per source address.

Which campaign class, brand tier or WhatsApp tier applies is a fact about the
sender's registration; the caller passes it as a `SenderProfile` (from its
sender registry). Unknown values fall back to the dataset's defaults, which
are the most conservative.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from aupguard.engine.events import (
    AnyEvent,
    ApiRequest,
    CallAttempt,
    Channel,
    MessageCategory,
    OutboundMessage,
    SenderType,
)
from aupguard.engine.registry import dataset
from aupguard.traffic.counters import Limit, LimitKind, day_windows
from aupguard.traffic.segments import count_segments

__all__ = [
    "FAMILIES",
    "ChannelLimits",
    "SenderProfile",
    "event_cost",
    "plan_limits",
]

_STRICT = ConfigDict(extra="forbid", frozen=True)

FAMILIES = (
    "sender_throughput",
    "campaign_throughput",
    "brand_daily",
    "whatsapp_unique",
    "whatsapp_throughput",
    "whatsapp_pair",
    "account_rate",
    "plan_quota",
    "api_key_rate",
    "source_ip_rate",
    "concurrent_calls",
    "call_rate",
)
"""The limit families a pack configures; rules name them in ``state: limits.exceeded``."""


class Family(BaseModel):
    model_config = _STRICT

    fail: Literal["open", "closed"]
    """What happens when the counter store cannot answer: go on (recorded) or hold back."""
    retry_after: float = Field(default=60, gt=0)
    """Seconds to wait when the family fails closed."""


class Rate(BaseModel):
    model_config = _STRICT

    rate: float = Field(gt=0)
    per: float = Field(default=1, gt=0)
    burst: float | None = Field(default=None, gt=0)
    """Units that may pass at once (default: one unit)."""

    def limit(self, name: str, key: str, cost: int) -> Limit:
        return Limit(name, LimitKind.RATE, key, self.rate, self.per, self.burst or 1.0, cost)


class Att(BaseModel):
    model_config = _STRICT

    per: float = Field(default=60, gt=0)
    sms: dict[str, float]
    mms: dict[str, float] = Field(default_factory=dict)
    default_class: str


class TMobile(BaseModel):
    model_config = _STRICT

    timezone: str
    tiers: dict[str, float]
    default_tier: str


class Verizon(BaseModel):
    model_config = _STRICT

    per: float = Field(default=60, gt=0)
    per_number: float = Field(gt=0)


class TenDlc(BaseModel):
    model_config = _STRICT

    att: Att
    tmobile: TMobile
    verizon: Verizon
    unknown_carrier: list[Literal["att", "tmobile", "verizon"]]
    """Carriers whose limits apply when the recipient's carrier is not known."""


class WhatsApp(BaseModel):
    model_config = _STRICT

    unique_tiers: list[int | None]
    """Unique users per moving window, lowest tier first; null is unlimited."""
    default_tier: int
    window: float = Field(default=86400, gt=0)
    throughput: Rate
    pair: Rate | None = None
    """Messages from one business number to one user (Meta error 131056 beyond it)."""


class Plan(BaseModel):
    model_config = _STRICT

    messages_per_second: Rate | None = None
    daily_segments: float | None = Field(default=None, ge=0)
    timezone: str = "UTC"
    concurrent_calls: int | None = Field(default=None, ge=0)
    calls_per_second: Rate | None = None
    max_call_seconds: float | None = Field(default=None, gt=0)


class Api(BaseModel):
    model_config = _STRICT

    per_key: Rate | None = None
    per_source_ip: Rate | None = None


class ChannelLimits(BaseModel):
    model_config = _STRICT

    families: dict[str, Family]
    smart_encoding: bool = False
    """Count SMS segments after smart encoding (when the gateway applies it)."""
    sender_types: dict[SenderType, Rate]
    ten_dlc: TenDlc
    whatsapp: WhatsApp
    plans: dict[str, Plan]
    api: Api = Api()
    call_lease_seconds: float = Field(default=4 * 3600, gt=0)
    """How long a concurrent-call slot is held when nobody releases it."""

    @model_validator(mode="after")
    def _known(self) -> ChannelLimits:
        unknown = set(self.families) - set(FAMILIES)
        if unknown:
            raise ValueError(f"unknown limit families: {', '.join(sorted(unknown))}")
        missing = set(FAMILIES) - set(self.families)
        if missing:
            raise ValueError(f"limit families without a failure mode: {', '.join(sorted(missing))}")
        if "default" not in self.plans:
            raise ValueError("plans needs a 'default' plan")
        return self


dataset(
    "channel_limits",
    ChannelLimits,
    description="Channel, carrier, WhatsApp, plan and API limits, with each family's failure mode",
)


@dataclass(frozen=True, slots=True)
class SenderProfile:
    """What the sender registry knows about a message's sender (all optional)."""

    campaign_class: str | None = None
    """AT&T 10DLC class from the campaign's vetting score (A-F, T, sole_proprietor)."""
    brand_tier: str | None = None
    """T-Mobile daily-cap tier of the brand."""
    whatsapp_tier: int | None = None
    """The portfolio's unique-user tier (250, 2000, ...; 0 for unlimited)."""
    whatsapp_throughput: float | None = None
    """Messages/s of the number when upgraded (up to 1,000)."""
    carrier: Literal["att", "tmobile", "verizon"] | None = None
    """The recipient's carrier when a number lookup told."""
    throughput: float | None = None
    """Segments/s of this sender when the provider upgraded it (a toll-free number
    raised above 3 MPS, a short code above 100); replaces the sender type's default."""


def event_cost(event: OutboundMessage, smart: bool) -> int:
    """Units a message costs: SMS segments, else one message."""
    if event.segments is not None:
        return max(event.segments, 1)
    if event.channel is Channel.SMS:
        return count_segments(event.body, smart=smart).segments
    return 1


def _business_initiated(event: OutboundMessage) -> bool:
    if event.metadata.get("service_window") == "open":
        return False
    return event.category is not MessageCategory.CONVERSATIONAL


def plan_limits(
    data: ChannelLimits,
    event: AnyEvent,
    at: float,
    plan: str = "default",
    profile: SenderProfile | None = None,
) -> list[Limit]:
    """The limits `event` is checked against (at client time `at`, for quota windows)."""
    profile = profile or SenderProfile()
    chosen = data.plans.get(plan) or data.plans["default"]
    out: list[Limit] = []
    if isinstance(event, OutboundMessage):
        cost = event_cost(event, data.smart_encoding)
        out += _message_limits(data, event, cost, profile, at)
        if chosen.messages_per_second is not None:
            out.append(chosen.messages_per_second.limit("account_rate", "account", 1))
        if chosen.daily_segments is not None:
            windows = day_windows(chosen.timezone, at)
            out.append(
                Limit(
                    "plan_quota",
                    LimitKind.QUOTA,
                    "daily",
                    chosen.daily_segments,
                    cost=cost,
                    windows=windows,
                )
            )
        out += _api_limits(data, event.api_key, event.source_ip)
    elif isinstance(event, ApiRequest):
        out += _api_limits(data, event.api_key, event.source_ip)
    elif isinstance(event, CallAttempt) and event.direction == "outbound":
        if chosen.calls_per_second is not None:
            out.append(chosen.calls_per_second.limit("call_rate", "calls", 1))
        if chosen.concurrent_calls is not None and event.id:
            out.append(
                Limit(
                    "concurrent_calls",
                    LimitKind.GAUGE,
                    "calls",
                    chosen.concurrent_calls,
                    data.call_lease_seconds,
                    member=event.id,
                )
            )
    return out


def _message_limits(
    data: ChannelLimits, event: OutboundMessage, cost: int, profile: SenderProfile, at: float
) -> list[Limit]:
    out: list[Limit] = []
    if event.channel is Channel.WHATSAPP:
        wa = data.whatsapp
        rate = wa.throughput
        if profile.whatsapp_throughput:
            rate = Rate(rate=profile.whatsapp_throughput, per=1, burst=profile.whatsapp_throughput)
        out.append(rate.limit("whatsapp_throughput", f"number:{event.sender}", 1))
        if wa.pair is not None:
            out.append(wa.pair.limit("whatsapp_pair", f"pair:{event.sender}:{event.to}", 1))
        tier = profile.whatsapp_tier if profile.whatsapp_tier is not None else wa.default_tier
        if tier and _business_initiated(event):
            portfolio = event.brand or "portfolio"
            out.append(
                Limit(
                    "whatsapp_unique",
                    LimitKind.DISTINCT,
                    f"portfolio:{portfolio}",
                    tier,
                    wa.window,
                    member=event.to,
                )
            )
        return out
    if event.channel not in (Channel.SMS, Channel.MMS):
        return out
    if event.sender_type is SenderType.TEN_DLC:
        ten = data.ten_dlc
        carriers = [profile.carrier] if profile.carrier else ten.unknown_carrier
        mms = event.channel is Channel.MMS
        if "att" in carriers:
            table = ten.att.mms if mms and ten.att.mms else ten.att.sms
            klass = profile.campaign_class or ten.att.default_class
            per_minute = table.get(klass, table[ten.att.default_class])
            campaign = event.campaign or f"sender:{event.sender}"
            out.append(
                Limit(
                    "campaign_throughput",
                    LimitKind.RATE,
                    f"att:{campaign}:{'mms' if mms else 'sms'}",
                    per_minute,
                    ten.att.per,
                    max(1.0, per_minute / 60),
                    cost,
                )
            )
        if "tmobile" in carriers:
            tm = ten.tmobile
            tier_name = profile.brand_tier or tm.default_tier
            cap = tm.tiers.get(tier_name, tm.tiers[tm.default_tier])
            brand = event.brand or f"sender:{event.sender}"
            out.append(
                Limit(
                    "brand_daily",
                    LimitKind.QUOTA,
                    f"tmobile:{brand}",
                    cap,
                    cost=cost,
                    windows=day_windows(tm.timezone, at),
                )
            )
        if "verizon" in carriers:
            vz = ten.verizon
            out.append(
                Limit(
                    "sender_throughput",
                    LimitKind.RATE,
                    f"verizon:{event.sender}",
                    vz.per_number,
                    vz.per,
                    max(1.0, vz.per_number / 60),
                    cost,
                )
            )
        return out
    own = data.sender_types.get(event.sender_type)
    if profile.throughput:
        own = Rate(rate=profile.throughput, per=1, burst=profile.throughput)
    if own is not None:
        out.append(own.limit("sender_throughput", f"sender:{event.sender}", cost))
    return out


def _api_limits(data: ChannelLimits, key: str | None, ip: str | None) -> list[Limit]:
    out: list[Limit] = []
    if key and data.api.per_key is not None:
        out.append(data.api.per_key.limit("api_key_rate", f"key:{key}", 1))
    if ip and data.api.per_source_ip is not None:
        out.append(data.api.per_source_ip.limit("source_ip_rate", f"ip:{ip}", 1))
    return out
