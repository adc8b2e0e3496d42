"""Observation windows for traffic signals: what an event adds, and what it sees.

Where counters *limit*, signals *observe*: each event records itself in a few
windows and reads back what they hold, in one store call (one Lua script in
Redis), so that every worker sees the whole account's traffic:

``count``
    Events in a sliding window (two fixed buckets, the older one weighted by
    the part of it still inside the window).
``distinct``
    Distinct members in the window (exact in memory; HyperLogLog in Redis,
    standard error 0.81%).
``near``
    How many *other* numbers seen in the window lie within ``span`` of this
    one (destination enumeration: +4479460001, +4479460002, ...).
``first``
    1 when the member was never seen under this key (within 90 days), else 0.

Observations of a platform-wide scope (the same content across accounts) use
the tenant name ``*platform``; they hold digests, never content or numbers.
"""

from __future__ import annotations

import math
import threading
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import redis

from aupguard.traffic.counters import CounterUnavailable, member_digest

__all__ = [
    "PLATFORM",
    "MemorySignals",
    "Observation",
    "ObserveKind",
    "RedisSignals",
    "SignalStore",
]

PLATFORM = "*platform"
_FIRST_TTL = 90 * 86400


class ObserveKind(StrEnum):
    COUNT = "count"
    DISTINCT = "distinct"
    NEAR = "near"
    FIRST = "first"


@dataclass(frozen=True, slots=True)
class Observation:
    name: str
    """The signal name the value is returned under."""
    kind: ObserveKind
    key: str
    window: float = 3600.0
    member: str = ""
    """distinct/first: who; near: the number (digits)."""
    span: int = 0
    """near: how far apart two numbers may be to count as neighbours."""
    add: bool = True
    """False: read without recording this event."""
    tenant: str | None = None
    """A scope other than the event's tenant (e.g. PLATFORM)."""


class SignalStore(Protocol):
    def observe(self, tenant: str, observations: Sequence[Observation]) -> dict[str, float]:
        """Record the event in each window and return what each holds (by name)."""
        ...


def _bucket(now: float, window: float) -> tuple[int, float]:
    index = math.floor(now / window)
    return index, (now - index * window) / window


class MemorySignals:
    """Signals in this process's memory (tests, the CLI, a single worker)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str, int], int] = {}
        self._sets: dict[tuple[str, str, int], set[str]] = {}
        self._near: dict[tuple[str, str, int], list[int]] = {}
        """NEAR buckets as sorted lists of distinct numbers: a neighbour count is two
        bisections, not a scan of every number the window saw (the send path asks it
        for every message)."""
        self._first: dict[tuple[str, str], set[str]] = {}
        self._ops = 0

    def observe(self, tenant: str, observations: Sequence[Observation]) -> dict[str, float]:
        with self._lock:
            now = self._clock()
            self._ops += 1
            if self._ops % 20_000 == 0:
                self._sweep(now)
            return {o.name: self._one(o.tenant or tenant, o, now) for o in observations}

    def _one(self, tenant: str, o: Observation, now: float) -> float:
        index, elapsed = _bucket(now, o.window)
        cur, prev = (tenant, o.key, index), (tenant, o.key, index - 1)
        if o.kind is ObserveKind.COUNT:
            if o.add:
                self._counts[cur] = self._counts.get(cur, 0) + 1
            return self._counts.get(cur, 0) + self._counts.get(prev, 0) * (1 - elapsed)
        if o.kind is ObserveKind.DISTINCT:
            member = member_digest(o.member)
            if o.add:
                self._sets.setdefault(cur, set()).add(member)
            return float(len(self._sets.get(cur, set()) | self._sets.get(prev, set())))
        if o.kind is ObserveKind.NEAR:
            value = int(o.member)
            low, high = value - o.span, value + o.span
            close: set[int] = set()
            for bucket in (cur, prev):
                values = self._near.get(bucket)
                if values:
                    close.update(values[bisect_left(values, low) : bisect_right(values, high)])
            close.discard(value)
            if o.add:
                values = self._near.setdefault(cur, [])
                at = bisect_left(values, value)
                if at == len(values) or values[at] != value:
                    values.insert(at, value)
            return float(len(close))
        members = self._first.setdefault((tenant, o.key), set())
        member = member_digest(o.member)
        new = member not in members
        if o.add:
            members.add(member)
        return 1.0 if new else 0.0

    def _sweep(self, now: float) -> None:
        """Keep the two newest buckets of each key (older ones are out of every window)."""
        tables: tuple[dict[tuple[str, str, int], Any], ...] = (
            self._counts,
            self._sets,
            self._near,
        )
        for table in tables:
            newest: dict[tuple[str, str], int] = {}
            for t, k, i in table:
                newest[(t, k)] = max(newest.get((t, k), i), i)
            for key in [key for key in table if key[2] < newest[(key[0], key[1])] - 1]:
                del table[key]


OBSERVE_SCRIPT = """
-- ARGV[1]: time in microseconds or '' for the server's TIME; then 5 per key:
-- kind (c|d|n|f), window (us), member, span, add (1|0)
local now
if ARGV[1] ~= '' then
  now = tonumber(ARGV[1])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local out = {}
for i = 1, #KEYS do
  local base = 1 + (i - 1) * 5
  local kind = ARGV[base + 1]
  local window = tonumber(ARGV[base + 2])
  local member = ARGV[base + 3]
  local add = ARGV[base + 5] == '1'
  local key = KEYS[i]
  if kind == 'f' then
    local new = redis.call('SISMEMBER', key, member) == 0
    if add and new then
      redis.call('SADD', key, member)
      redis.call('EXPIRE', key, tonumber(ARGV[base + 4]))
    end
    if new then out[i] = '1' else out[i] = '0' end
  else
    local index = math.floor(now / window)
    local elapsed = (now - index * window) / window
    local cur = key .. ':' .. index
    local prev = key .. ':' .. (index - 1)
    local ttl = math.ceil(window * 2 / 1000) + 1000
    if kind == 'c' then
      local c = 0
      if add then c = redis.call('INCR', cur); redis.call('PEXPIRE', cur, ttl)
      else c = tonumber(redis.call('GET', cur) or '0') end
      local p = tonumber(redis.call('GET', prev) or '0')
      out[i] = tostring(c + p * (1 - elapsed))
    elseif kind == 'd' then
      if add then redis.call('PFADD', cur, member); redis.call('PEXPIRE', cur, ttl) end
      out[i] = tostring(redis.call('PFCOUNT', cur, prev))
    else
      local value = tonumber(member)
      local span = tonumber(ARGV[base + 4])
      local close = redis.call('ZCOUNT', cur, value - span, value + span)
        + redis.call('ZCOUNT', prev, value - span, value + span)
      local again = 0
      if redis.call('ZSCORE', cur, member) then again = again + 1 end
      if redis.call('ZSCORE', prev, member) then again = again + 1 end
      if add then redis.call('ZADD', cur, value, member); redis.call('PEXPIRE', cur, ttl) end
      out[i] = tostring(close - again)
    end
  end
end
return out
"""

_KIND = {
    ObserveKind.COUNT: "c",
    ObserveKind.DISTINCT: "d",
    ObserveKind.NEAR: "n",
    ObserveKind.FIRST: "f",
}


class RedisSignals:
    """`SignalStore` on Redis: one script call per event, on the server's clock."""

    def __init__(
        self,
        client: redis.Redis,
        prefix: str = "aupguard:",
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self._clock = clock
        self._script = client.register_script(OBSERVE_SCRIPT)

    def observe(self, tenant: str, observations: Sequence[Observation]) -> dict[str, float]:
        if not observations:
            return {}
        keys: list[str] = []
        argv: list[Any] = ["" if self._clock is None else repr(math.floor(self._clock() * 1e6))]
        for o in observations:
            scope = (o.tenant or tenant).replace("{", "(").replace("}", ")")
            keys.append(f"{self.prefix}{{{scope}}}:sig:{_KIND[o.kind]}:{o.key}")
            member = o.member if o.kind is ObserveKind.NEAR else member_digest(o.member)
            if o.kind is ObserveKind.NEAR and not o.member.isdigit():
                raise ValueError(f"{o.name}: a near observation needs digits")
            span = _FIRST_TTL if o.kind is ObserveKind.FIRST else o.span
            argv += [_KIND[o.kind], repr(o.window * 1e6), member, span, "1" if o.add else "0"]
        try:
            reply = self._script(keys=keys, args=argv)
        except redis.RedisError as exc:
            raise CounterUnavailable(f"redis: {type(exc).__name__}: {exc}") from exc
        return {o.name: float(v) for o, v in zip(observations, reply, strict=True)}
