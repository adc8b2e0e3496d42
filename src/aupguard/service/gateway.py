"""Gateway services: what the HTTP API's send path calls, authorized on the Actor.

Screening (decision only), and the send path: screen, record the message and
its decision, enqueue it for delivery, all committed before the answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, cast

from aupguard.actors import Actor, Forbidden, Role, require
from aupguard.engine.decision import Decision, RuleHit, Verdict
from aupguard.engine.events import AnyEvent, OutboundMessage
from aupguard.outbox.model import (
    Accept,
    Accepted,
    DecisionQuery,
    DecisionRecord,
    IdempotencyEntry,
    MessageRecord,
    OutboxEntry,
    new_id,
)
from aupguard.outbox.store import MessageStore
from aupguard.outbox.worker import DeliveryWorker, callback_entry, status_params
from aupguard.outbox.writer import GroupCommitWriter
from aupguard.service.screening import Clock, Screener, utc_now

__all__ = [
    "Gateway",
    "MessageNotFound",
    "NotSent",
    "OptedOutRecipients",
    "Prepared",
    "check_screen",
    "commit_send",
    "decision_record",
    "for_tenant",
    "get_message",
    "held_hit",
    "kept_answer",
    "list_decisions",
    "native_status",
    "prepare_send",
    "record_receipt",
    "request_hash",
    "tenant_of",
]

SCREEN_ROLES = (Role.SENDER, Role.TENANT_ADMIN, Role.ADMIN)


def for_tenant(actor: Actor, event: AnyEvent) -> AnyEvent:
    """The event as the actor's tenant's: a tenant actor cannot act for another
    tenant (an explicit other `account` is refused) and an event without one is
    given the actor's. Staff act for the account the event names."""
    if actor.tenant is None or event.account == actor.tenant:
        return event
    if "account" in event.model_fields_set:
        raise Forbidden(
            actor, f"act for account {event.account!r} (the key belongs to {actor.tenant!r})"
        )
    return event.model_copy(update={"account": actor.tenant})


def check_screen(screener: Screener, actor: Actor, event: AnyEvent) -> Decision:
    """Screen an event without sending it: needs the send or admin scope (or staff admin)."""
    require(actor, *SCREEN_ROLES, action="screen events (needs the send or admin scope)")
    return screener.screen(for_tenant(actor, event))


# -- phase 2: send, record, enqueue -----------------------------------------------------


@dataclass
class Gateway:
    """The send path's parts: the message store, the group-commit writer and, when a
    downstream is configured, the delivery worker (woken after each commit)."""

    store: MessageStore
    writer: GroupCommitWriter
    worker: DeliveryWorker | None = None
    clock: Clock = utc_now
    observers: list[Callable[[Decision], None]] = field(default_factory=list)

    def observe(self, decision: Decision) -> None:
        for observer in self.observers:
            observer(decision)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A screened send, not yet committed."""

    tenant: str
    decision: Decision
    record: DecisionRecord
    message: MessageRecord | None
    outbox: tuple[OutboxEntry, ...]


Statuses = Callable[[Decision], tuple[str | None, int | None]]
"""The message status (None: keep no message) and error code a decision gives."""


def native_status(decision: Decision) -> tuple[str | None, int | None]:
    verdict = decision.verdict
    if verdict is Verdict.ALLOW:
        return "queued", None
    if verdict is Verdict.HOLD:
        return "held", None
    if verdict is Verdict.BLOCK:
        return "blocked", decision.code
    return None, decision.code  # throttled: the sender tries again later


def decision_record(
    decision: Decision, tenant: str, at: datetime, message_id: str | None, event_id: str | None
) -> DecisionRecord:
    return DecisionRecord(
        id=new_id("DC"),
        tenant=tenant,
        at=at,
        kind=decision.kind,
        verdict=decision.verdict.value,
        code=decision.code,
        rules=tuple(dict.fromkeys(h.rule for h in decision.hits)),
        clauses=decision.clauses,
        message_id=message_id,
        event_id=event_id,
        pack_version=f"{decision.pack}@{decision.version}"[:64],
        degraded=bool(decision.degraded),
        shadow=tuple(dict.fromkeys(h.rule for h in decision.shadow)),
        shadow_changes=tuple(
            dict.fromkeys(
                h.rule for h in decision.shadow if h.action.verdict.rank > decision.verdict.rank
            )
        ),
    )


def prepare_send(
    gateway: Gateway,
    screener: Screener,
    actor: Actor,
    event: OutboundMessage,
    *,
    status_callback: str | None = None,
    statuses: Statuses = native_status,
    api: str = "native",
    account_sid: str | None = None,
) -> Prepared:
    """Screen an outbound message for the actor's tenant and build what to commit:
    the message (with its status), its decision, and its delivery entry when it may go."""
    require(actor, *SCREEN_ROLES, action="send messages (needs the send or admin scope)")
    event = cast(OutboundMessage, for_tenant(actor, event))
    now = gateway.clock()
    decision = screener.screen(event, now=now)
    gateway.observe(decision)
    tenant = event.account
    status, error_code = statuses(decision)
    message_id = new_id("SM") if status is not None else None
    record = decision_record(decision, tenant, now, message_id, event.id)
    if status is None or message_id is None:
        return Prepared(tenant, decision, record, None, ())
    message = MessageRecord(
        id=message_id,
        tenant=tenant,
        created_at=now,
        updated_at=now,
        status=status,
        channel=event.channel.value,
        sender=event.sender,
        recipient=event.to,
        verdict=decision.verdict.value,
        code=decision.code,
        error_code=error_code,
        rules=record.rules,
        clauses=record.clauses,
        body_sha256=decision.content_sha256,
        num_media=len(event.media),
        status_callback=status_callback,
        api=api,
        account_sid=account_sid,
    )
    payload: dict[str, Any] = {
        "from": event.sender,
        "to": event.to,
        "channel": event.channel.value,
        "account_sid": account_sid,
        "status_callback": status_callback,
    }
    entries: list[OutboxEntry] = []
    if status in ("queued", "held"):  # held: kept for a reviewer to release or block
        payload["body"] = event.body
        payload["media"] = [m.url for m in event.media if m.url]
        if status == "held":
            payload["hits"] = [held_hit(h) for h in decision.hits]
        entries.append(
            OutboxEntry(
                id=new_id("OB"),
                tenant=tenant,
                message_id=message_id,
                kind="deliver",
                payload=payload,
                created_at=now,
                next_attempt_at=now,
                state="pending" if status == "queued" else "held",
            )
        )
    elif status == "failed" and status_callback:  # refused after acceptance (Twilio 30007)
        entries.append(
            callback_entry(
                tenant,
                message_id,
                status_callback,
                status_params(payload, message_id, "failed", error_code),
                now,
            )
        )
    return Prepared(tenant, decision, record, message, tuple(entries))


def held_hit(hit: RuleHit) -> dict[str, Any]:
    """What a reviewer needs of a rule that held a message: the rule, its clauses and
    severity, and its evidence (spans of the body with their redacted excerpts)."""
    return {
        "rule": hit.rule,
        "title": hit.title,
        "clauses": list(hit.clauses),
        "severity": hit.severity.value,
        "action": hit.action.value,
        "evidence": [e.to_dict() for e in hit.evidence],
    }


def request_hash(body: bytes, *extra: str) -> str:
    digest = hashlib.sha256(body)
    for part in extra:
        digest.update(b"\x00" + part.encode())
    return digest.hexdigest()


async def commit_send(
    gateway: Gateway,
    prepared: Prepared,
    idempotency: tuple[str, str, int, bytes] | None = None,
) -> Accepted:
    """Commit the send (durably, in a group commit) before the caller answers.
    `idempotency` is (key, request hash, status, answer) to keep for 24 hours."""
    key = None
    if idempotency is not None:
        name, digest, status, answer = idempotency
        key = IdempotencyEntry(
            key=name,
            request_hash=digest,
            status=status,
            response=answer,
            message_id=prepared.message.id if prepared.message else None,
            created_at=prepared.record.at,
        )
    accepted = await gateway.writer.submit(
        Accept(
            tenant=prepared.tenant,
            decision=prepared.record,
            message=prepared.message,
            outbox=prepared.outbox,
            idempotency=key,
        )
    )
    if accepted.outcome == "written" and prepared.outbox and gateway.worker is not None:
        gateway.worker.wake()
    return accepted


def kept_answer(
    store: MessageStore, actor: Actor, event: AnyEvent, key: str, digest: str, now: datetime
) -> Accepted | None:
    """`replay` with the answer kept under the tenant's idempotency `key` when it was
    given for the same request (`digest`), `conflict` for another one, else None: a
    repeat is answered before it is screened again (and uses up no limit)."""
    require(actor, *SCREEN_ROLES, action="send (needs the send or admin scope)")
    earlier = store.kept(for_tenant(actor, event).account, key, now)
    if earlier is None:
        return None
    return Accepted("replay" if earlier.request_hash == digest else "conflict", earlier)


READ_ROLES = (Role.VIEWER, Role.SENDER, Role.TENANT_ADMIN, Role.ADMIN, Role.REVIEWER)


class MessageNotFound(LookupError):
    def __init__(self, message_id: str) -> None:
        super().__init__(f"there is no message {message_id} for this tenant")


def tenant_of(actor: Actor, tenant: str | None) -> str:
    """The tenant whose records the actor reads: its own; staff name one."""
    if actor.tenant is not None:
        if tenant is not None and tenant != actor.tenant:
            raise Forbidden(actor, f"read tenant {tenant!r}'s records")
        return actor.tenant
    if tenant is None:
        raise Forbidden(actor, "read records without naming a tenant (add ?tenant=<id>)")
    return tenant


def get_message(
    store: MessageStore, actor: Actor, message_id: str, tenant: str | None = None
) -> MessageRecord:
    require(actor, *READ_ROLES, action="read messages")
    found = store.message(tenant_of(actor, tenant), message_id)
    if found is None:
        raise MessageNotFound(message_id)
    return found


def list_decisions(
    store: MessageStore, actor: Actor, query: DecisionQuery, tenant: str | None = None
) -> list[DecisionRecord]:
    require(actor, *READ_ROLES, action="read decisions")
    return store.decisions(tenant_of(actor, tenant), query)


RECEIPT_ORDER = {"queued": 0, "sent": 1, "delivered": 2, "undelivered": 2, "failed": 2}
"""A receipt never takes a message back: a late "sent" leaves "delivered" as it is."""


class NotSent(ValueError):
    """A receipt for a message that was never sent (blocked, held, filtered)."""

    def __init__(self, message: MessageRecord) -> None:
        super().__init__(
            f"message {message.id} was not sent (it is {message.status}); "
            "delivery receipts apply to messages the gateway sent"
        )


def record_receipt(
    gateway: Gateway,
    actor: Actor,
    message_id: str,
    status: str,
    error_code: int | None,
    tenant: str | None = None,
) -> MessageRecord:
    """A delivery receipt from the downstream: the message's new status and error code,
    and its status callback enqueued in the same transaction. A receipt that would
    take the status back (a late "sent" after "delivered") changes nothing."""
    require(actor, *SCREEN_ROLES, action="report delivery receipts (needs the send or admin scope)")
    owner = tenant_of(actor, tenant)
    found = gateway.store.message(owner, message_id)
    if found is None:
        raise MessageNotFound(message_id)
    if found.verdict != "allow":
        raise NotSent(found)
    late = RECEIPT_ORDER.get(status, 2) < RECEIPT_ORDER.get(found.status, 2)
    if late or (found.status, found.error_code) == (status, error_code):
        return found  # a late or repeated receipt changes nothing
    now = gateway.clock()
    enqueue = []
    if found.status_callback:
        payload = {"from": found.sender, "to": found.recipient, "account_sid": found.account_sid}
        params = status_params(payload, found.id, status, error_code)
        enqueue.append(callback_entry(owner, found.id, found.status_callback, params, now))
    updated = gateway.store.update_status(owner, found.id, (status, error_code), now, enqueue)
    if updated is None:
        raise MessageNotFound(message_id)
    if enqueue and gateway.worker is not None:
        gateway.worker.wake()
    return updated


class OptedOutRecipients:
    """A consent StateSource over a fixed set of (tenant, recipient) pairs that opted
    out: for tests, the library, and until the consent ledger is wired in."""

    name = "consent"
    fail_mode: Literal["open", "closed"] = "closed"
    clauses: tuple[str, ...] = ("P28", "V4")

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        self.pairs = set(pairs)

    def read(self, event: AnyEvent, now: datetime) -> dict[str, Any]:
        to = getattr(event, "to", None)
        if to is not None and (event.account, to) in self.pairs:
            return {"consent": {"status": "opted_out"}}
        return {}
