"""Reading events from files: JSON, JSON Lines, CSV, TSV corpora and plain text.

Every record becomes an event or an `InputError` naming its line and what is
wrong; readers never stop at a bad record, so a replay of a large file
completes and reports what it skipped.

Formats (chosen by extension, or `fmt`):

* ``.jsonl`` / ``.ndjson`` - one JSON object per line (an event; ``kind``
  defaults to ``message``).
* ``.json`` - one object or an array of objects.
* ``.csv`` - a header row naming event fields (``from``, ``to``, ``body``,
  ``channel``...); other columns go to ``metadata``.
* ``.tsv`` - ``label<TAB>text`` lines, as in the SMS Spam Collection; the
  label is kept in ``metadata["label"]``.
* ``.txt`` - one message body per line.

Missing ``from``/``to`` on messages are filled from `defaults`, so corpora
without numbers can be screened.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from pydantic import TypeAdapter, ValidationError

from aupguard.engine.events import AnyEvent, Event, EventKind

__all__ = [
    "FORMATS",
    "InputError",
    "Record",
    "describe",
    "detect_format",
    "read_events",
    "validate_event",
]

FORMATS = ("jsonl", "json", "csv", "tsv", "txt")
_ADAPTER: TypeAdapter[AnyEvent] = TypeAdapter(Event)
_MESSAGE_FIELDS = frozenset(
    {
        "id",
        "account",
        "at",
        "metadata",
        "kind",
        "channel",
        "from",
        "sender",
        "to",
        "body",
        "media",
        "sender_type",
        "category",
        "campaign",
        "brand",
        "api_key",
        "source_ip",
        "segments",
    }
)


@dataclass(frozen=True, slots=True)
class InputError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True, slots=True)
class Record:
    line: int
    event: AnyEvent


def detect_format(path: Path | None, fmt: str | None) -> str:
    if fmt:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
        return fmt
    if path is None:
        return "jsonl"
    suffix = path.suffix.lower().lstrip(".")
    return {"ndjson": "jsonl"}.get(suffix, suffix) if suffix in (*FORMATS, "ndjson") else "jsonl"


_KINDS = frozenset(k.value for k in EventKind)


def describe(exc: ValidationError) -> str:
    """A validation error as one line naming the fields, without pydantic's union tags."""
    parts = []
    for err in exc.errors()[:3]:
        loc = list(err["loc"])
        if loc and loc[0] in _KINDS:
            loc = loc[1:]  # the discriminator of the event union, not a field
        where = ".".join(str(p) for p in loc)
        parts.append(f"field {where!r}: {err['msg']}" if where else err["msg"])
    more = len(exc.errors()) - 3
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def validate_event(data: Any, defaults: Mapping[str, Any] | None = None) -> AnyEvent:
    """Validate one event object (raises ValidationError or ValueError)."""
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    payload = dict(data)
    kind = payload.setdefault("kind", EventKind.MESSAGE.value)
    if defaults and kind in (EventKind.MESSAGE.value, EventKind.INBOUND.value):
        for key, value in defaults.items():
            if key == "from" and "sender" in payload:
                continue
            payload.setdefault(key, value)
    if "sender" in payload and "from" not in payload:
        payload["from"] = payload.pop("sender")
    return _ADAPTER.validate_python(payload)


def _record(line: int, data: Any, defaults: Mapping[str, Any] | None) -> Record | InputError:
    try:
        return Record(line, validate_event(data, defaults))
    except ValidationError as exc:
        return InputError(line, describe(exc))
    except ValueError as exc:
        return InputError(line, str(exc))


def _jsonl(stream: TextIO, defaults: Mapping[str, Any] | None) -> Iterator[Record | InputError]:
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            yield InputError(number, f"invalid JSON: {exc.msg} at column {exc.colno}")
            continue
        yield _record(number, data, defaults)


def _json(stream: TextIO, defaults: Mapping[str, Any] | None) -> Iterator[Record | InputError]:
    text = stream.read()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        yield InputError(exc.lineno, f"invalid JSON: {exc.msg} at column {exc.colno}")
        return
    items = data if isinstance(data, list) else [data]
    for index, item in enumerate(items, 1):
        # a JSON document has no record lines; report the item's position instead
        yield _record(index, item, defaults)


def _csv(stream: TextIO, defaults: Mapping[str, Any] | None) -> Iterator[Record | InputError]:
    reader = csv.DictReader(stream)
    if not reader.fieldnames:
        yield InputError(1, "empty CSV: no header row")
        return
    if "body" not in reader.fieldnames and "kind" not in reader.fieldnames:
        yield InputError(
            1, f"CSV header has no 'body' column (columns: {', '.join(reader.fieldnames)})"
        )
        return
    for row in reader:
        number = reader.line_num
        if None in row:
            yield InputError(number, "more fields than the header has columns")
            continue
        data: dict[str, Any] = {}
        metadata: dict[str, str] = {}
        for key, value in row.items():
            if value is None or value == "":
                continue
            if key in _MESSAGE_FIELDS:
                data[key] = value
            else:
                metadata[key] = value
        if metadata:
            data["metadata"] = metadata
        yield _record(number, data, defaults)


def _tsv(stream: TextIO, defaults: Mapping[str, Any] | None) -> Iterator[Record | InputError]:
    for number, line in enumerate(stream, 1):
        stripped = line.rstrip("\r\n")
        if not stripped:
            continue
        label, tab, text = stripped.partition("\t")
        if not tab:
            yield InputError(number, "expected label<TAB>text")
            continue
        yield _record(number, {"body": text, "metadata": {"label": label}}, defaults)


def _txt(stream: TextIO, defaults: Mapping[str, Any] | None) -> Iterator[Record | InputError]:
    for number, line in enumerate(stream, 1):
        body = line.rstrip("\r\n")
        if body:
            yield _record(number, {"body": body}, defaults)


_READERS = {"jsonl": _jsonl, "json": _json, "csv": _csv, "tsv": _tsv, "txt": _txt}


def read_events(
    source: Path | TextIO, fmt: str | None = None, defaults: Mapping[str, Any] | None = None
) -> Iterator[Record | InputError]:
    """Events (or errors) from a file or stream, in order, with their line numbers.

    Bytes that are not UTF-8 are replaced (U+FFFD) rather than failing the file;
    a record whose text had such bytes is still screened.
    """
    path = source if isinstance(source, Path) else None
    kind = detect_format(path, fmt)
    if isinstance(source, Path):
        with source.open("r", encoding="utf-8", errors="replace", newline="") as stream:
            yield from _READERS[kind](stream, defaults)
    else:
        if isinstance(source, io.TextIOWrapper):
            source.reconfigure(errors="replace")
        yield from _READERS[kind](source, defaults)
