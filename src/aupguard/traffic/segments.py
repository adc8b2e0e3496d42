"""SMS segments, counted the way carriers bill them (3GPP TS 23.038).

A message whose every character is in the GSM-7 default alphabet (or its
extension table) is sent in 7-bit septets: 160 septets in a single segment,
153 per part once it is concatenated (the user-data header takes the rest).
Extension characters (form feed, ``^ { } \\ [ ~ ] |`` and ``€``) take two
septets: an escape and the character. Any other character switches the whole
message to UCS-2: 70 UTF-16 code units in a single segment, 67 per part; a
character outside the Basic Multilingual Plane (most emoji) takes two units.
A character is never split across parts, so a part may hold fewer than
153 septets or 67 units.

*Smart encoding* replaces common lookalikes (curly quotes, non-breaking and
other unusual spaces, dashes, the ellipsis) with GSM-7 equivalents first, and
reports what it replaced: one curly apostrophe otherwise turns a 150-character
message into three UCS-2 segments.

The limits (160/153, 70/67) are those of the standard, not carrier policy, so
they live here rather than in a pack.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "SMART_REPLACEMENTS",
    "SegmentCount",
    "count_segments",
    "smart_encode",
]

# The GSM 7-bit default alphabet (TS 23.038 table 6.2.1), in code-point order
# 0x00-0x7F. Position 0x1B is the escape to the extension table, not a character.
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The default extension table (TS 23.038 table 6.2.1.1): code -> character.
GSM7_EXTENSION = {
    0x0A: "\x0c",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}

GSM_SINGLE, GSM_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

_SEPTETS: dict[str, int] = {ch: 1 for i, ch in enumerate(GSM7_BASIC) if i != 0x1B}
_SEPTETS.update(dict.fromkeys(GSM7_EXTENSION.values(), 2))
_ASCII_WEIGHT = bytes(_SEPTETS.get(chr(i), 0) for i in range(128))
"""Septets of each ASCII character; 0 for the ones GSM-7 lacks (the backtick, most controls)."""

SMART_REPLACEMENTS: dict[str, str] = {
    "\u2018": "'",  # left single quotation mark
    "\u2019": "'",  # right single quotation mark (the curly apostrophe)
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",  # prime
    "\u00b4": "'",  # acute accent
    "`": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u2033": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u00a0": " ",  # no-break space
    "\u2000": " ",
    "\u2001": " ",
    "\u2002": " ",
    "\u2003": " ",
    "\u2004": " ",
    "\u2005": " ",
    "\u2006": " ",
    "\u2007": " ",
    "\u2008": " ",
    "\u2009": " ",
    "\u200a": " ",
    "\u202f": " ",
    "\u205f": " ",
    "\u3000": " ",
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "\u2015": "-",
    "\u2212": "-",  # minus sign
    "\u2026": "...",  # ellipsis
    "\u2022": "-",  # bullet
    "\u00b7": "-",
    "\u200b": "",  # zero-width space
    "\u200c": "",
    "\u200d": "",
    "\u2060": "",
    "\ufeff": "",
    "\u00a9": "(C)",
    "\u00ae": "(R)",
    "\u2122": "TM",
    "\u02c6": "^",
    "\u02dc": "~",
    "\u2039": "<",
    "\u203a": ">",
    "\u00e1": "a",
    "\u00ed": "i",
    "\u00f3": "o",
    "\u00fa": "u",
    "\u00e7": "Ç",  # GSM-7 has only the capital c-cedilla
    "\u00e2": "a",
    "\u00ea": "e",
    "\u00ee": "i",
    "\u00f4": "o",
    "\u00fb": "u",
}
"""Lookalikes smart encoding maps into GSM-7 (the right-hand sides are all GSM-7)."""

_SMART_TABLE = str.maketrans(SMART_REPLACEMENTS)


@dataclass(frozen=True, slots=True)
class SegmentCount:
    """How a text is sent as SMS: its encoding, its units and the segments billed."""

    encoding: Literal["gsm7", "ucs2"]
    segments: int
    units: int
    """Septets (GSM-7) or UTF-16 code units (UCS-2) of the whole text."""
    characters: int
    text: str
    """The text as sent (after smart encoding, when asked for)."""
    replaced: tuple[tuple[str, str, int], ...] = ()
    """Smart-encoding replacements: (character, replacement, times)."""
    non_gsm: tuple[str, ...] = ()
    """The characters that forced UCS-2 (distinct, in order of appearance, at most 10)."""

    def to_dict(self) -> dict[str, object]:
        return {
            "encoding": self.encoding,
            "segments": self.segments,
            "units": self.units,
            "characters": self.characters,
            "replaced": [
                {"character": c, "replacement": r, "count": n} for c, r, n in self.replaced
            ],
            "non_gsm": list(self.non_gsm),
        }


def smart_encode(text: str) -> tuple[str, tuple[tuple[str, str, int], ...]]:
    """`text` with GSM-7 lookalikes replaced, and what was replaced (character, by, times)."""
    if text.isascii() and "`" not in text:
        return text, ()
    out = text.translate(_SMART_TABLE)
    if out == text:
        return text, ()
    counts: dict[str, int] = {}
    for ch in text:
        if ch in SMART_REPLACEMENTS:
            counts[ch] = counts.get(ch, 0) + 1
    return out, tuple((ch, SMART_REPLACEMENTS[ch], n) for ch, n in counts.items())


def _parts(weights: list[int] | None, total: int, single: int, part: int) -> int:
    """Segments for `total` units; `weights` (per character) only when some weigh 2."""
    if total <= single:
        return 1  # an empty message is still one PDU
    if weights is None:
        return -(-total // part)
    parts, room = 1, part
    for w in weights:
        if w > room:  # never split a character (escape pair, surrogate pair) across parts
            parts += 1
            room = part
        room -= w
    return parts


def count_segments(text: str, *, smart: bool = False) -> SegmentCount:
    """Segments `text` is billed as; with ``smart=True``, after smart encoding."""
    replaced: tuple[tuple[str, str, int], ...] = ()
    if smart:
        text, replaced = smart_encode(text)
    n = len(text)
    if text.isascii():
        weight = _ASCII_WEIGHT
        septets = 0
        doubles = False
        missing: list[str] = []
        for b in text.encode("ascii"):
            w = weight[b]
            if w == 0:
                missing.append(chr(b))
            septets += w
            doubles = doubles or w == 2
        if not missing:
            ws = [weight[b] for b in text.encode("ascii")] if doubles else None
            return SegmentCount(
                "gsm7", _parts(ws, septets, GSM_SINGLE, GSM_PART), septets, n, text, replaced
            )
        return _ucs2(text, replaced, missing)
    septets = 0
    weights: list[int] = []
    get = _SEPTETS.get
    for ch in text:
        w = get(ch, 0)
        if w == 0:
            return _ucs2(text, replaced, [ch])
        weights.append(w)
        septets += w
    ws2 = weights if septets != n else None
    return SegmentCount(
        "gsm7", _parts(ws2, septets, GSM_SINGLE, GSM_PART), septets, n, text, replaced
    )


def _ucs2(text: str, replaced: tuple[tuple[str, str, int], ...], first: list[str]) -> SegmentCount:
    n = len(text)
    astral = [ch for ch in text if ord(ch) > 0xFFFF] if not text.isascii() else []
    units = n + len(astral)
    weights = [2 if ord(ch) > 0xFFFF else 1 for ch in text] if astral else None
    non_gsm = dict.fromkeys(first)
    for ch in text:
        if len(non_gsm) >= 10:
            break
        if ch not in _SEPTETS:
            non_gsm[ch] = None
    return SegmentCount(
        "ucs2",
        _parts(weights, units, UCS2_SINGLE, UCS2_PART),
        units,
        n,
        text,
        replaced,
        tuple(non_gsm)[:10],
    )
