"""A sliding-window limit per key (a client address) in this process's memory."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["RateLimit"]

MAX_KEYS = 100_000


class RateLimit:
    """At most `count` events per key within `seconds`. Keys are forgotten when their
    window is empty; past MAX_KEYS the oldest keys are dropped (memory stays bounded)."""

    def __init__(
        self, count: int, seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.count = count
        self.seconds = seconds
        self.clock = clock
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Count an event for `key`; False (not counted) when the key is over its limit."""
        now = self.clock()
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and events[0] <= now - self.seconds:
                events.popleft()
            if len(events) >= self.count:
                return False
            events.append(now)
            if len(self._events) > MAX_KEYS:
                for stale in list(self._events)[: MAX_KEYS // 10]:
                    del self._events[stale]
            return True
