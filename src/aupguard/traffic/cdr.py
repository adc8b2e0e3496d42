"""Voice traffic analytics from call detail records (P29 O3).

`analyze` reads CDRs (CSV with a header, or JSON Lines) one line at a time and
keeps, per account, a fixed amount of state whatever the file's size: the
calls-per-second of the last two minutes, a 64-entry ring of recent
destinations, a HyperLogLog sketch of distinct destinations (4 KiB, standard
error 1.6%), and a heap of the calls in progress (as many as are concurrent).
Input ordered by start time is exact; out-of-order lines still count in every
total, and in the peaks when they are no more than two minutes late.

Per account it reports calls per second (peak), the answer-seizure ratio,
average call duration, the share of answered calls under 6 seconds, the
unique-destination ratio, sequential dialing (a destination within 10 of one
of the previous 64), neighbour spoofing (caller id sharing the callee's
NPA-NXX), the most concurrent calls and the calls longer than the plan allows.
These numbers become ``state.signals.cdr_*`` and the pack's ``cdr`` rules
judge them like any detector: flags, holds, and the ``segregate`` tag for
traffic to route apart.

Malformed lines are counted and reported by line number; they never stop the
analysis.
"""

from __future__ import annotations

import csv
import hashlib
import heapq
import io
import json
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

__all__ = [
    "AccountCalls",
    "BadLine",
    "CdrInputError",
    "CdrReport",
    "HyperLogLog",
    "analyze",
    "read_cdrs",
]

FIELDS = ("from", "to", "start", "answer", "end", "disposition", "account", "trunk")
REQUIRED = ("from", "to", "start", "end")
SHORT_CALL = 6.0
_RING = 64
_SEQUENTIAL_SPAN = 10
_CPS_HORIZON = 120
_ANSWERED = frozenset({"answered", "answer", "completed", "ok", "connected"})


class CdrInputError(ValueError):
    """The input cannot be read at all (no header, missing columns, unknown format)."""


@dataclass(frozen=True, slots=True)
class BadLine:
    line: int
    reason: str


class HyperLogLog:
    """Distinct-count sketch: 2^12 one-byte registers, standard error about 1.6%."""

    __slots__ = ("registers",)
    P = 12
    M = 1 << P

    def __init__(self) -> None:
        self.registers = bytearray(self.M)

    def add(self, item: str) -> None:
        h = int.from_bytes(hashlib.blake2b(item.encode(), digest_size=8).digest(), "big")
        index = h >> (64 - self.P)
        rest = h & ((1 << (64 - self.P)) - 1)
        rank = (64 - self.P) - rest.bit_length() + 1
        self.registers[index] = max(self.registers[index], rank)

    def count(self) -> float:
        m = self.M
        zeros = self.registers.count(0)
        estimate = 0.7213 / (1 + 1.079 / m) * m * m / sum(2.0**-r for r in self.registers)
        if estimate <= 2.5 * m and zeros:
            import math

            return m * math.log(m / zeros)
        return estimate


@dataclass
class AccountCalls:
    """What one account's calls looked like (bounded state while reading)."""

    account: str
    calls: int = 0
    answered: int = 0
    talk_seconds: float = 0.0
    short_calls: int = 0
    sequential: int = 0
    neighbour: int = 0
    long_calls: int = 0
    peak_cps: int = 0
    max_concurrent: int = 0
    first_start: datetime | None = None
    last_end: datetime | None = None
    trunks: set[str] = field(default_factory=set)
    last: dict[str, Any] = field(default_factory=dict)
    _destinations: HyperLogLog = field(default_factory=HyperLogLog, repr=False)
    _ring: deque[int] = field(default_factory=lambda: deque(maxlen=_RING), repr=False)
    _seconds: dict[int, int] = field(default_factory=dict, repr=False)
    _newest: int = 0
    _active: list[float] = field(default_factory=list, repr=False)

    def add(
        self,
        caller: str,
        to: str,
        start: datetime,
        answer: datetime | None,
        end: datetime,
        answered: bool,
        max_seconds: float | None,
    ) -> None:
        self.calls += 1
        if self.first_start is None or start < self.first_start:
            self.first_start = start
        if self.last_end is None or end > self.last_end:
            self.last_end = end
        if answered:
            self.answered += 1
            talk = (end - (answer or start)).total_seconds()
            self.talk_seconds += talk
            if talk < SHORT_CALL:
                self.short_calls += 1
            if max_seconds is not None and talk > max_seconds:
                self.long_calls += 1
        digits = to.lstrip("+")
        self._destinations.add(digits)
        if digits.isdigit():
            value = int(digits)
            if any(abs(value - v) <= _SEQUENTIAL_SPAN and v != value for v in self._ring):
                self.sequential += 1
            self._ring.append(value)
        if _npa_nxx(caller) is not None and _npa_nxx(caller) == _npa_nxx(to):
            self.neighbour += 1
        self._per_second(int(start.timestamp()))
        self._concurrency(start.timestamp(), end.timestamp())

    def _per_second(self, second: int) -> None:
        if second < self._newest - _CPS_HORIZON:
            return
        count = self._seconds.get(second, 0) + 1
        self._seconds[second] = count
        self.peak_cps = max(self.peak_cps, count)
        if second > self._newest:
            self._newest = second
            if len(self._seconds) > 2 * _CPS_HORIZON:
                horizon = second - _CPS_HORIZON
                self._seconds = {s: c for s, c in self._seconds.items() if s >= horizon}

    def _concurrency(self, start: float, end: float) -> None:
        active = self._active
        while active and active[0] <= start:
            heapq.heappop(active)
        heapq.heappush(active, end)
        self.max_concurrent = max(self.max_concurrent, len(active))

    # figures

    @property
    def asr(self) -> float:
        return self.answered / self.calls if self.calls else 0.0

    @property
    def acd(self) -> float:
        return self.talk_seconds / self.answered if self.answered else 0.0

    @property
    def short_share(self) -> float:
        return self.short_calls / self.answered if self.answered else 0.0

    @property
    def unique_destinations(self) -> float:
        return min(float(self.calls), self._destinations.count())

    @property
    def unique_ratio(self) -> float:
        return self.unique_destinations / self.calls if self.calls else 0.0

    @property
    def sequential_share(self) -> float:
        return self.sequential / self.calls if self.calls else 0.0

    @property
    def neighbour_share(self) -> float:
        return self.neighbour / self.calls if self.calls else 0.0

    def signals(self, concurrent_cap: int | None) -> dict[str, float]:
        over = self.max_concurrent - concurrent_cap if concurrent_cap is not None else 0
        return {
            "cdr_calls": float(self.calls),
            "cdr_cps_peak": float(self.peak_cps),
            "cdr_asr": round(self.asr, 4),
            "cdr_acd": round(self.acd, 2),
            "cdr_short_share": round(self.short_share, 4),
            "cdr_unique_ratio": round(self.unique_ratio, 4),
            "cdr_sequential_share": round(self.sequential_share, 4),
            "cdr_neighbour_share": round(self.neighbour_share, 4),
            "cdr_max_concurrent": float(self.max_concurrent),
            "cdr_over_concurrency": float(max(0, over)),
            "cdr_long_calls": float(self.long_calls),
        }


def _npa_nxx(number: str) -> str | None:
    """NPA-NXX of a North American number (+1 NPA NXX XXXX), else None."""
    if len(number) == 12 and number.startswith("+1") and number[1:].isdigit():
        return number[2:8]
    return None


@dataclass
class CdrReport:
    accounts: dict[str, AccountCalls] = field(default_factory=dict)
    lines: int = 0
    bad: int = 0
    bad_lines: list[BadLine] = field(default_factory=list)
    """The first 100 malformed lines (all are counted in `bad`)."""


Row = dict[str, Any]


def read_cdrs(source: IO[str], fmt: str | None = None) -> Iterator[tuple[int, Row | str]]:
    """(line number, row or error) for each record of a CSV (with header) or JSONL stream."""
    first = source.readline()
    if not first:
        return
    stripped = first.lstrip()
    kind = fmt or ("jsonl" if stripped.startswith("{") else "csv")
    if kind == "jsonl":
        for number, line in enumerate(_chain(first, source), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, f"not JSON: {exc.msg}"
                continue
            yield (number, row) if isinstance(row, dict) else (number, "not a JSON object")
        return
    if kind != "csv":
        raise CdrInputError(f"unknown format {kind!r} (csv or jsonl)")
    header = next(csv.reader([first]))
    names = [h.strip().lower() for h in header]
    missing = [f for f in REQUIRED if f not in names]
    if missing:
        raise CdrInputError(
            f"line 1: the header lacks {', '.join(missing)} (columns: {', '.join(FIELDS)})"
        )
    reader = csv.reader(source)
    width = len(names)
    for number, values in enumerate(reader, start=2):
        if not values:
            continue
        if len(values) != width:
            yield number, f"{len(values)} columns, the header has {width}"
            continue
        yield number, dict(zip(names, values, strict=True))


def _chain(first: str, rest: Iterable[str]) -> Iterator[str]:
    yield first
    yield from rest


def _time(row: Row, name: str, required: bool) -> datetime | None:
    value = row.get(name)
    if value in (None, ""):
        if required:
            raise ValueError(f"{name} is missing")
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} is not a date-time")
    try:
        when = datetime.fromisoformat(
            value.replace("Z", "+00:00") if value.endswith("Z") else value
        )
    except ValueError:
        raise ValueError(f"{name} {value[:40]!r} is not an ISO 8601 date-time") from None
    if when.tzinfo is None:
        raise ValueError(f"{name} {value[:40]!r} has no time zone")
    return when


def analyze(
    records: Iterable[tuple[int, Row | str]],
    max_call_seconds: dict[str, float | None] | None = None,
    default_max: float | None = None,
) -> CdrReport:
    """Aggregate CDRs per account (`max_call_seconds`: per account, else `default_max`)."""
    report = CdrReport()
    caps = max_call_seconds or {}
    for number, row in records:
        report.lines += 1
        if isinstance(row, str):
            _bad(report, number, row)
            continue
        try:
            caller, to = str(row.get("from") or ""), str(row.get("to") or "")
            if not caller or not to:
                raise ValueError("from and to are required")
            start = _time(row, "start", True)
            end = _time(row, "end", True)
            answer = _time(row, "answer", False)
            if start is None or end is None:  # pragma: no cover - _time raises first
                raise ValueError("start and end are required")
            if end < start:
                raise ValueError("end is before start")
            if answer is not None and not start <= answer <= end:
                raise ValueError("answer is outside start..end")
        except ValueError as exc:
            _bad(report, number, str(exc))
            continue
        disposition = str(row.get("disposition") or ("answered" if answer else "")).lower()
        answered = answer is not None or disposition in _ANSWERED
        account = str(row.get("account") or "default")
        stats = report.accounts.get(account)
        if stats is None:
            stats = report.accounts[account] = AccountCalls(account)
        stats.add(caller, to, start, answer, end, answered, caps.get(account, default_max))
        trunk = row.get("trunk")
        if trunk and len(stats.trunks) < 20:
            stats.trunks.add(str(trunk))
        stats.last = {"from": caller, "to": to, "start": start, "end": end}
    return report


def _bad(report: CdrReport, number: int, reason: str) -> None:
    report.bad += 1
    if len(report.bad_lines) < 100:
        report.bad_lines.append(BadLine(number, reason))


def parse_text(text: str, fmt: str | None = None) -> Iterator[tuple[int, Row | str]]:
    """`read_cdrs` over a string (tests, small inputs)."""
    return read_cdrs(io.StringIO(text), fmt)


def judge(engine: Any, report: CdrReport, plans: dict[str, str] | None = None) -> dict[str, Any]:
    """Screen each account's figures with the pack's ``cdr`` rules: account -> Decision.

    Each account becomes one `CallRecord` event (its latest call) with its
    figures as ``state.signals.cdr_*``; plan caps come from the pack's
    ``channel_limits`` dataset and the account's plan (`plans`, else default).
    """
    from aupguard.engine.events import CallRecord
    from aupguard.engine.state import AccountState, State
    from aupguard.traffic.limits import ChannelLimits

    data = engine.pack.data.get("channel_limits")
    out: dict[str, Any] = {}
    for account, stats in report.accounts.items():
        plan_name = (plans or {}).get(account, "default")
        cap = None
        if isinstance(data, ChannelLimits):
            plan = data.plans.get(plan_name) or data.plans["default"]
            cap = plan.concurrent_calls
        last = stats.last
        event = CallRecord.model_validate(
            {
                "account": account,
                "from": last["from"],
                "to": last["to"],
                "start": last["start"],
                "end": last["end"],
                "at": last["end"],
            }
        )
        state = State(account=AccountState(plan=plan_name), signals=stats.signals(cap))
        out[account] = engine.screen(event, state)
    return out


def plan_caps(
    engine: Any, plans: dict[str, str] | None = None
) -> tuple[dict[str, float | None], float | None]:
    """Per-account and default maximum call durations from the pack's plans."""
    from aupguard.traffic.limits import ChannelLimits

    data = engine.pack.data.get("channel_limits")
    if not isinstance(data, ChannelLimits):
        return {}, None
    default = data.plans["default"].max_call_seconds
    per_account = {
        account: (data.plans.get(name) or data.plans["default"]).max_call_seconds
        for account, name in (plans or {}).items()
    }
    return per_account, default


def synthetic_cdrs(
    n: int, seed: int = 7, accounts: int = 400, start: datetime | None = None
) -> Iterator[str]:
    """CSV lines (header first) of `n` generated CDRs in start order: ordinary accounts
    (`acct-0`...), an auto-dialer (`dialer`: sequential destinations, spoofed
    neighbour caller ids, short calls) and a heavy user of long calls (`bulk`)."""
    import random
    from datetime import UTC, timedelta

    rng = random.Random(seed)
    base = start or datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
    yield "from,to,start,answer,end,disposition,account,trunk\n"
    next_dial = 2_025_550_000
    t = 0.0
    for i in range(n):
        t += rng.expovariate(50.0)  # about 50 calls per second overall
        begin = base + timedelta(seconds=t)
        pick = rng.random()
        if pick < 0.15:
            account = "dialer"
            next_dial += rng.randint(1, 3)
            to = f"+1{next_dial}"
            caller = f"+1{to[2:8]}{rng.randint(0, 9999):04d}"  # same NPA-NXX as the callee
            answered = rng.random() < 0.15
            talk = rng.uniform(1, 5) if answered else 0.0
        elif pick < 0.151:
            account = "bulk"
            caller, to = (
                "+12125550100",
                f"+1{rng.randint(201, 989)}{rng.randint(2_000_000, 9_999_999)}",
            )
            answered, talk = True, rng.uniform(3600, 20000)
        else:
            account = f"acct-{rng.randrange(accounts)}"
            caller = f"+1{rng.randint(201, 989)}555{rng.randint(100, 199):04d}"
            to = f"+1{rng.randint(201, 989)}{rng.randint(2_000_000, 9_999_999)}"
            answered = rng.random() < 0.6
            talk = rng.lognormvariate(4.0, 0.8) if answered else 0.0
        ring = rng.uniform(2, 20)
        answer = begin + timedelta(seconds=ring) if answered else None
        end = (answer + timedelta(seconds=talk)) if answer else begin + timedelta(seconds=ring)
        yield (
            f"{caller},{to},{begin.isoformat()},{answer.isoformat() if answer else ''},"
            f"{end.isoformat()},{'answered' if answered else 'no-answer'},{account},trunk-{i % 4}\n"
        )
