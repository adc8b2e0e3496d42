"""What the consent check reads for one recipient, with a per-process cache that never
serves a stale opt-out.

The send path asks, for every message, for the recipient's ledger events and
whether a do-not-call list holds the number: two queries. `RecipientLookup`
answers from the stores directly; `CachedLookup` (SQL stores) keeps the answer
per (tenant, recipient, lists) in this process, stamped with the consent
versions of the tenant and the lists it read (``consent_versions``, changed in
the transaction of every ledger or do-not-call write, by any process). Each
lookup reads those versions first, in one query, and uses the kept answer only
when they are unchanged, so a change committed through any worker, the CLI or
the console is seen by the next lookup anywhere: no time-to-live, no window.

What it saves: one query instead of two for a recipient already looked up
since the tenant's (or the platform list's) last consent write; a recipient
seen for the first time, or after a write, costs the version query and the two
reads. A tenant that writes consent constantly (many inbound STOPs) gets
fewer hits, never stale answers. The versions are per tenant, not per
recipient, so that the check stays one indexed read of a small table.

Writes that bypass aupguard (hand-made SQL on the consent tables) do not change
the version and are not seen by a worker that cached the recipient; they are
not a supported way to change consent.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol

from aupguard.consent.model import ConsentEvent
from aupguard.consent.store import ConsentStore, DncStore

__all__ = ["CachedLookup", "RecipientLookup", "VersionedStore", "lookup_for"]

MAX_ENTRIES = 100_000
"""Recipients kept per process; the oldest entry goes first (about 1 KB each)."""


class VersionedStore(Protocol):
    def versions(self, tenants: tuple[str, ...]) -> tuple[int, ...]: ...


class RecipientLookup:
    """The recipient's events and do-not-call listing, read from the stores each time."""

    def __init__(self, ledger: ConsentStore, dnc: DncStore | None) -> None:
        self.ledger = ledger
        self.dnc = dnc

    def lookup(
        self, tenant: str, recipient: str, lists: tuple[str, ...]
    ) -> tuple[Sequence[ConsentEvent], bool]:
        """`tenant`'s ledger events for `recipient` in time order, and whether any of
        the do-not-call `lists` (one or two tenants' lists) holds it."""
        events = self.ledger.history(tenant, recipient)
        listed = False
        if self.dnc is not None and lists:
            listed = (
                self.dnc.listed_in((lists[0], lists[1]), recipient)
                if len(lists) == 2
                else self.dnc.listed(lists[0], recipient)
            )
        return events, listed

    def close(self) -> None:
        return None


class CachedLookup(RecipientLookup):
    """`RecipientLookup` kept per process and checked against the consent versions."""

    def __init__(
        self,
        ledger: ConsentStore,
        dnc: DncStore | None,
        versions: VersionedStore,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        super().__init__(ledger, dnc)
        self.versions = versions
        self.max_entries = max_entries
        self._entries: dict[
            tuple[str, str, tuple[str, ...]],
            tuple[tuple[int, ...], tuple[ConsentEvent, ...], bool],
        ] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def lookup(
        self, tenant: str, recipient: str, lists: tuple[str, ...]
    ) -> tuple[Sequence[ConsentEvent], bool]:
        stamp_of = (tenant, *(t for t in lists if t != tenant))
        # the versions are read before the data: a write committed in between makes
        # the entry look older than it is (read again next time), never newer
        stamp = self.versions.versions(stamp_of)
        key = (tenant, recipient, lists)
        kept = self._entries.get(key)
        if kept is not None and kept[0] == stamp:
            self.hits += 1
            return kept[1], kept[2]
        self.misses += 1
        events, listed = super().lookup(tenant, recipient, lists)
        # the events are shared by later lookups: they are frozen models, kept as a tuple
        frozen = tuple(events)
        with self._lock:
            if key not in self._entries and len(self._entries) >= self.max_entries:
                del self._entries[next(iter(self._entries))]
            self._entries[key] = (stamp, frozen, listed)
        return frozen, listed

    def __len__(self) -> int:
        return len(self._entries)


def lookup_for(ledger: ConsentStore, dnc: DncStore | None) -> RecipientLookup:
    """The cached lookup when the ledger and the do-not-call lists are SQL stores on one
    database (whose writes change the versions the ledger reads), else the plain one."""
    from aupguard.consent.sql import SqlConsentStore, SqlDncStore

    if isinstance(ledger, SqlConsentStore) and (
        dnc is None or (isinstance(dnc, SqlDncStore) and dnc.db.url == ledger.db.url)
    ):
        return CachedLookup(ledger, dnc, ledger)
    return RecipientLookup(ledger, dnc)
