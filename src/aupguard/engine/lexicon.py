"""Keyword and phrase lists compiled into one RE2 set.

Every term of every lexicon in a pack, and the gate pattern of every gated
detector, becomes one pattern of a single `re2.Set`: a message is scanned once,
in linear time, whatever the number of terms. Only when something matched are
the individual patterns run again, to find the spans that go into evidence.

Terms are written plainly (``cocaine``, ``pay the fee``) and compiled into
patterns that also accept the usual disguises: leetspeak digits and symbols
(``c0ca1ne``, ``$ex``), letters split by one space or punctuation mark
(``c o c a i n e``, ``v.i.a.g.r.a``; words of four letters or more), and
words joined by ``-``, ``_`` or ``.`` instead of a space. Homoglyphs and
invisible characters are already gone from the text view (see `normalise`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import re2

from aupguard.engine import hsscan
from aupguard.engine.hsscan import HsScanner
from aupguard.engine.normalise import normalise
from aupguard.engine.re2util import PatternError, Utf8Text, compile_pattern, compile_set, search

__all__ = ["LexiconSet", "LexiconSource", "Span", "term_pattern"]

_LEET = {
    "a": "a4@",
    "b": "b8",
    "e": "e3",
    "g": "g9",
    "i": "i1!|",
    "l": "l1|",
    "o": "o0",
    "s": "s5$",
    "t": "t7+",
}
_SPLIT = r"[ .\-_*~+'/|]?"
"""What may stand between two letters of a disguised word (at most one character)."""
_WORD_GAP = r"[ \-_.]"
_EDGE_LEFT = r"(?:^|[^a-z0-9])"
_EDGE_RIGHT = r"(?:$|[^a-z0-9])"
_SPLIT_MIN_LETTERS = 4


def _char_class(ch: str) -> str:
    alternatives = _LEET.get(ch)
    if alternatives is None:
        return str(re2.escape(ch))
    return "[" + "".join(c if c.isalnum() else "\\" + c for c in alternatives) + "]"


def _word_pattern(word: str, evasion: bool) -> str:
    if not evasion:
        return str(re2.escape(word))
    parts = [_char_class(c) for c in word]
    letters = sum(c.isalpha() for c in word)
    joiner = _SPLIT if letters >= _SPLIT_MIN_LETTERS and word.isalpha() else ""
    return joiner.join(parts)


def term_pattern(term: str, *, evasion: bool = True) -> str:
    """The RE2 pattern (with one capture group around the term) for a lexicon term."""
    text = normalise(term)
    if not text:
        raise PatternError("the term is empty once normalised")
    body = _WORD_GAP.join(_word_pattern(w, evasion) for w in text.split(" "))
    left = _EDGE_LEFT if text[0].isalnum() else ""
    right = _EDGE_RIGHT if text[-1].isalnum() else ""
    return f"{left}({body}){right}"


@dataclass(frozen=True, slots=True)
class LexiconSource:
    """One lexicon as the pack gives it."""

    name: str
    terms: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    sensitive: bool = False
    evasion: bool = True


@dataclass(frozen=True, slots=True)
class Span:
    """Where a lexicon matched in a view: [start, end) and the term or pattern."""

    start: int
    end: int
    label: str
    entry: int = -1


@dataclass(frozen=True, slots=True)
class _Entry:
    lexicon: str
    label: str
    pattern: str


class LexiconSet:
    """All lexicons of a pack (and detector gates) behind one RE2 set."""

    def __init__(self, sources: Iterable[LexiconSource]) -> None:
        entries: list[_Entry] = []
        self.sensitive: frozenset[str]
        sensitive: set[str] = set()
        names: list[str] = []
        for source in sources:
            names.append(source.name)
            if source.sensitive:
                sensitive.add(source.name)
            for term in source.terms:
                entries.append(
                    _Entry(source.name, term, term_pattern(term, evasion=source.evasion))
                )
            entries.extend(_Entry(source.name, p, p) for p in source.patterns)
        self.names: tuple[str, ...] = tuple(names)
        self.sensitive = frozenset(sensitive)
        self._entries = tuple(entries)
        self._owner = tuple(e.lexicon for e in entries)
        self._plain = tuple(normalise(e.label) if e.pattern != e.label else None for e in entries)
        self._set = compile_set(e.pattern for e in entries) if entries else None
        self._compiled: dict[int, Any] = {}
        self._fast: HsScanner | None = None
        self._switched = threading.Event()
        self._switching = hsscan.accelerate(self.patterns, self._use)

    @property
    def patterns(self) -> tuple[str, ...]:
        """The compiled pattern of every entry, in entry order."""
        return tuple(e.pattern for e in self._entries)

    def _use(self, scanner: HsScanner) -> None:
        self._fast = scanner  # one reference swap: a scan under way finishes on RE2
        self._switched.set()

    def wait_for_hyperscan(self, timeout: float) -> bool:
        """Wait until the set scans with Hyperscan; False at once when it never will."""
        return self._switching and self._switched.wait(timeout)

    @property
    def engine(self) -> str:
        """Which engine scans messages now: "hyperscan" once its database is ready."""
        return "hyperscan" if self._fast is not None else "re2"

    def __len__(self) -> int:
        return len(self._entries)

    def match(self, haystack: str) -> list[int]:
        """The entries that match `haystack` (one pass of the set; in no particular order)."""
        if self._set is None or not haystack:
            return _NO_ENTRIES
        fast = self._fast
        if fast is not None:
            return fast.match(haystack) or _NO_ENTRIES
        found: list[int] | None = self._set.Match(haystack)
        return found or _NO_ENTRIES

    def counts(self, entries: list[int]) -> Mapping[str, int]:
        """Lexicon name -> number of distinct entries among `entries`."""
        if not entries:
            return _NONE
        counts: dict[str, int] = {}
        owner = self._owner
        for i in entries:
            name = owner[i]
            counts[name] = counts.get(name, 0) + 1
        return counts

    def scan(self, haystack: str) -> Mapping[str, int]:
        """Which lexicons matched `haystack`, with how many distinct entries each."""
        return self.counts(self.match(haystack))

    def spans(self, name: str, view: Utf8Text, entries: Iterable[int] | None = None) -> list[Span]:
        """The first match in `view` of each entry of lexicon `name` (evidence only).

        `entries` narrows the search to entries the set scan already found.
        """
        out: list[Span] = []
        candidates = range(len(self._entries)) if entries is None else entries
        for i in candidates:
            entry = self._entries[i]
            if entry.lexicon != name:
                continue
            pattern = self._compiled.get(i)
            if pattern is None:
                pattern = compile_pattern(entry.pattern)
                self._compiled[i] = pattern
            found = search(pattern, view)
            if found is not None:
                spans = found.spans
                start, end = spans[1] if len(spans) > 1 and spans[1][0] >= 0 else spans[0]
                out.append(Span(start, end, entry.label, i))
        out.sort(key=lambda s: (s.start, -s.end))
        return out

    def owner(self, entry: int) -> str:
        """The lexicon entry `entry` belongs to."""
        return self._owner[entry]

    def plain(self, entry: int) -> str | None:
        """The normalised text of term entry `entry` (None for a raw pattern)."""
        return self._plain[entry]

    def self_check(self) -> list[str]:
        """Terms the compiled set fails to find in their own text (should be none)."""
        if self._set is None:
            return []
        missing = []
        for i, entry in enumerate(self._entries):
            if entry.pattern == entry.label:
                continue  # a raw pattern has no text of its own to test against
            found = self._set.Match(normalise(entry.label)) or ()
            if i not in found:
                missing.append(f"{entry.lexicon}: {entry.label!r}")
        return missing


_NONE: Mapping[str, int] = {}
_NO_ENTRIES: list[int] = []
