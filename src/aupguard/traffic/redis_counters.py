"""Counters in Redis: every limit of one event in one Lua script call.

The script is loaded once (SCRIPT LOAD) and called with EVALSHA; Redis runs a
script atomically, so a check-and-consume of five limits is one round trip and
no other client sees half of it. It reads the time with Redis `TIME`: workers'
clocks never decide who is admitted, so skew between them cannot double-admit.
Keys carry the tenant as a hash tag (``{tenant}``): every key of one event
lives on the same slot of a cluster, and tenants never share a key.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import hiredis
import redis

from aupguard.traffic.counters import (
    CheckResult,
    CounterUnavailable,
    Limit,
    LimitKind,
    LimitOutcome,
    _result,
    _window,
    member_digest,
)

__all__ = ["CHECK_SCRIPT", "RedisCounters"]

_KIND = {LimitKind.RATE: "r", LimitKind.QUOTA: "q", LimitKind.DISTINCT: "d", LimitKind.GAUGE: "g"}
_ARGS = 8
_US = 1_000_000

CHECK_SCRIPT = """
-- ARGV[1]: the time in microseconds, or '' for the server's TIME (tests pass one)
-- then 8 arguments per key: kind, limit, cost, a, b, c, d, member
--   r (rate, GCRA): a = emission interval (us per unit), b = tolerance (us)
--   q (quota):      a..d = window boundaries (us); the key gets the window start
--   d (distinct):   a = moving window (us); member = digest
--   g (gauge):      a = lease lifetime (us); member = lease digest
local now
if ARGV[1] ~= '' then
  now = tonumber(ARGV[1])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local out = {0, now}
local n = #KEYS
local kinds, limits, costs, as, keys = {}, {}, {}, {}, {}
local plan = {}
local all = 1
-- first pass: parse each key's arguments once; collect the keys whose value
-- decides (rates, and quotas in the window that holds the time) for one MGET
local fetch, slot, qend = {}, {}, {}
for i = 1, n do
  local base = 1 + (i - 1) * 8
  local kind = ARGV[base + 1]
  kinds[i] = kind
  limits[i] = tonumber(ARGV[base + 2])
  costs[i] = tonumber(ARGV[base + 3])
  as[i] = tonumber(ARGV[base + 4])
  keys[i] = KEYS[i]
  if kind == 'r' then
    fetch[#fetch + 1] = KEYS[i]
    slot[i] = #fetch
  elseif kind == 'q' then
    for j = 1, 3 do
      local from, to = tonumber(ARGV[base + 3 + j]), tonumber(ARGV[base + 4 + j])
      if now >= from and now < to then
        keys[i] = KEYS[i] .. ':' .. string.format('%.0f', from)
        qend[i] = to
      end
    end
    if not qend[i] then
      return redis.error_reply('QUOTAWINDOW no quota window holds the server time')
    end
    fetch[#fetch + 1] = keys[i]
    slot[i] = #fetch
  end
end
local values = {}
if #fetch > 0 then values = redis.call('MGET', unpack(fetch)) end
for i = 1, n do
  local kind, limit, cost, a = kinds[i], limits[i], costs[i], as[i]
  local ok, wait, remaining = 1, -1, 0
  if kind == 'r' then
    local tat = tonumber(values[slot[i]] or now)
    if tat < now then tat = now end
    local b = tonumber(ARGV[(i - 1) * 8 + 6])
    local new_tat = tat + cost * a
    local room = b
    if cost * a > room then room = cost * a end
    remaining = math.floor((b - (tat - now)) / a)
    if remaining < 0 then remaining = 0 end
    if new_tat - now > room then ok = 0; wait = new_tat - now - room end
    plan[i] = new_tat
  elseif kind == 'q' then
    local used = tonumber(values[slot[i]] or '0')
    remaining = limit - used
    if used + cost > limit then ok = 0; wait = qend[i] - now end
  else
    local key, member = keys[i], ARGV[i * 8 + 1]
    local horizon = now - a
    if kind == 'g' then horizon = now end
    redis.call('ZREMRANGEBYSCORE', key, '-inf', horizon)
    local count = redis.call('ZCARD', key)
    remaining = limit - count
    if not redis.call('ZSCORE', key, member) and count + 1 > limit then
      ok = 0
      local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
      local first = tonumber(oldest[2] or now)
      if kind == 'g' then wait = first - now else wait = first + a - now end
      if wait < 0 then wait = 0 end
    end
  end
  if ok == 0 then all = 0 end
  out[#out + 1] = ok
  out[#out + 1] = math.ceil(wait)
  out[#out + 1] = math.floor(remaining)
end
if all == 1 then
  for i = 1, n do
    local kind, key = kinds[i], keys[i]
    if kind == 'r' then
      local ttl = math.ceil((plan[i] - now) / 1000) + 1000
      redis.call('SET', key, string.format('%.0f', plan[i]), 'PX', ttl)
    elseif kind == 'q' then
      if redis.call('INCRBY', key, costs[i]) == costs[i] then
        redis.call('PEXPIRE', key, math.ceil((qend[i] - now) / 1000) + 3600000)
      end
    else
      local score = now
      if kind == 'g' then score = now + as[i] end
      redis.call('ZADD', key, string.format('%.0f', score), ARGV[i * 8 + 1])
      redis.call('PEXPIRE', key, math.ceil(as[i] / 1000) + 1000)
    end
  end
end
out[1] = all
return out
"""


@lru_cache(maxsize=65536)
def _key(prefix: str, tenant: str, kind: LimitKind, key: str) -> str:
    safe = tenant.replace("{", "(").replace("}", ")")
    return f"{prefix}{{{safe}}}:{_KIND[kind]}:{key}"


@lru_cache(maxsize=65536)
def _key_bytes(prefix: str, tenant: str, kind: LimitKind, key: str) -> bytes:
    return _key(prefix, tenant, kind, key).encode()


@lru_cache(maxsize=65536)
def _limit_args(lim: Limit) -> tuple[bytes, ...]:
    """The 8 script arguments of a limit, encoded (limits repeat: computed once)."""
    a = b = c = d = 0.0
    member = ""
    if lim.kind is LimitKind.RATE:
        a = lim.period * _US / lim.limit if lim.limit else 1e18
        b = lim.burst * a
    elif lim.kind is LimitKind.QUOTA:
        a, b, c, d = (w * _US for w in lim.windows)
    else:
        a = lim.period * _US
        member = member_digest(lim.member)
    values = (_KIND[lim.kind], repr(lim.limit), str(lim.cost), *map(repr, (a, b, c, d)), member)
    return tuple(v.encode() for v in values)


_RELEASE = "redis.call('ZREM', KEYS[1], ARGV[1]) return 1"


class RedisCounters:
    """`CounterStore` on Redis. `clock` is for tests only: production uses Redis `TIME`."""

    def __init__(
        self,
        client: redis.Redis,
        prefix: str = "aupguard:",
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self._clock = clock
        self._sha: str | None = None

    # keys

    def key(self, tenant: str, limit: Limit) -> str:
        return _key(self.prefix, tenant, limit.kind, limit.key)

    def _command(self, sha: bytes, tenant: str, limits: Sequence[Limit]) -> bytes:
        """One EVALSHA of the check script, packed for the wire (keys and arguments are
        cached per limit, so a message costs one join in C)."""
        now = b"" if self._clock is None else repr(math.floor(self._clock() * _US)).encode()
        keys = [_key_bytes(self.prefix, tenant, lim.kind, lim.key) for lim in limits]
        args = [now]
        for lim in limits:
            args += _limit_args(lim)
        parts = (b"EVALSHA", sha, len(keys), *keys, *args)
        # hiredis's stub types the argument as a 1-tuple; it takes any length
        return hiredis.pack_command(parts)  # type: ignore[arg-type,no-any-return]

    # script

    def load(self) -> str:
        """Load the script (once); returns its SHA1."""
        if self._sha is None:
            try:
                self._sha = str(self.client.script_load(CHECK_SCRIPT))
            except redis.RedisError as exc:
                raise CounterUnavailable(f"redis: {type(exc).__name__}: {exc}") from exc
        return self._sha

    def check(self, tenant: str, limits: Sequence[Limit]) -> CheckResult:
        if not limits:
            return CheckResult(True, (), self._now_local())
        return self.check_many([(tenant, limits)])[0]

    def check_many(self, batch: Sequence[tuple[str, Sequence[Limit]]]) -> list[CheckResult]:
        """Every event's check in one write and one read on one connection (pipelined).

        The commands are packed here rather than through redis-py's pipeline,
        which spends more time per command than the script does. A connection
        error is not retried: a check may have been consumed before the
        connection broke, so the caller's failure mode decides."""
        todo = [i for i, (_, limits) in enumerate(batch) if limits]
        replies: dict[int, Any] = {}
        for attempt in range(2):  # a second time only for NOSCRIPT (the server restarted)
            sha = self.load().encode()
            packed = [self._command(sha, *batch[i]) for i in todo]
            for i, reply in zip(todo, self._round_trip(packed), strict=True):
                replies[i] = reply
            todo = [i for i in todo if isinstance(replies[i], redis.exceptions.NoScriptError)]
            if not todo:
                break
            if attempt == 0:
                self._sha = None
        for reply in replies.values():
            if isinstance(reply, redis.RedisError):
                raise CounterUnavailable(f"redis: {type(reply).__name__}: {reply}")
        return [
            _parse(limits, replies[i]) if limits else CheckResult(True, (), self._now_local())
            for i, (_, limits) in enumerate(batch)
        ]

    def _round_trip(self, packed: list[bytes]) -> list[Any]:
        """Send packed commands on one pooled connection; their replies (errors as values)."""
        pool = self.client.connection_pool
        try:
            conn = pool.get_connection()
        except redis.RedisError as exc:
            raise CounterUnavailable(f"redis: {type(exc).__name__}: {exc}") from exc
        try:
            conn.send_packed_command([b"".join(packed)])  # type: ignore[no-untyped-call]
            replies: list[Any] = []
            for _ in packed:
                try:
                    replies.append(conn.read_response())
                except redis.ResponseError as exc:  # this command's error; the next follow
                    replies.append(exc)
            return replies
        except redis.RedisError as exc:
            conn.disconnect()  # type: ignore[no-untyped-call]
            raise CounterUnavailable(f"redis: {type(exc).__name__}: {exc}") from exc
        except BaseException:
            conn.disconnect()  # type: ignore[no-untyped-call]
            raise
        finally:
            pool.release(conn)

    def release(self, tenant: str, limit: Limit) -> None:
        if limit.kind is not LimitKind.GAUGE:
            return
        try:
            self.client.eval(_RELEASE, 1, self.key(tenant, limit), member_digest(limit.member))
        except redis.RedisError as exc:
            raise CounterUnavailable(f"redis: {type(exc).__name__}: {exc}") from exc

    def usage(self, tenant: str, limit: Limit) -> float:
        key = self.key(tenant, limit)
        try:
            now = self._server_now()
            if limit.kind is LimitKind.RATE:
                raw = self.client.get(key)
                interval = limit.period * _US / limit.limit
                return max(0.0, (float(raw) - now * _US) / interval) if raw else 0.0
            if limit.kind is LimitKind.QUOTA:
                start, _ = _window(limit, now)
                raw = self.client.get(f"{key}:{start * _US:.0f}")
                return float(raw) if raw else 0.0
            if limit.kind is LimitKind.GAUGE:
                return float(self.client.zcount(key, f"({now * _US:.0f}", "+inf"))
            low = (now - limit.period) * _US
            return float(self.client.zcount(key, f"({low:.0f}", "+inf"))
        except redis.RedisError as exc:
            raise CounterUnavailable(f"redis: {type(exc).__name__}: {exc}") from exc

    def _server_now(self) -> float:
        if self._clock is not None:
            return self._clock()
        seconds, micros = self.client.time()
        return float(seconds) + float(micros) / _US

    def _now_local(self) -> float:
        return self._clock() if self._clock is not None else time.time()


def _parse(limits: Sequence[Limit], reply: Any) -> CheckResult:
    admitted = reply[0] == 1
    now = reply[1] / _US
    outcomes = tuple(
        LimitOutcome(
            lim.name,
            ok == 1,
            None if ok == 1 else max(0.0, wait / _US),
            float(remaining),
        )
        for lim, ok, wait, remaining in zip(
            limits, reply[2::3], reply[3::3], reply[4::3], strict=True
        )
    )
    return _result(admitted, outcomes, now)
