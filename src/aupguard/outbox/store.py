"""The message store: the protocol, and the in-memory implementation.

`accept` writes a batch in one transaction (the group commit of
`aupguard.outbox.writer`); `claim` leases due outbox entries to one delivery
worker (a lease that runs out makes the entry due again, so a worker that died
mid-delivery does not strand it); `settle` and `reschedule` finish or retry them.
The SQL implementation is `aupguard.outbox.sql.SqlMessageStore`.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Literal, Protocol

from aupguard.outbox.model import (
    IDEMPOTENCY_TTL,
    Accept,
    Accepted,
    DecisionQuery,
    DecisionRecord,
    IdempotencyEntry,
    MessageQuery,
    MessageRecord,
    OutboxEntry,
)

__all__ = ["MemoryMessageStore", "MessageStore", "Review", "StatusUpdate"]

StatusUpdate = tuple[str, int | None]
"""A message's new status and error code."""

Review = Literal["release", "block"]
"""A reviewer's outcome for a held message: deliver it (its held outbox entry becomes
pending, the message queued) or refuse it (the entry is done and its body dropped,
the message blocked)."""


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

    def find_messages(self, query: MessageQuery) -> list[MessageRecord]:
        """Messages matching `query`, in its order (newest first unless `oldest_first`)."""
        ...

    def held_entry(self, tenant: str, message_id: str) -> OutboxEntry | None:
        """The held delivery of a held message (its body and evidence)."""
        ...

    def rule_hits(self, since: datetime) -> list[tuple[date, str, int]]:
        """(day, rule, decisions) for every tenant's decisions since `since` (UTC days)."""
        ...

    def shadow_hits(self, since: datetime) -> list[tuple[date, str, int, int]]:
        """(day, shadow rule, decisions it fired on, those whose verdict it would have
        changed) for every tenant's decisions since `since` (UTC days)."""
        ...

    def shadow_examples(self, rule: str, since: datetime, limit: int) -> list[DecisionRecord]:
        """The newest decisions (with a message, of any tenant) since `since` whose verdict
        the shadow rule `rule` would have changed, at most `limit`."""
        ...

    def review(
        self, tenant: str, message_id: str, outcome: Review, now: datetime
    ) -> MessageRecord | None:
        """Release or block a held message and its held entry, in one transaction;
        None when the message is not (or no longer) held."""
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

    def find_messages(self, query: MessageQuery) -> list[MessageRecord]:
        with self._lock:
            found = [m for m in self.messages.values() if query.matches(m)]
        found.sort(key=lambda m: (m.created_at, m.id), reverse=not query.oldest_first)
        return found[: query.limit]

    def rule_hits(self, since: datetime) -> list[tuple[date, str, int]]:
        counts: Counter[tuple[date, str]] = Counter()
        with self._lock:
            for d in self.decision_log:
                if d.at >= since:
                    for rule in d.rules:
                        counts[(d.at.astimezone(UTC).date(), rule)] += 1
        return [(day, rule, n) for (day, rule), n in counts.items()]

    def shadow_hits(self, since: datetime) -> list[tuple[date, str, int, int]]:
        counts: dict[tuple[date, str], list[int]] = {}
        with self._lock:
            for d in self.decision_log:
                if d.at >= since:
                    for rule in d.shadow:
                        tally = counts.setdefault((d.at.astimezone(UTC).date(), rule), [0, 0])
                        tally[0] += 1
                        tally[1] += rule in d.shadow_changes
        return [(day, rule, hits, changes) for (day, rule), (hits, changes) in counts.items()]

    def shadow_examples(self, rule: str, since: datetime, limit: int) -> list[DecisionRecord]:
        with self._lock:
            found = [
                d
                for d in self.decision_log
                if d.at >= since and rule in d.shadow_changes and d.message_id is not None
            ]
        found.sort(key=lambda d: (d.at, d.id), reverse=True)
        return found[:limit]

    def held_entry(self, tenant: str, message_id: str) -> OutboxEntry | None:
        with self._lock:
            return next(
                (
                    e
                    for e in self.outbox.values()
                    if e.tenant == tenant and e.message_id == message_id and e.state == "held"
                ),
                None,
            )

    def review(
        self, tenant: str, message_id: str, outcome: Review, now: datetime
    ) -> MessageRecord | None:
        with self._lock:
            found = self.messages.get((tenant, message_id))
            if found is None or found.status != "held":
                return None
            for entry in list(self.outbox.values()):
                if entry.message_id == message_id and entry.state == "held":
                    self.outbox[entry.id] = (
                        replace(entry, state="pending", next_attempt_at=now)
                        if outcome == "release"
                        else replace(entry, state="done", payload={}, next_attempt_at=now)
                    )
            status = "queued" if outcome == "release" else "blocked"
            return self._set_status(tenant, message_id, (status, found.error_code), now)

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
