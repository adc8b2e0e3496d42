"""Sensitive data in messages (V8 S14): payment card numbers.

A card number is 13-19 digits, optionally grouped by spaces or dashes, that
passes the Luhn check and starts with a known issuer prefix. Evidence never
holds the number: only its length and last four digits.
"""

from __future__ import annotations

from aupguard.engine.context import Context
from aupguard.engine.decision import Evidence
from aupguard.engine.re2util import compile_pattern
from aupguard.engine.registry import ValueType, detector, explainer

__all__ = ["card_numbers", "luhn_ok"]

_CANDIDATE = compile_pattern(r"(?:^|[^0-9])((?:[0-9][ -]?){12,18}[0-9])(?:$|[^0-9])")
_ISSUER_PREFIXES = ("2", "3", "4", "5", "6")
"""Major industry identifiers of payment cards: 2/5 Mastercard, 3 Amex/JCB/Diners,
4 Visa, 6 Discover/UnionPay/Maestro."""


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_numbers(raw: str) -> list[tuple[int, int, str]]:
    """(start, end, digits) of every card number in `raw`."""
    found = []
    for match in _CANDIDATE.finditer(raw):
        start, end = match.span(1)
        digits = "".join(ch for ch in match.group(1) if ch.isdigit())
        plausible = 13 <= len(digits) <= 19 and digits.startswith(_ISSUER_PREFIXES)
        # a run of one repeated digit is filler, not a card
        if plausible and len(set(digits)) > 1 and luhn_ok(digits):
            found.append((start, end, digits))
    return found


@detector("dlp.card_number", output=ValueType.BOOL, cost=2, gate=r"[0-9][0-9 -]{11,}[0-9]")
def card_number(ctx: Context) -> bool:
    """A payment card number (Luhn-valid, known issuer prefix) is in the text."""
    return bool(card_numbers(ctx.raw))


@explainer("dlp.card_number")
def explain_cards(ctx: Context) -> list[Evidence]:
    return [
        Evidence(
            "dlp.card_number",
            "payment card",
            "body",
            s,
            e,
            f"card ending {d[-4:]} ({len(d)} digits)",
        )
        for s, e, d in card_numbers(ctx.raw)[:5]
    ]
