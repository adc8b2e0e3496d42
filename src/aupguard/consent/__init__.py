"""Consent: the ledger with evidence, inbound keywords, quiet hours, do-not-call,
and the P17/P12 signals. See docs/consent.md."""

from aupguard.consent.keywords import Intent, IntentKind, KeywordIndex, classify, words
from aupguard.consent.model import (
    ALL,
    ConsentEvent,
    ConsentKind,
    ConsentMethod,
    ConsentStatus,
    ConsentView,
    fold,
    scopes_for,
)
from aupguard.consent.quiet_hours import QuietIndex, Wait, wait_for
from aupguard.consent.service import InboundOutcome, business_days_after, record_inbound
from aupguard.consent.signals import ConsentSignals, looks_like_code
from aupguard.consent.source import ConsentSource, recipient_key
from aupguard.consent.store import (
    PLATFORM_LIST,
    ConsentStore,
    DncStore,
    MemoryConsentStore,
    MemoryDncStore,
)

__all__ = [
    "ALL",
    "PLATFORM_LIST",
    "ConsentEvent",
    "ConsentKind",
    "ConsentMethod",
    "ConsentSignals",
    "ConsentSource",
    "ConsentStatus",
    "ConsentStore",
    "ConsentView",
    "DncStore",
    "InboundOutcome",
    "Intent",
    "IntentKind",
    "KeywordIndex",
    "MemoryConsentStore",
    "MemoryDncStore",
    "QuietIndex",
    "Wait",
    "business_days_after",
    "classify",
    "fold",
    "looks_like_code",
    "recipient_key",
    "record_inbound",
    "scopes_for",
    "wait_for",
    "words",
]
