"""Payloads that can impair a receiving device (W9 W10): control and direction
characters, binary or SIM over-the-air command PDUs, oversized concatenation."""

from __future__ import annotations

from aupguard.engine.context import Context
from aupguard.engine.decision import Evidence
from aupguard.engine.normalise import invisible_count
from aupguard.engine.re2util import compile_pattern
from aupguard.engine.registry import ValueType, detector

_ALLOWED_CONTROLS = frozenset("\n\r\t")
_BIDI_OVERRIDES = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_HEX_RUN = compile_pattern(r"[0-9a-fA-F]{24,}")
_OTA_PREFIXES = ("027000", "027100", "0270", "0b0504", "060504", "050003", "0003")
"""SIM OTA command packets (3GPP TS 31.115 CPI 0x02 0x70/0x71) and user-data headers
(port addressing 05 04, concatenation 00 03) sent as text to look like binary SMS."""


_MOJIBAKE = frozenset(chr(b) for b in range(0x80, 0xA0) if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D))
"""C1 code points that Windows-1252 uses for punctuation (quotes, dashes, the euro sign):
in a message they are text decoded with the wrong code page, not control characters."""


def _controls(raw: str) -> list[int]:
    return [
        i
        for i, ch in enumerate(raw)
        if (
            (ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0)
            and ch not in _ALLOWED_CONTROLS
            and ch not in _MOJIBAKE
        )
        or ch in _BIDI_OVERRIDES
    ]


@detector("payload.control_chars", output=ValueType.NUMBER, cost=1)
def control_chars(ctx: Context) -> float:
    """Control characters (C0/C1, except tab and newlines) and bidi overrides in the raw text."""
    raw = ctx.raw
    if raw.isprintable():
        return 0.0
    if raw.isascii() and raw.replace("\n", "").replace("\r", "").replace("\t", "").isprintable():
        return 0.0
    found = _controls(raw)
    if found:
        names = sorted({f"U+{ord(raw[i]):04X}" for i in found})
        ctx.add_evidence(
            "payload.control_chars",
            Evidence("payload.control_chars", ",".join(names[:8]), "body", found[0], found[0] + 1),
        )
    return float(len(found))


@detector("payload.invisible_chars", output=ValueType.NUMBER, cost=1)
def invisible_chars(ctx: Context) -> float:
    """Invisible characters (zero-width, fillers) in the raw text: a spacing-trick signal."""
    return float(invisible_count(ctx.raw))


@detector(
    "payload.binary_pdu",
    output=ValueType.BOOL,
    cost=2,
    gate=r"[0-9a-f]{24,}",
)
def binary_pdu(ctx: Context) -> bool:
    """A long hex run that looks like an OTA command or a user-data header sent as text."""
    for match in _HEX_RUN.finditer(ctx.raw):
        run = match.group(0).lower()
        if len(run) % 2 == 0 and (run.startswith(_OTA_PREFIXES) or len(run) >= 64):
            start, end = match.span()
            ctx.add_evidence(
                "payload.binary_pdu",
                Evidence(
                    "payload.binary_pdu",
                    f"{len(run) // 2} bytes of hex",
                    "body",
                    start,
                    end,
                    run[:16] + "...",
                ),
            )
            return True
    return False


@detector("payload.length", output=ValueType.NUMBER, cost=0)
def length(ctx: Context) -> float:
    """Length of the raw text in characters."""
    return float(len(ctx.raw))


@detector("payload.media_count", output=ValueType.NUMBER, cost=0)
def media_count(ctx: Context) -> float:
    """Number of attachments."""
    return float(len(getattr(ctx.event, "media", ())))
