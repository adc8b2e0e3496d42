"""P17 and P12 signals, observed in the traffic domain's `SignalStore` windows
(memory, or one Lua script in Redis: every worker sees the whole traffic).

``p2p_template_recipients`` (P17)
    For a person-to-person sender (``sender_type: p2p``): distinct recipients
    that received near-identical text from this sender in the window: the
    text's word pairs (digits masked) are MinHashed with four seeds, and a
    recipient counts under each minimum it produced, so texts that differ
    only in a name or a number meet under most of them (a template). People
    write to a few people; the same text to dozens is bulk on a P2P route.
``otp_services_to_number`` (P12)
    For an inbound message that carries a one-time code: distinct senders
    (services) that sent codes to this number in the window, across all
    tenants. One number receiving codes from many services is a number used
    to get past phone verification (bulk account creation).

``same_subject_24h`` (P15)
    For a marketing message: how many marketing messages on the same subject
    (campaign, else brand, else sender) this recipient got from the tenant in
    the last 24 h (sliding window of two buckets, the older one weighted),
    whichever number sent them. Read before the engine; a message is counted
    after it, only when it goes out (``after``), so held and throttled
    messages use up nothing. The caps per state are pack data
    (``quiet_hours``: ``max_per_24h``), read by ``consent.over_daily_cap``.

The thresholds are the pack's (rules ``p2p.templated_bulk``,
``verification.code_flood`` and ``consent.daily_cap`` in
``rules/consent.yaml``). The source fails open.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Literal

from aupguard.consent.keywords import words
from aupguard.consent.source import recipient_key
from aupguard.engine.decision import Decision, Verdict
from aupguard.engine.events import (
    AnyEvent,
    InboundMessage,
    MessageCategory,
    OutboundMessage,
    SenderType,
)
from aupguard.engine.state import State
from aupguard.traffic.signals import PLATFORM, Observation, ObserveKind, SignalStore
from aupguard.traffic.simhash import shingles

__all__ = ["ConsentSignals", "looks_like_code", "template_keys"]

_CODE_WORDS = frozenset(
    {"code", "otp", "passcode", "pin", "verification", "verify", "codigo", "code:", "2fa", "token"}
)


_SEEDS = (b"p17-0", b"p17-1", b"p17-2", b"p17-3")


def template_keys(text: str) -> list[str]:
    """MinHash keys of `text`'s word pairs, one per seed (empty when it has no words)."""
    parts = [p.encode("utf-8") for p in shingles(text)]
    if not parts:
        return []
    keys = []
    for seed in _SEEDS:
        low = min(hashlib.blake2b(p, digest_size=8, salt=seed).digest() for p in parts)
        keys.append(low.hex())
    return keys


def looks_like_code(text: str) -> bool:
    """A one-time-code message: a code word and a 4-8 digit (or G-123456 style) token."""
    tokens = words(text)
    if not tokens or not any(t in _CODE_WORDS for t in tokens):
        return False
    return any(t.isdigit() and 4 <= len(t) <= 8 for t in tokens)


class ConsentSignals:
    """State source (fails open) and after-decision step: pass the same object as both
    (``Screener(engine, sources=[..., signals], after=[..., signals])``)."""

    name = "consent-signals"
    fail_mode: Literal["open", "closed"] = "open"
    clauses: tuple[str, ...] = ("P17", "P12", "P15")

    def __init__(
        self,
        store: SignalStore,
        *,
        template_window: float = 3600.0,
        code_window: float = 600.0,
        subject_window: float = 86400.0,
    ) -> None:
        self.store = store
        self.template_window = template_window
        self.code_window = code_window
        self.subject_window = subject_window

    def _subject(self, event: OutboundMessage, add: bool) -> Observation:
        subject = (
            f"campaign:{event.campaign}"
            if event.campaign
            else f"brand:{event.brand}"
            if event.brand
            else f"sender:{recipient_key(event.sender)}"
        )
        return Observation(
            "same_subject_24h",
            ObserveKind.COUNT,
            f"subject:{recipient_key(event.to)}:{subject}",
            self.subject_window,
            add=add,
        )

    def read(self, event: AnyEvent, now: datetime) -> dict[str, Any]:
        if isinstance(event, OutboundMessage):
            obs: list[Observation] = []
            if event.category is MessageCategory.MARKETING:
                obs.append(self._subject(event, add=False))
            if event.sender_type is SenderType.P2P:
                member = recipient_key(event.to)
                obs += [
                    Observation(
                        f"p2p_{i}",
                        ObserveKind.DISTINCT,
                        f"p2p:{recipient_key(event.sender)}:{key}",
                        self.template_window,
                        member,
                    )
                    for i, key in enumerate(template_keys(event.body))
                ]
            if not obs:
                return {}
            seen = self.store.observe(event.account, obs)
            signals: dict[str, float] = {}
            if "same_subject_24h" in seen:
                signals["same_subject_24h"] = seen["same_subject_24h"]
            p2p = [v for k, v in seen.items() if k.startswith("p2p_")]
            if p2p:
                signals["p2p_template_recipients"] = max(p2p)
            return {"signals": signals}
        if isinstance(event, InboundMessage) and looks_like_code(event.body):
            number = recipient_key(event.to)
            seen = self.store.observe(
                event.account,
                [
                    Observation(
                        "otp_services_to_number",
                        ObserveKind.DISTINCT,
                        f"otp-in:{number}",
                        self.code_window,
                        recipient_key(event.sender),
                        tenant=PLATFORM,
                    )
                ],
            )
            return {"signals": seen}
        return {}

    def after(
        self, event: AnyEvent, state: State, decision: Decision, now: datetime
    ) -> Decision | None:
        """Count a marketing message that goes out towards the same-subject caps."""
        if (
            isinstance(event, OutboundMessage)
            and event.category is MessageCategory.MARKETING
            and decision.verdict is Verdict.ALLOW
        ):
            try:
                self.store.observe(event.account, [self._subject(event, add=True)])
            except Exception as exc:  # fails open: the message goes; say so
                decision.degraded = (
                    *decision.degraded,
                    f"{self.name}: {type(exc).__name__}: {exc}"[:300],
                )
        return None
