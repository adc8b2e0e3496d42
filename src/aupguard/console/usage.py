"""What the account page adds from other areas: the account's senders and their
verification (the sender registry), its throughput against its limits (the pack's
`channel_limits` read live from the counter store the send path uses), and its
consent statistics (one grouped query over the consent ledger).

The limits an account is under are those `traffic.limits.plan_limits` gives the
send path: for each registered sender, a message of its registered type (and
brand and campaign) is mapped onto them, as is a call for the plan's call limits,
so that the keys read here are the keys the send path consumes. A limit that is
counted per recipient (WhatsApp's per-pair pacing) or per API key or address has
no one figure for the account: it is listed with its allowance and no usage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from aupguard.consent.store import ConsentStats, ConsentStore
from aupguard.engine.events import CallAttempt, Channel, OutboundMessage, SenderType
from aupguard.identity.registry import SenderRecord, SenderRegistry, attestation_for
from aupguard.traffic.counters import CounterStore, CounterUnavailable, Limit, LimitKind
from aupguard.traffic.limits import ChannelLimits, plan_limits

if TYPE_CHECKING:
    from aupguard.api.services import Services
    from aupguard.service.screening import Screener

__all__ = [
    "CONSENT_DAYS",
    "LimitRow",
    "SenderRow",
    "consent_statistics",
    "counter_store",
    "limit_rows",
    "sender_registry",
    "sender_rows",
]

CONSENT_DAYS = 30
PLACEHOLDER = "+10000000000"
"""The recipient of the messages mapped onto limits (no limit read here is per recipient)."""

FAMILY_TITLES = {
    "sender_throughput": "sender throughput",
    "campaign_throughput": "10DLC campaign throughput (AT&T)",
    "brand_daily": "10DLC brand daily cap (T-Mobile)",
    "whatsapp_unique": "WhatsApp unique recipients (tier)",
    "whatsapp_throughput": "WhatsApp number throughput",
    "account_rate": "account messages per second (plan)",
    "plan_quota": "account segments per day (plan)",
    "call_rate": "calls per second (plan)",
    "concurrent_calls": "concurrent calls (plan)",
}
NOT_PER_ACCOUNT = {
    "whatsapp_pair": "per business number and recipient: no one figure for the account",
    "api_key_rate": "per API key",
    "source_ip_rate": "per source address",
}


def _send_screener(services: Services) -> Screener:
    from aupguard.api.send_path import send_path

    return services.component(send_path).screener


def sender_registry(services: Services) -> SenderRegistry:
    """The registry the send path reads (when it enforces registration), else the one
    the call endpoints use (the database's; in memory without one)."""
    from aupguard.identity.service import SenderSource

    for source in _send_screener(services).sources:
        if isinstance(source, SenderSource):
            return source.registry
    from aupguard.api.routes.calls import call_screener

    return services.component(call_screener).registry


def counter_store(services: Services) -> CounterStore | None:
    """The counters the send path's limit step consumes (Redis or this process's memory)."""
    from aupguard.traffic.service import LimitStep

    for step in _send_screener(services).steps:
        if isinstance(step, LimitStep):
            return step.store
    return None


@dataclass(frozen=True, slots=True)
class SenderRow:
    record: SenderRecord
    attestation: str | None
    verified_at: datetime | None
    evidence: tuple[str, ...]

    @property
    def channel(self) -> str:
        return _channel(self.record.kind).value


def sender_rows(senders: list[SenderRecord]) -> list[SenderRow]:
    rows = []
    for record in senders:
        rows.append(
            SenderRow(
                record=record,
                attestation=attestation_for(record),
                verified_at=max((e.at for e in record.evidence), default=None),
                evidence=tuple(dict.fromkeys(e.kind.value for e in record.evidence)),
            )
        )
    return rows


def _channel(kind: SenderType) -> Channel:
    if kind is SenderType.WHATSAPP_BUSINESS:
        return Channel.WHATSAPP
    if kind is SenderType.EMAIL_ADDRESS:
        return Channel.EMAIL
    return Channel.SMS


@dataclass(frozen=True, slots=True)
class LimitRow:
    family: str
    title: str
    scope: str
    """What is counted: the account, a sender, a campaign, a brand, a portfolio."""
    allowance: str
    capacity: float
    """Rate: the burst; quota, distinct, gauge: the limit."""
    used: float | None
    """Counted now (rate: units in the leaky bucket); None when not read."""
    note: str = ""

    @property
    def share(self) -> int | None:
        """Percent of the capacity in use now."""
        if self.used is None or not self.capacity:
            return None
        return min(100, round(100 * self.used / self.capacity))


def _allowance(limit: Limit, timezone: str) -> str:
    if limit.kind is LimitKind.RATE:
        per = f"{limit.period:g} s"
        return f"{limit.limit:g} per {per} (burst {limit.burst:g})"
    if limit.kind is LimitKind.QUOTA:
        return f"{limit.limit:g} per day ({timezone})"
    if limit.kind is LimitKind.DISTINCT:
        return f"{limit.limit:g} distinct recipients per {limit.period / 3600:g} h"
    return f"{limit.limit:g} at once"


def _scope(limit: Limit) -> str:
    key = limit.key
    for prefix, what in (
        ("sender:", "sender "),
        ("verizon:", "sender "),
        ("number:", "number "),
        ("portfolio:", "portfolio "),
        ("tmobile:", "brand "),
    ):
        if key.startswith(prefix):
            return what + key[len(prefix) :]
    if key.startswith("pair:"):
        return "number " + key.split(":")[1] + ", per recipient"
    if key.startswith("att:"):
        return "campaign " + key[4:].rsplit(":", 1)[0]
    return "the account"


def _events(senders: list[SenderRecord], tenant: str) -> list[OutboundMessage | CallAttempt]:
    """One message per active sender (or one from a placeholder, for the plan's message
    limits), and one call (for the plan's call limits)."""
    events: list[OutboundMessage | CallAttempt] = []
    for record in senders:
        if record.status == "revoked":
            continue
        events.append(
            OutboundMessage.model_validate(
                {
                    "account": tenant,
                    "from": record.sender,
                    "to": PLACEHOLDER,
                    "channel": _channel(record.kind),
                    "sender_type": record.kind,
                    "brand": record.brand,
                    "campaign": record.campaign,
                }
            )
        )
    if not events:
        events.append(
            OutboundMessage.model_validate(
                {"account": tenant, "from": PLACEHOLDER, "to": PLACEHOLDER, "sender_type": "other"}
            )
        )
    events.append(
        CallAttempt.model_validate(
            {"account": tenant, "id": "console", "from": PLACEHOLDER, "to": PLACEHOLDER}
        )
    )
    return events


def limit_rows(
    data: ChannelLimits | None,
    counters: CounterStore | None,
    tenant: str,
    plan: str,
    senders: list[SenderRecord],
    now: datetime,
) -> list[LimitRow]:
    """The account's limits with what is counted against each now (one counter read per
    limit); a store that cannot answer leaves the figure out and says why."""
    if data is None:
        return []
    chosen = data.plans.get(plan) or data.plans["default"]
    seen: dict[tuple[str, str], Limit] = {}
    for event in _events(senders, tenant):
        for limit in plan_limits(data, event, now.timestamp(), plan):
            if limit.key.endswith(PLACEHOLDER) and limit.name not in NOT_PER_ACCOUNT:
                continue  # the placeholder sender's own limits
            seen.setdefault((limit.name, limit.key), limit)
    rows = []
    for limit in seen.values():
        timezone = data.ten_dlc.tmobile.timezone if limit.name == "brand_daily" else chosen.timezone
        capacity = limit.burst if limit.kind is LimitKind.RATE else limit.limit
        used: float | None = None
        note = NOT_PER_ACCOUNT.get(limit.name, "")
        if not note:
            if counters is None:
                note = "no counter store in this server: not counted"
            else:
                try:
                    used = counters.usage(tenant, limit)
                except CounterUnavailable as exc:
                    note = f"the counter store did not answer ({exc})"[:200]
        rows.append(
            LimitRow(
                family=limit.name,
                title=FAMILY_TITLES.get(limit.name, limit.name.replace("_", " ")),
                scope=_scope(limit),
                allowance=_allowance(limit, timezone),
                capacity=capacity,
                used=used,
                note=note,
            )
        )
    order = list(FAMILY_TITLES)
    return sorted(
        rows,
        key=lambda r: (
            r.scope != "the account",
            order.index(r.family) if r.family in order else 99,
            r.scope,
        ),
    )


def consent_statistics(ledger: ConsentStore, tenant: str, now: datetime) -> ConsentStats:
    return ledger.statistics(tenant, now - timedelta(days=CONSENT_DAYS), now)
