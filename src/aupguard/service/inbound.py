"""Inbound messages in the gateway: a reply from a recipient to one of the tenant's
numbers is screened (decision recorded), its keywords are acted on in the consent
ledger (`aupguard.consent.service.record_inbound`: STOP, START, HELP, revocation
intent, one confirmation), and the answer says what to reply, if anything.

A provider's message id (the event's ``id``: Twilio's MessageSid) makes the
request idempotent for 24 hours: the answer is kept under it, in the same
transaction as the decision, and a repeat gets that answer again instead of
acting twice (providers retry webhooks that timed out).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from aupguard.actors import Actor, require
from aupguard.consent.keywords import KeywordIndex
from aupguard.consent.service import InboundOutcome, record_inbound
from aupguard.consent.status import honour_terms
from aupguard.consent.store import ConsentStore
from aupguard.engine.decision import Decision
from aupguard.engine.events import InboundMessage
from aupguard.engine.facade import Engine
from aupguard.identity.numbering import region_of
from aupguard.outbox.model import Accepted
from aupguard.outbox.store import MessageStore
from aupguard.service.gateway import (
    SCREEN_ROLES,
    Gateway,
    Prepared,
    commit_send,
    decision_record,
    for_tenant,
    kept_answer,
    request_hash,
)
from aupguard.service.screening import Screener

__all__ = [
    "InboundHandled",
    "KeywordsMissing",
    "commit_inbound",
    "handle_inbound",
    "inbound_json",
    "inbound_key",
    "kept_inbound",
]


ACTION = "record inbound messages (needs the send or admin scope)"


class KeywordsMissing(LookupError):
    def __init__(self) -> None:
        super().__init__(
            "the policy pack has no consent_keywords dataset, so inbound keywords cannot be read"
        )


@dataclass(frozen=True, slots=True)
class InboundHandled:
    prepared: Prepared
    outcome: InboundOutcome


def inbound_key(event: InboundMessage) -> tuple[str, str] | None:
    """(idempotency key, request hash) for an event with a provider message id. The
    key holds a space, which the tenant's own Idempotency-Key headers cannot."""
    if not event.id:
        return None
    digest = request_hash(
        event.body.encode(), event.sender, event.to, event.channel.value, event.account
    )
    return f"inbound {event.id}", digest


def kept_inbound(
    store: MessageStore, actor: Actor, event: InboundMessage, now: datetime
) -> Accepted | None:
    """`replay` with the answer kept for this provider message id if it was handled
    before with the same content, `conflict` if with other content, else None."""
    require(actor, *SCREEN_ROLES, action=ACTION)
    event = cast(InboundMessage, for_tenant(actor, event))
    key = inbound_key(event)
    return None if key is None else kept_answer(store, actor, event, key[0], key[1], now)


def handle_inbound(
    engine: Engine,
    screener: Screener,
    ledger: ConsentStore,
    actor: Actor,
    event: InboundMessage,
    now: datetime,
    *,
    brand: str | None = None,
) -> InboundHandled:
    """Screen the reply and act on its keywords (the ledger event is appended here;
    the decision is committed by `commit_inbound`)."""
    require(actor, *SCREEN_ROLES, action=ACTION)
    event = cast(InboundMessage, for_tenant(actor, event))
    data = engine.pack.data
    keywords = data.get("consent_keywords")
    if not isinstance(keywords, KeywordIndex):
        raise KeywordsMissing()
    _, holidays = honour_terms(data, region_of(event.to) or "US")
    decision = screener.screen(event, now=now)
    outcome = record_inbound(ledger, keywords, event, now, brand=brand, holidays=holidays)
    record = decision_record(decision, event.account, now, None, event.id)
    return InboundHandled(Prepared(event.account, decision, record, None, ()), outcome)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _decision_json(decision: Decision, decision_id: str) -> dict[str, Any]:
    return {
        "id": decision_id,
        "verdict": decision.verdict.value,
        "code": decision.code,
        "rules": list(dict.fromkeys(h.rule for h in decision.hits)),
        "clauses": list(decision.clauses),
    }


def inbound_json(handled: InboundHandled) -> dict[str, Any]:
    outcome = handled.outcome
    intent = outcome.intent
    recorded = outcome.recorded
    return {
        "intent": {
            "kind": intent.kind.value,
            "confidence": intent.confidence,
            "matched": intent.matched or None,
            "how": intent.how or None,
        },
        "consent": {"before": outcome.before.status.value, "after": outcome.after.status.value},
        "recorded": None
        if recorded is None
        else {
            "kind": recorded.kind.value,
            "scope": recorded.scope,
            "channel": recorded.channel,
            "recipient": recorded.recipient,
            "at": recorded.at.isoformat(),
            "method": recorded.method.value,
            "source": recorded.source,
        },
        "reply": outcome.reply,
        "reply_by": _iso(outcome.reply_by),
        "honour_by": _iso(outcome.honour_by),
        "decision": _decision_json(handled.prepared.decision, handled.prepared.record.id),
    }


async def commit_inbound(
    gateway: Gateway, handled: InboundHandled, event: InboundMessage, status: int, answer: bytes
) -> Accepted:
    """Commit the decision, and the answer under the provider message id (`replay` or
    `conflict` when another worker handled the same id first)."""
    key = inbound_key(event.model_copy(update={"account": handled.prepared.tenant}))
    keep = None if key is None else (key[0], key[1], status, answer)
    return await commit_send(gateway, handled.prepared, keep)
