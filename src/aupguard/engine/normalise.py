"""Text normalisation: the views of a message that content rules match against.

``text`` is the raw text in Unicode compatibility form (NFKC), case folded,
with Latin diacritics stripped, invisible characters (zero-width, bidi
controls, fillers, variation selectors) removed, and control characters and
every kind of white space folded to one space.

``skeleton`` is ``text`` with homoglyphs replaced by the ASCII letter or digit
they imitate (Unicode confusables: Cyrillic ``о``, Greek ``ο``, Cherokee ``Ꭺ``).
It differs from ``text`` only when the text holds non-ASCII characters.

Other evasions are handled where they cost nothing per clean message:
leetspeak (``fr33``) and letters split by spaces or punctuation
(``c o c a i n e``, ``v.i.a.g.r.a``) by the lexicon patterns
(`aupguard.engine.lexicon`), and URL obfuscation (``hxxp``, ``[.]``, ``dot``)
by the URL detector (`aupguard.detectors.urls`), which only runs when the text
looks like it holds a link.

`normalise` is the fast path run for every message. `normalise_with_offsets`
does the same work character by character and records, for every output
character, the span of the raw text it came from; it only runs when a rule fires
and evidence has to point into the original text. A property test keeps the two
in agreement.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from aupguard.engine.re2util import Match, Utf8Text, find_all

__all__ = [
    "OffsetText",
    "invisible_count",
    "is_invisible",
    "normalise",
    "normalise_with_offsets",
    "skeleton",
]

_DROP_MARK_RANGES = (
    (0x0300, 0x036F),  # combining diacritical marks
    (0x1AB0, 0x1AFF),  # combining diacritical marks extended
    (0x1DC0, 0x1DFF),  # combining diacritical marks supplement
    (0x20D0, 0x20FF),  # combining marks for symbols
    (0xFE20, 0xFE2F),  # combining half marks
    (0xFE00, 0xFE0F),  # variation selectors
    (0xE0100, 0xE01EF),  # variation selectors supplement
)
_INVISIBLE_EXTRA = frozenset({0x115F, 0x1160, 0x3164, 0xFFA0, 0x180E, 0x2800})
"""Blank characters that render as nothing but are letters or symbols by category:
Hangul fillers, the Mongolian vowel separator, the Braille blank."""


def _is_drop_mark(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _DROP_MARK_RANGES)


def is_invisible(ch: str) -> bool:
    """True for characters that render as nothing (format controls, fillers)."""
    return unicodedata.category(ch) == "Cf" or ord(ch) in _INVISIBLE_EXTRA


def _map_char(ch: str) -> str:
    """What one raw character becomes in the ``text`` view (before space folding)."""
    if is_invisible(ch) or _is_drop_mark(ch):
        return ""
    if unicodedata.category(ch) in ("Cc", "Zs", "Zl", "Zp", "Cs") or ch.isspace():
        # controls, separators and lone surrogates (not encodable) become a space
        return " "
    decomposed = unicodedata.normalize("NFKD", ch)
    if any(_is_drop_mark(c) for c in decomposed):
        stripped = "".join(c for c in decomposed if not _is_drop_mark(c))
        mapped = unicodedata.normalize("NFKC", stripped)
    else:
        mapped = unicodedata.normalize("NFKC", ch)
    return "".join(" " if c.isspace() else c for c in mapped.casefold() if not _is_drop_mark(c))


_NOT_ONE_TO_ONE: set[str] = set()
"""Characters seen so far that do not map to exactly one character."""
_INVISIBLE_SEEN: set[str] = set()
"""Invisible characters seen so far (a subset of the above: they map to nothing)."""


class _LazyTable(dict[int, str]):
    """A `str.translate` table that computes a character's mapping on first use."""

    def __missing__(self, key: int) -> str:
        ch = chr(key)
        value = _map_char(ch)
        if len(value) != 1:
            _NOT_ONE_TO_ONE.add(ch)
        if is_invisible(ch):
            _INVISIBLE_SEEN.add(ch)
        self[key] = value
        return value


_BASE_TABLE = _LazyTable()
_ASCII_CONTROL = dict.fromkeys((*range(32), 127), " ")


def _load_skeleton() -> dict[int, str]:
    """Map non-ASCII lookalikes of ASCII letters and digits to them (Unicode confusables)."""
    raw = resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8")
    data: dict[str, list[dict[str, str]]] = json.loads(raw)
    table: dict[int, str] = {}

    def add(lookalike: str, target: str) -> None:
        if len(lookalike) != 1 or len(target) != 1 or lookalike.isascii():
            return
        if not (target.isascii() and target.isalnum()):
            return
        # the skeleton is applied to the text view, so key it by what that view holds
        for key in {lookalike, _map_char(lookalike)}:
            if len(key) == 1 and not key.isascii():
                table.setdefault(ord(key), target.lower())

    for char, entries in data.items():
        for entry in entries:
            add(char, entry["c"])
            add(entry["c"], char)
    return table


_SKELETON_MAP = {chr(k): v for k, v in _load_skeleton().items()}


_ASCII = frozenset(chr(i) for i in range(128))


def normalise(raw: str) -> str:
    """The ``text`` view of `raw` (see the module documentation)."""
    text = raw.lower()
    if not raw.isascii():
        # Map each distinct non-ASCII character once (str.replace runs in C); mostly
        # ASCII texts with a few symbols or accents pay far less than translating
        # every character. The mapping is idempotent, so order does not matter.
        for ch in set(text) - _ASCII:
            text = text.replace(ch, _BASE_TABLE[ord(ch)])
    if not text.isprintable():
        text = text.translate(_ASCII_CONTROL)
    return " ".join(text.split())


def invisible_count(raw: str) -> int:
    """How many invisible characters `raw` holds. `raw` must have been normalised."""
    if raw.isascii():
        return 0
    return sum(raw.count(ch) for ch in _INVISIBLE_SEEN.intersection(raw))


def skeleton(text: str) -> str:
    """The ``skeleton`` view of a ``text`` view (the same object when nothing changes)."""
    if text.isascii():
        return text
    mapped = text
    for ch in set(text) - _ASCII:
        target = _SKELETON_MAP.get(ch)
        if target is not None:
            mapped = mapped.replace(ch, target)
    return mapped


@dataclass(frozen=True, slots=True)
class OffsetText:
    """Text plus, for each character, the raw span [start, end) it came from."""

    text: str
    starts: Sequence[int]
    ends: Sequence[int]

    def source_span(self, start: int, end: int) -> tuple[int, int]:
        """The raw span that output characters [start, end) came from."""
        if end <= start or start >= len(self.text):
            anchor = self.ends[-1] if self.ends else 0
            return anchor, anchor
        return self.starts[start], self.ends[min(end, len(self.text)) - 1]

    def sub(self, pattern: Any, repl: Callable[[Match], str]) -> OffsetText:
        """`pattern.sub(repl, self.text)`, carrying offsets along.

        A replacement as long as what it replaces keeps per-character offsets;
        any other replacement points, as a whole, at the whole span it replaced.
        """
        out: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        pos = 0
        for match in find_all(pattern, Utf8Text(self.text)):
            a, b = match.span()
            out.append(self.text[pos:a])
            starts.extend(self.starts[pos:a])
            ends.extend(self.ends[pos:a])
            replacement = repl(match)
            if len(replacement) == b - a:
                starts.extend(self.starts[a:b])
                ends.extend(self.ends[a:b])
            else:
                lo, hi = self.source_span(a, b)
                starts.extend([lo] * len(replacement))
                ends.extend([hi] * len(replacement))
            out.append(replacement)
            pos = b
        out.append(self.text[pos:])
        starts.extend(self.starts[pos:])
        ends.extend(self.ends[pos:])
        return OffsetText("".join(out), tuple(starts), tuple(ends))


def _word_offsets(lowered: str) -> OffsetText:
    """Offsets for a text whose characters each mapped to exactly one character.

    `lowered[i]` is what raw character i became, so only white space folding
    moves anything: one pass over words, not characters.
    """
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    previous_end = 0
    for word in lowered.split():
        begin = lowered.index(word, pos)
        if starts:
            starts.append(previous_end)
            ends.append(begin)
        starts.extend(range(begin, begin + len(word)))
        ends.extend(range(begin + 1, begin + len(word) + 1))
        pos = previous_end = begin + len(word)
    return OffsetText(" ".join(lowered.split()), tuple(starts), tuple(ends))


def normalise_with_offsets(raw: str) -> OffsetText:
    """`normalise(raw)` with the raw span of every output character.

    The skeleton view maps one character to one character, so these offsets
    serve it too (`skeleton(result.text)`).
    """
    lowered = raw.lower()
    if len(lowered) != len(raw):
        return _char_offsets(raw)
    if not raw.isascii():
        distinct = set(lowered) - _ASCII
        _ = [_BASE_TABLE[ord(ch)] for ch in distinct]  # make sure each is classified
        if not _NOT_ONE_TO_ONE.isdisjoint(distinct):
            return _char_offsets(raw)
        for ch in distinct:
            lowered = lowered.replace(ch, _BASE_TABLE[ord(ch)])
    mapped = lowered if lowered.isprintable() else lowered.translate(_ASCII_CONTROL)
    folded = " ".join(mapped.split())
    if folded == mapped:  # nothing moved: output character i is raw character i
        return OffsetText(folded, range(len(raw)), range(1, len(raw) + 1))
    return _word_offsets(mapped)


def _char_offsets(raw: str) -> OffsetText:
    """The general case: some characters vanish or expand, so walk them one by one."""
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pending_space = False
    for i, ch in enumerate(raw):
        if ch.isascii():
            mapped = ch.lower() if ch.isprintable() else " "
        else:
            mapped = "".join(c if c.isascii() else _BASE_TABLE[ord(c)] for c in ch.lower())
        for out in mapped:
            if out == " ":
                pending_space = bool(chars)
                continue
            if pending_space:
                chars.append(" ")
                starts.append(ends[-1])
                ends.append(i)
                pending_space = False
            chars.append(out)
            starts.append(i)
            ends.append(i + 1)
    return OffsetText("".join(chars), tuple(starts), tuple(ends))
