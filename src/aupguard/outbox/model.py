"""What the gateway records: messages, decisions, outbox entries, idempotency keys.

Every record belongs to one tenant; every read names the tenant. The store
writes one `Accept` (a message, its decision, its outbox entries and its
idempotency key) in the same transaction as the others of its batch, so an
answer given after the commit is never lost and never half-written.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

__all__ = [
    "IDEMPOTENCY_TTL",
    "Accept",
    "Accepted",
    "DecisionQuery",
    "DecisionRecord",
    "IdempotencyEntry",
    "MessageQuery",
    "MessageRecord",
    "OutboxEntry",
    "cursor_of",
    "decode_cursor",
    "encode_cursor",
    "new_id",
]

IDEMPOTENCY_TTL = timedelta(hours=24)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

MessageStatus = Literal[
    "queued", "held", "blocked", "sent", "delivered", "undelivered", "failed", "accepted"
]
"""queued: accepted and waiting for delivery; held: accepted, not delivered until
released; blocked: refused at send; sent: handed to the downstream; delivered /
undelivered: a delivery receipt said so; failed: refused after acceptance (Twilio
30007-style) or given up after the last attempt."""


def new_id(prefix: str) -> str:
    """`prefix` and 32 hex digits (Twilio's SID form: SM..., and ours for the rest)."""
    return prefix + os.urandom(16).hex()


@dataclass(frozen=True, slots=True)
class MessageRecord:
    id: str
    tenant: str
    created_at: datetime
    updated_at: datetime
    status: str
    channel: str
    sender: str
    recipient: str
    verdict: str
    code: int | None = None
    error_code: int | None = None
    rules: tuple[str, ...] = ()
    clauses: tuple[str, ...] = ()
    body_sha256: str | None = None
    num_media: int = 0
    status_callback: str | None = None
    api: str = "native"
    account_sid: str | None = None

    def with_status(self, status: str, error_code: int | None, at: datetime) -> MessageRecord:
        return replace(self, status=status, error_code=error_code, updated_at=at)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "verdict": self.verdict,
            "code": self.code,
            "error_code": self.error_code,
            "rules": list(self.rules),
            "clauses": list(self.clauses),
            "channel": self.channel,
            "from": self.sender,
            "to": self.recipient,
            "num_media": self.num_media,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
        }


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    id: str
    tenant: str
    at: datetime
    kind: str
    verdict: str
    code: int | None = None
    rules: tuple[str, ...] = ()
    clauses: tuple[str, ...] = ()
    message_id: str | None = None
    event_id: str | None = None
    pack_version: str = ""
    degraded: bool = False
    shadow: tuple[str, ...] = ()
    """The shadow-mode rules that fired (recorded, never enforced)."""
    shadow_changes: tuple[str, ...] = ()
    """Those of `shadow` whose action is more severe than `verdict`: the decision would
    have come out otherwise had the rule been enforced."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": _iso(self.at),
            "kind": self.kind,
            "verdict": self.verdict,
            "code": self.code,
            "rules": list(self.rules),
            "clauses": list(self.clauses),
            "message_id": self.message_id,
            "event_id": self.event_id,
            "pack_version": self.pack_version,
            "degraded": self.degraded,
        }


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """Work for the delivery worker: deliver a message, or call a status callback."""

    id: str
    tenant: str
    message_id: str
    kind: Literal["deliver", "callback"]
    payload: Mapping[str, Any]
    created_at: datetime
    next_attempt_at: datetime
    attempts: int = 0
    state: Literal["pending", "held", "done", "dead"] = "pending"
    """held: a held message's delivery, kept (with its body and the evidence of the
    rules that held it) until a reviewer releases it (pending) or blocks it (done)."""
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class IdempotencyEntry:
    key: str
    request_hash: str
    status: int
    response: bytes
    message_id: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Accept:
    """One send to commit: its message (None when nothing is kept but the decision),
    its decision, what to enqueue, and the answer to keep for its idempotency key."""

    tenant: str
    decision: DecisionRecord
    message: MessageRecord | None = None
    outbox: Sequence[OutboxEntry] = ()
    idempotency: IdempotencyEntry | None = None


@dataclass(frozen=True, slots=True)
class Accepted:
    """What became of an Accept: written, or an earlier answer under the same
    idempotency key (`replay`), or that key with another body (`conflict`)."""

    outcome: Literal["written", "replay", "conflict"]
    earlier: IdempotencyEntry | None = None


@dataclass(frozen=True, slots=True)
class DecisionQuery:
    verdict: str | None = None
    rule: str | None = None
    clause: str | None = None
    kind: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50
    after: tuple[datetime, str] | None = None
    """Keyset cursor: decisions strictly older than (at, id)."""

    def matches(self, d: DecisionRecord) -> bool:
        return (
            (self.verdict is None or d.verdict == self.verdict)
            and (self.rule is None or self.rule in d.rules)
            and (self.clause is None or self.clause in d.clauses)
            and (self.kind is None or d.kind == self.kind)
            and (self.since is None or d.at >= self.since)
            and (self.until is None or d.at < self.until)
            and (self.after is None or (d.at, d.id) < self.after)
        )


@dataclass(frozen=True, slots=True)
class MessageQuery:
    """Messages by tenant (None: every tenant, for staff), status, sender and rule, a page
    at a time by keyset over (created_at, id): never an OFFSET."""

    tenant: str | None = None
    statuses: tuple[str, ...] = ()
    sender: str | None = None
    rule: str | None = None
    limit: int = 50
    after: tuple[datetime, str] | None = None
    """Keyset cursor: messages strictly past (created_at, id) in the page's order."""
    oldest_first: bool = False

    def matches(self, m: MessageRecord) -> bool:
        key = (m.created_at, m.id)
        past = self.after is None or (key > self.after if self.oldest_first else key < self.after)
        return (
            (self.tenant is None or m.tenant == self.tenant)
            and (not self.statuses or m.status in self.statuses)
            and (self.sender is None or m.sender == self.sender)
            and (self.rule is None or self.rule in m.rules)
            and past
        )


def encode_cursor(record: DecisionRecord) -> str:
    """``<microseconds since the epoch>-<id>`` of the last decision of a page."""
    return cursor_of(record.at, record.id)


def cursor_of(at: datetime, ident: str) -> str:
    """A keyset cursor for (time, id): ``<microseconds since the epoch>-<id>``."""
    micros = (at - EPOCH) // timedelta(microseconds=1)
    return f"{micros}-{ident}"


def decode_cursor(cursor: str) -> tuple[datetime, str] | None:
    micros, _, ident = cursor.partition("-")
    if not micros.isdigit() or len(micros) > 16 or not ident:
        return None
    return EPOCH + timedelta(microseconds=int(micros)), ident


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
