"""CSV import and export of consent records and do-not-call lists.

Reading never stops at a bad line: each one is reported with its line number
and reason (not a number, wrong country, duplicate, bad field, not UTF-8) and
the good ones are kept. A missing required column is a problem of the whole
file: nothing is read. Writing to a store is the caller's, in batches.

The file is decoded as UTF-8 (a byte-order mark is allowed); bytes that are
not UTF-8 make their line bad, not the file, so one mis-encoded name does not
lose a list.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, TypeVar

from pydantic import ValidationError

from aupguard.consent.model import ALL, ConsentEvent
from aupguard.identity.numbering import e164, region_of

__all__ = [
    "CONSENT_COLUMNS",
    "BadLine",
    "FileProblem",
    "Parsed",
    "parse_consent_csv",
    "parse_dnc_csv",
    "write_consent_csv",
]

CONSENT_COLUMNS = (
    "recipient",
    "kind",
    "at",
    "scope",
    "channel",
    "method",
    "source",
    "wording",
    "expires",
    "age_verified",
)
_REQUIRED = ("recipient", "kind")
_NUMBER_COLUMNS = ("number", "phone", "phone_number", "telephone", "recipient", "msisdn", "tn")


class FileProblem(ValueError):
    """The file as a whole cannot be read (no header, a missing column)."""


@dataclass(frozen=True, slots=True)
class BadLine:
    line: int
    reason: str


T = TypeVar("T")


@dataclass
class Parsed(Generic[T]):
    good: list[T] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)


def _text(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8", errors="surrogateescape")


def _mis_encoded(values: list[str]) -> bool:
    return any("\udc80" <= ch <= "\udcff" for value in values for ch in value)


def _number(value: str, region: str | None, country: str | None) -> tuple[str | None, str]:
    text = value.strip()
    if not text:
        return None, "no number"
    number = e164(text, region)
    if number is None:
        return None, f"{text!r} is not a telephone number"
    if country is not None and region_of(number) != country:
        return None, f"{number} is not a number of {country} (it is {region_of(number)})"
    return number, ""


def _time(value: str, name: str) -> datetime:
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name}: {text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{name}: {text!r} has no time zone")
    return moment


def parse_consent_csv(
    data: bytes,
    tenant: str,
    *,
    now: datetime,
    region: str | None = "US",
    country: str | None = None,
) -> Parsed[ConsentEvent]:
    """Consent events from CSV (header with at least `recipient` and `kind`)."""
    reader = csv.DictReader(io.StringIO(_text(data), newline=""))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if not header:
        raise FileProblem("the file is empty or has no header line")
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise FileProblem(f"missing column(s): {', '.join(missing)} (header: {', '.join(header)})")
    unknown = [c for c in header if c not in CONSENT_COLUMNS]
    if unknown:
        raise FileProblem(
            f"unknown column(s): {', '.join(unknown)} (known: {', '.join(CONSENT_COLUMNS)})"
        )
    reader.fieldnames = header
    parsed: Parsed[ConsentEvent] = Parsed()
    seen: dict[tuple[str, ...], int] = {}
    for row in reader:
        line = reader.line_num
        values = [v for v in row.values() if isinstance(v, str)]
        if None in row or any(v is None for v in row.values()):
            parsed.bad.append(BadLine(line, "wrong number of fields"))
            continue
        if _mis_encoded(values):
            parsed.bad.append(BadLine(line, "not UTF-8 text"))
            continue
        number, why = _number(row["recipient"], region, country)
        if number is None:
            parsed.bad.append(BadLine(line, why))
            continue
        try:
            fields: dict[str, object] = {
                "tenant": tenant,
                "recipient": number,
                "kind": row["kind"].strip().lower().replace("-", "_"),
                "at": _time(row["at"], "at") if row.get("at", "").strip() else now,
                "scope": row.get("scope", "").strip() or ALL,
                "channel": row.get("channel", "").strip().lower() or ALL,
                "method": row.get("method", "").strip().lower() or "import",
                "source": row.get("source", "").strip(),
                "wording": row.get("wording", ""),
                "expires": _time(row["expires"], "expires")
                if row.get("expires", "").strip()
                else None,
                "age_verified": _flag(row.get("age_verified", ""), "age_verified"),
            }
            consent = ConsentEvent.model_validate(fields)
        except ValueError as exc:
            parsed.bad.append(BadLine(line, _reason(exc)))
            continue
        key = (
            consent.recipient,
            consent.scope,
            consent.channel,
            consent.kind.value,
            consent.at.isoformat(),
        )
        if key in seen:
            parsed.bad.append(BadLine(line, f"duplicate of line {seen[key]}"))
            continue
        seen[key] = line
        parsed.good.append(consent)
    return parsed


_TRUE = frozenset({"true", "yes", "1", "y"})
_FALSE = frozenset({"false", "no", "0", "n", ""})


def _flag(value: str, name: str) -> bool:
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{name}: {value!r} is not true or false")


def _reason(exc: ValueError) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "row"
        return f"{where}: {first['msg']}"
    return str(exc)


def parse_dnc_csv(
    data: bytes, *, region: str | None = "US", country: str | None = None
) -> Parsed[str]:
    """E.164 numbers from a CSV with a header naming the number column (number,
    phone, ...), or a plain list with one number per line."""
    rows = csv.reader(io.StringIO(_text(data), newline=""))
    parsed: Parsed[str] = Parsed()
    try:
        first = next(rows)
    except StopIteration:
        raise FileProblem("the file is empty") from None
    names = [c.strip().lower() for c in first]
    column = next((names.index(c) for c in _NUMBER_COLUMNS if c in names), None)
    start: Iterator[list[str]] = rows
    if column is None:
        if len(first) == 1 and e164(first[0], region) is not None:
            column = 0
            start = _chain(first, rows)
        else:
            raise FileProblem(
                "missing column: name the number column one of "
                + ", ".join(_NUMBER_COLUMNS)
                + f" (header: {', '.join(names)})"
            )
    seen: dict[str, int] = {}
    for values in start:
        line = rows.line_num
        if not values or all(not v.strip() for v in values):
            continue
        if _mis_encoded(values):
            parsed.bad.append(BadLine(line, "not UTF-8 text"))
            continue
        if column >= len(values):
            parsed.bad.append(BadLine(line, "no number column on this line"))
            continue
        number, why = _number(values[column], region, country)
        if number is None:
            parsed.bad.append(BadLine(line, why))
            continue
        if number in seen:
            parsed.bad.append(BadLine(line, f"duplicate of line {seen[number]}"))
            continue
        seen[number] = line
        parsed.good.append(number)
    return parsed


def _chain(first: list[str], rest: Iterator[list[str]]) -> Iterator[list[str]]:
    yield first
    yield from rest


def write_consent_csv(events: Iterator[ConsentEvent], out: io.TextIOBase | object) -> int:
    """Write events as CSV (the columns `parse_consent_csv` reads); returns the count."""
    writer = csv.writer(out)  # type: ignore[arg-type]
    writer.writerow(CONSENT_COLUMNS)
    count = 0
    for e in events:
        writer.writerow(
            [
                e.recipient,
                e.kind.value,
                e.at.astimezone(UTC).isoformat(),
                e.scope,
                e.channel,
                e.method.value,
                e.source,
                e.wording,
                e.expires.astimezone(UTC).isoformat() if e.expires else "",
                "true" if e.age_verified else "false",
            ]
        )
        count += 1
    return count
