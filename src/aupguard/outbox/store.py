"""The message store: the protocol, and the in-memory implementation.

`accept` writes a batch in one transaction (the group commit of
`aupguard.outbox.writer`); `claim` leases due outbox entries to one delivery
worker (a lease that runs out makes the entry due again, so a worker that died
mid-delivery does not strand it); `settle` and `reschedule` finish or retry them.
The SQL implementation is `aupguard.outbox.sql.SqlMessageStore`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Literal, Protocol

from aupguard.outbox.model import (
    IDEMPOTENCY_TTL,
    Accept,
    Accepted,
    DecisionQuery,
    DecisionRecord,
    IdempotencyEntry,
    MessageRecord,
    OutboxEntry,
)

__all__ = ["MemoryMessageStore", "MessageStore", "StatusUpdate"]

StatusUpdate = tuple[str, int | None]
"""A message's new status and error code."""


class MessageStore(Protocol):
    def accept(self, batch: Sequence[Accept], now: datetime) -> list[Accepted]:
        """Write each Accept, all in one transaction, unless its idempotency key is
        known (then: `replay` with the kept answer, or `conflict` for another body)."""
        ...

    def message(self, tenant: str, message_id: str) -> MessageRecord | None: ...

    def kept(self, tenant: str, key: str, now: datetime) -> IdempotencyEntry | None:
        """The answer kept under an idempotency key in the last 24 hours, if any."""
        ...

    def decisions(self, tenant: str, query: DecisionQuery) -> list[DecisionRecord]:
        """The tenant's decisions matching `query`, newest first, at most `query.limit`."""
        ...

    def claim(self, now: datetime, limit: int, lease: timedelta) -> list[OutboxEntry]:
        """Due pending entries, each leased (not due again until now + lease) and its
        attempt counted; two workers never claim the same entry at the same time."""
        ...

    def settle(
        self,
        entry: OutboxEntry,
        now: datetime,
        state: Literal["done", "dead"],
        error: str | None = None,
        status: StatusUpdate | None = None,
        enqueue: Sequence[OutboxEntry] = (),
    ) -> None:
        """Finish an entry (delivered, or given up), update its message's status and
        enqueue follow-ups (status callbacks), in one transaction."""
        ...

    def reschedule(self, entry: OutboxEntry, next_attempt_at: datetime, error: str) -> None: ...

    def update_status(
        self,
        tenant: str,
        message_id: str,
        status: StatusUpdate,
        now: datetime,
        enqueue: Sequence[OutboxEntry] = (),
    ) -> MessageRecord | None:
        """A delivery receipt: the message's new status, and what to enqueue with it
        (its status callback), in one transaction (None: no such message)."""
        ...

    def pending(self) -> int:
        """Outbox entries not yet done or dead (the queue depth)."""
        ...

    def dead_letters(self, tenant: str, limit: int = 100) -> list[OutboxEntry]: ...

    def purge(self, now: datetime) -> int:
        """Forget idempotency keys older than 24 hours; how many were removed."""
        ...


class MemoryMessageStore:
    """The store in one process's memory (tests, the library, a single embedded worker)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.messages: dict[tuple[str, str], MessageRecord] = {}
        self.decision_log: list[DecisionRecord] = []
        self.outbox: dict[str, OutboxEntry] = {}
        self.keys: dict[tuple[str, str], IdempotencyEntry] = {}

    def accept(self, batch: Sequence[Accept], now: datetime) -> list[Accepted]:
        results: list[Accepted] = []
        with self._lock:
            for item in batch:
                key = item.idempotency
                if key is not None:
                    earlier = self.keys.get((item.tenant, key.key))
                    if earlier is not None and earlier.created_at > now - IDEMPOTENCY_TTL:
                        same = earlier.request_hash == key.request_hash
                        results.append(Accepted("replay" if same else "conflict", earlier))
                        continue
                    self.keys[(item.tenant, key.key)] = key
                if item.message is not None:
                    self.messages[(item.tenant, item.message.id)] = item.message
                self.decision_log.append(item.decision)
                for entry in item.outbox:
                    self.outbox[entry.id] = entry
                results.append(Accepted("written"))
        return results

    def message(self, tenant: str, message_id: str) -> MessageRecord | None:
        return self.messages.get((tenant, message_id))

    def kept(self, tenant: str, key: str, now: datetime) -> IdempotencyEntry | None:
        earlier = self.keys.get((tenant, key))
        if earlier is None or earlier.created_at <= now - IDEMPOTENCY_TTL:
            return None
        return earlier

    def decisions(self, tenant: str, query: DecisionQuery) -> list[DecisionRecord]:
        with self._lock:
            found = [d for d in self.decision_log if d.tenant == tenant and query.matches(d)]
        found.sort(key=lambda d: (d.at, d.id), reverse=True)
        return found[: query.limit]

    def claim(self, now: datetime, limit: int, lease: timedelta) -> list[OutboxEntry]:
        with self._lock:
            due = sorted(
                (
                    e
                    for e in self.outbox.values()
                    if e.state == "pending" and e.next_attempt_at <= now
                ),
                key=lambda e: (e.next_attempt_at, e.id),
            )[:limit]
            claimed = []
            for entry in due:
                leased = replace(entry, attempts=entry.attempts + 1, next_attempt_at=now + lease)
                self.outbox[entry.id] = leased
                claimed.append(leased)
            return claimed

    def settle(
        self,
        entry: OutboxEntry,
        now: datetime,
        state: Literal["done", "dead"],
        error: str | None = None,
        status: StatusUpdate | None = None,
        enqueue: Sequence[OutboxEntry] = (),
    ) -> None:
        with self._lock:
            current = self.outbox.get(entry.id)
            if current is None:
                return
            payload = current.payload if state == "dead" else {}
            self.outbox[entry.id] = replace(
                current, state=state, last_error=error, payload=payload, next_attempt_at=now
            )
            if status is not None:
                self._set_status(entry.tenant, entry.message_id, status, now)
            for follow in enqueue:
                self.outbox[follow.id] = follow

    def reschedule(self, entry: OutboxEntry, next_attempt_at: datetime, error: str) -> None:
        with self._lock:
            current = self.outbox.get(entry.id)
            if current is not None and current.state == "pending":
                self.outbox[entry.id] = replace(
                    current, next_attempt_at=next_attempt_at, last_error=error
                )

    def update_status(
        self,
        tenant: str,
        message_id: str,
        status: StatusUpdate,
        now: datetime,
        enqueue: Sequence[OutboxEntry] = (),
    ) -> MessageRecord | None:
        with self._lock:
            updated = self._set_status(tenant, message_id, status, now)
            if updated is not None:
                for follow in enqueue:
                    self.outbox[follow.id] = follow
            return updated

    def _set_status(
        self, tenant: str, message_id: str, status: StatusUpdate, now: datetime
    ) -> MessageRecord | None:
        found = self.messages.get((tenant, message_id))
        if found is None:
            return None
        updated = found.with_status(status[0], status[1], now)
        self.messages[(tenant, message_id)] = updated
        return updated

    def pending(self) -> int:
        return sum(1 for e in self.outbox.values() if e.state == "pending")

    def dead_letters(self, tenant: str, limit: int = 100) -> list[OutboxEntry]:
        dead = [e for e in self.outbox.values() if e.tenant == tenant and e.state == "dead"]
        return sorted(dead, key=lambda e: (e.created_at, e.id))[:limit]

    def purge(self, now: datetime) -> int:
        with self._lock:
            old = [k for k, v in self.keys.items() if v.created_at <= now - IDEMPOTENCY_TTL]
            for k in old:
                del self.keys[k]
            return len(old)
