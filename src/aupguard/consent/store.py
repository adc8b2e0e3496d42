"""Store interfaces of the consent domain, and their in-memory implementations.

`ConsentStore` is the append-only ledger; `DncStore` the do-not-call lists.
Every call names the tenant, and nothing a call returns belongs to another
tenant. The SQL implementations are in `aupguard.consent.sql`; one contract
suite (`tests/contract/test_consent_store.py`) runs against all of them.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from aupguard.consent.model import ConsentEvent, ConsentKind

__all__ = [
    "PLATFORM_LIST",
    "ConsentStats",
    "ConsentStore",
    "DncEntry",
    "DncStore",
    "MemoryConsentStore",
    "MemoryDncStore",
]

PLATFORM_LIST = "*platform"
"""The tenant name under which a platform-wide do-not-call list is kept."""


@dataclass(frozen=True, slots=True)
class ConsentStats:
    """A tenant's ledger in figures: events since a time by (kind, method, channel),
    and the recipients opted out now (the ledger's state over every scope and channel:
    their latest opt-in or opt-out is an opt-out)."""

    events: dict[tuple[str, str, str], int]
    opted_out: int

    def total(self, kind: str) -> int:
        return sum(n for (k, _, _), n in self.events.items() if k == kind)

    def by(self, kind: str, part: int) -> list[tuple[str, int]]:
        """Counts of `kind` by method (`part` 1) or channel (2), largest first."""
        tally: Counter[str] = Counter()
        for key, n in self.events.items():
            if key[0] == kind:
                tally[key[part]] += n
        return sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))


class ConsentStore(Protocol):
    def append(self, events: Sequence[ConsentEvent]) -> None:
        """Add events, all or none (one transaction)."""
        ...

    def history(
        self, tenant: str, recipient: str, until: datetime | None = None
    ) -> list[ConsentEvent]:
        """The recipient's events of `tenant` in time order (up to `until` when given)."""
        ...

    def export(self, tenant: str) -> Iterator[ConsentEvent]:
        """Every event of `tenant`, by recipient and time."""
        ...

    def statistics(self, tenant: str, since: datetime, now: datetime) -> ConsentStats:
        """Events of `tenant` in [since, now], and the recipients opted out at `now`."""
        ...


@dataclass(frozen=True, slots=True)
class DncEntry:
    number: str
    source: str
    added: datetime


class DncStore(Protocol):
    def add(self, tenant: str, numbers: Sequence[str], source: str, at: datetime) -> int:
        """List E.164 numbers (all or none); returns how many were not listed before."""
        ...

    def remove(self, tenant: str, numbers: Sequence[str]) -> int:
        """Unlist numbers (all or none); returns how many were listed."""
        ...

    def page(self, tenant: str, after: str | None, limit: int) -> list[DncEntry]:
        """Up to `limit` of the tenant's entries by number, those after `after` (keyset)."""
        ...

    def listed(self, tenant: str, number: str) -> bool: ...

    def listed_in(self, tenants: tuple[str, str], number: str) -> bool:
        """Listed by either tenant (the account's own list, the platform's)."""
        ...

    def count(self, tenant: str) -> int: ...


def _order(event: ConsentEvent) -> datetime:
    return event.at


class MemoryConsentStore:
    """The ledger in a dict (one process; tests and the library)."""

    def __init__(self) -> None:
        self._events: dict[tuple[str, str], list[ConsentEvent]] = {}
        self._lock = threading.Lock()

    def append(self, events: Sequence[ConsentEvent]) -> None:
        with self._lock:
            for event in events:
                bucket = self._events.setdefault((event.tenant, event.recipient), [])
                bucket.append(event)
                if len(bucket) > 1 and bucket[-2].at > event.at:
                    bucket.sort(key=_order)  # stable: equal times keep insertion order

    def history(
        self, tenant: str, recipient: str, until: datetime | None = None
    ) -> list[ConsentEvent]:
        events = self._events.get((tenant, recipient), ())
        return [e for e in events if until is None or e.at <= until]

    def export(self, tenant: str) -> Iterator[ConsentEvent]:
        for key in sorted(k for k in self._events if k[0] == tenant):
            yield from self._events[key]

    def statistics(self, tenant: str, since: datetime, now: datetime) -> ConsentStats:
        events: Counter[tuple[str, str, str]] = Counter()
        opted_out = 0
        with self._lock:
            buckets = [v for k, v in self._events.items() if k[0] == tenant]
        for bucket in buckets:
            latest: dict[ConsentKind, datetime] = {}
            for e in bucket:
                if since <= e.at <= now:
                    events[(e.kind.value, e.method.value, e.channel)] += 1
                if e.at <= now and e.kind is not ConsentKind.EXPIRY:
                    latest[e.kind] = max(e.at, latest.get(e.kind, e.at))
            out, opt_in = latest.get(ConsentKind.OPT_OUT), latest.get(ConsentKind.OPT_IN)
            if out is not None and (opt_in is None or out >= opt_in):
                opted_out += 1
        return ConsentStats(dict(events), opted_out)


class MemoryDncStore:
    def __init__(self) -> None:
        self._numbers: dict[str, dict[str, DncEntry]] = {}
        self._lock = threading.Lock()

    def add(self, tenant: str, numbers: Iterable[str], source: str, at: datetime) -> int:
        with self._lock:
            listed = self._numbers.setdefault(tenant, {})
            before = len(listed)
            for number in numbers:
                listed.setdefault(number, DncEntry(number, source, at))
            return len(listed) - before

    def remove(self, tenant: str, numbers: Sequence[str]) -> int:
        with self._lock:
            listed = self._numbers.get(tenant, {})
            return sum(listed.pop(n, None) is not None for n in set(numbers))

    def page(self, tenant: str, after: str | None, limit: int) -> list[DncEntry]:
        listed = self._numbers.get(tenant, {})
        chosen = sorted(n for n in listed if after is None or n > after)[:limit]
        return [listed[n] for n in chosen]

    def listed(self, tenant: str, number: str) -> bool:
        return number in self._numbers.get(tenant, ())

    def listed_in(self, tenants: tuple[str, str], number: str) -> bool:
        return any(number in self._numbers.get(t, ()) for t in tenants)

    def count(self, tenant: str) -> int:
        return len(self._numbers.get(tenant, ()))
