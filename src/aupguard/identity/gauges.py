"""Concurrent-call gauges: how many calls an account has up, and how long a trunk has
been busy without a break (for the O3 call caps).

`ConcurrencyGauge` is the Protocol; `MemoryGauge` is an in-process implementation
for one gateway process. The traffic counters (issue 5) bring shared gauges
(Redis) that can replace it behind the same Protocol.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Protocol

__all__ = ["ConcurrencyGauge", "MemoryGauge"]


class ConcurrencyGauge(Protocol):
    def active(self, tenant: str) -> int:
        """Calls the tenant has up now."""
        ...

    def start(self, tenant: str, call_id: str, trunk: str | None, now: datetime) -> int:
        """Count a call as up (idempotent per call id); returns the tenant's calls up."""
        ...

    def end(self, tenant: str, call_id: str, now: datetime) -> None:
        """The call is over (unknown ids are ignored)."""
        ...

    def busy_seconds(self, tenant: str, trunk: str, now: datetime) -> float:
        """How long the trunk has had at least one call up without a break (0 when idle)."""
        ...


class MemoryGauge:
    def __init__(self) -> None:
        self._calls: dict[str, dict[str, str | None]] = {}
        self._trunks: dict[tuple[str, str], tuple[int, datetime]] = {}
        self._lock = threading.Lock()

    def active(self, tenant: str) -> int:
        return len(self._calls.get(tenant, ()))

    def start(self, tenant: str, call_id: str, trunk: str | None, now: datetime) -> int:
        with self._lock:
            calls = self._calls.setdefault(tenant, {})
            if call_id not in calls:
                calls[call_id] = trunk
                if trunk is not None:
                    count, since = self._trunks.get((tenant, trunk), (0, now))
                    self._trunks[(tenant, trunk)] = (count + 1, since if count else now)
            return len(calls)

    def end(self, tenant: str, call_id: str, now: datetime) -> None:
        with self._lock:
            calls = self._calls.get(tenant, {})
            if call_id not in calls:
                return
            trunk = calls.pop(call_id)
            if not calls:
                self._calls.pop(tenant, None)
            if trunk is not None:
                count, since = self._trunks.get((tenant, trunk), (1, now))
                if count <= 1:
                    self._trunks.pop((tenant, trunk), None)
                else:
                    self._trunks[(tenant, trunk)] = (count - 1, since)

    def busy_seconds(self, tenant: str, trunk: str, now: datetime) -> float:
        entry = self._trunks.get((tenant, trunk))
        if entry is None:
            return 0.0
        return max(0.0, (now - entry[1]).total_seconds())
