"""google-re2 with the project's options: bounded memory, no logging, errors raised.

Every regular expression that runs over message text goes through here, so no
backtracking `re` ever touches untrusted input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import re2

MAX_MEM = 256 << 20
"""Memory budget for one compiled set or expression (RE2 `max_mem`)."""


class PatternError(ValueError):
    """A pattern RE2 refuses (syntax, or over the memory budget)."""


def options(*, capture: bool = True) -> Any:
    opts = re2.Options()
    opts.max_mem = MAX_MEM
    opts.log_errors = False
    opts.never_capture = not capture
    return opts


def compile_pattern(pattern: str, *, capture: bool = True) -> Any:
    """Compile one RE2 expression; raise PatternError with RE2's reason."""
    try:
        compiled = re2.compile(pattern, options(capture=capture))
    except re2.error as exc:
        raise PatternError(_reason(exc)) from None
    if compiled is None:  # pragma: no cover - defensive: the binding returns None on OOM
        raise PatternError("RE2 could not compile the pattern within max_mem")
    return compiled


def compile_set(patterns: Iterable[str]) -> Any:
    """Compile patterns into one RE2 search Set. Index i of the result is pattern i."""
    rset = re2.Set.SearchSet(options(capture=False))
    for i, pattern in enumerate(patterns):
        try:
            added = rset.Add(pattern)
        except re2.error:
            added = -1
        if added != i:
            raise PatternError(f"RE2 rejected pattern #{i}: {pattern!r}")
    try:
        rset.Compile()  # the binding raises on failure and returns None otherwise
    except re2.error:
        raise PatternError("RE2 set did not compile within max_mem") from None
    return rset


def check_pattern(pattern: str) -> str | None:
    """Return None when RE2 accepts the pattern, else the reason it does not."""
    try:
        compile_pattern(pattern, capture=False)
    except PatternError as exc:
        return str(exc)
    return None


def _reason(exc: Exception) -> str:
    arg = exc.args[0] if exc.args else exc
    text = arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)
    return text or "invalid pattern"


_UNANCHORED = re2._Anchor.UNANCHORED


class Utf8Text:
    """A text encoded once for RE2, with byte offsets mapped back to characters.

    google-re2's Python wrapper re-encodes the text and rebuilds an offset
    table on every call, which costs more than the match itself on short
    messages; `search` and `find_all` call the compiled program directly.
    """

    __slots__ = ("_ascii", "data", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.data = text.encode("utf-8")
        self._ascii = len(self.data) == len(text)

    def char_offset(self, byte_offset: int) -> int:
        if self._ascii:
            return byte_offset
        return len(self.data[:byte_offset].decode("utf-8"))


class Match:
    """A match as character spans of the whole match (group 0) and each group."""

    __slots__ = ("spans", "text")

    def __init__(self, text: str, spans: list[tuple[int, int]]) -> None:
        self.text = text
        self.spans = spans

    def span(self, group: int = 0) -> tuple[int, int]:
        return self.spans[group]

    def group(self, group: int = 0) -> str | None:
        start, end = self.spans[group]
        return None if start < 0 else self.text[start:end]


def _match_at(regexp: Any, view: Utf8Text, pos: int) -> tuple[Match, int] | None:
    data = view.data
    raw = regexp.Match(_UNANCHORED, data, pos, len(data))
    start, end = raw[0]
    if start < 0:
        return None
    offset = view.char_offset
    spans = [(offset(a), offset(b)) if a >= 0 else (-1, -1) for a, b in raw]
    return Match(view.text, spans), (end if end > start else end + 1)


def search(compiled: Any, view: Utf8Text) -> Match | None:
    """The first match of `compiled` in `view`."""
    found = _match_at(compiled._regexp, view, 0)
    return found[0] if found is not None else None


def find_all(compiled: Any, view: Utf8Text) -> list[Match]:
    """Every non-overlapping match of `compiled` in `view`, left to right."""
    out: list[Match] = []
    pos = 0
    regexp = compiled._regexp
    while pos <= len(view.data):
        found = _match_at(regexp, view, pos)
        if found is None:
            break
        out.append(found[0])
        pos = found[1]
    return out


def sub(compiled: Any, text: str, repl: Callable[[Match], str]) -> str:
    """`compiled.sub(repl, text)` without the wrapper's per-call overhead."""
    matches = find_all(compiled, Utf8Text(text))
    if not matches:
        return text
    out: list[str] = []
    pos = 0
    for match in matches:
        start, end = match.spans[0]
        out.append(text[pos:start])
        out.append(repl(match))
        pos = end
    out.append(text[pos:])
    return "".join(out)
