"""Sensitive data in messages (V8 S14): payment cards, bank accounts, US social
security numbers, credentials and keys.

* A card number is 13-19 digits, optionally grouped by spaces or dashes, that
  passes the Luhn check and starts with a known issuer prefix.
* An IBAN has a known country, that country's length (pack dataset
  ``iban_lengths``) and a valid mod-97 check.
* An SSN is ``AAA-GG-SSSS`` (or nine bare digits next to "SSN") outside the
  ranges never issued (area 000, 666, 900-999; group 00; serial 0000).
* Credentials: cloud and API key formats, tokens, private-key blocks, JWTs,
  ``password: ...``.

Evidence never holds the value: only its kind, length and last four
characters. Detectors read the raw text (case matters for keys) and run only
when their gate matched.
"""

from __future__ import annotations

from typing import Any

from pydantic import RootModel

from aupguard.engine.context import Context
from aupguard.engine.decision import Evidence
from aupguard.engine.re2util import Utf8Text, compile_pattern, find_all
from aupguard.engine.registry import ValueType, dataset, detector, explainer

__all__ = [
    "AUPGUARD_KEY",
    "card_numbers",
    "iban_ok",
    "ibans",
    "luhn_ok",
    "secrets",
    "ssn_ok",
    "ssns",
]

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


# --- IBAN ---------------------------------------------------------------------------------------


class IbanLengths(RootModel[dict[str, int]]):
    """Country code -> IBAN length (the IBAN registry)."""


def _prepare_iban(model: IbanLengths) -> dict[str, int]:
    return {k.upper(): v for k, v in model.root.items()}


dataset(
    "iban_lengths",
    IbanLengths,
    prepare=_prepare_iban,
    description="IBAN length per country (ISO 13616 registry)",
)

_IBAN = compile_pattern(
    r"(?:^|[^A-Za-z0-9])([A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]){11,30})(?:$|[^A-Za-z0-9])"
)


def iban_ok(candidate: str, lengths: dict[str, int]) -> bool:
    """ISO 13616: a known country, its length, and the mod-97 check."""
    code = candidate.replace(" ", "").upper()
    if lengths.get(code[:2]) != len(code):
        return False
    moved = code[4:] + code[:4]
    digits = "".join(str(int(ch, 36)) for ch in moved)
    return int(digits) % 97 == 1


def ibans(raw: str, lengths: dict[str, int]) -> list[tuple[int, int, str]]:
    """(start, end, compact IBAN) of every valid IBAN in `raw`."""
    found = []
    for match in find_all(_IBAN, Utf8Text(raw)):
        start, end = match.span(1)
        text = raw[start:end].rstrip()
        compact = text.replace(" ", "").upper()
        # a longer run may hold the IBAN followed by other words: try each length
        for size in range(len(compact), 14, -1):
            if iban_ok(compact[:size], lengths):
                found.append((start, end, compact[:size]))
                break
    return found


@detector(
    "dlp.iban", output=ValueType.BOOL, cost=2, gate=r"[a-z]{2}[0-9]{2} ?[a-z0-9]{4} ?[a-z0-9]{4}"
)
def iban(ctx: Context) -> bool:
    """A valid IBAN (known country, right length, mod-97 check) is in the text."""
    lengths: dict[str, int] | None = ctx.pack.data.get("iban_lengths")
    return bool(lengths) and bool(ibans(ctx.raw, lengths or {}))


@explainer("dlp.iban")
def explain_iban(ctx: Context) -> list[Evidence]:
    lengths: dict[str, int] = ctx.pack.data.get("iban_lengths") or {}
    return [
        Evidence("dlp.iban", "bank account (IBAN)", "body", s, e, f"{c[:2]} IBAN ending {c[-4:]}")
        for s, e, c in ibans(ctx.raw, lengths)[:5]
    ]


# --- US social security numbers ------------------------------------------------------------------

_SSN = compile_pattern(r"(?:^|[^0-9])([0-9]{3})([- ])([0-9]{2})([- ])([0-9]{4})(?:$|[^0-9-])")
_SSN_BARE = compile_pattern(r"(?:^|[^0-9])([0-9]{3})([0-9]{2})([0-9]{4})(?:$|[^0-9])")
_SSN_CONTEXT = ("ssn", "social security", "social sec")
_SSN_INVALID = frozenset({"078051120", "219099999", "123456789"})
"""Numbers published as examples (the Woolworth wallet card, an SSA advertisement)."""


def ssn_ok(area: str, group: str, serial: str) -> bool:
    """Outside the ranges the SSA never issues: area 000, 666, 900-999; group 00; serial 0000."""
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return False
    return area + group + serial not in _SSN_INVALID


def ssns(raw: str) -> list[tuple[int, int, str]]:
    """(start, end, digits) of every plausible SSN in `raw`: ``123-45-6789`` always, nine
    bare digits only when the text speaks of a social security number."""
    found = []
    for match in find_all(_SSN, Utf8Text(raw)):
        area, sep1, group, sep2, serial = (match.group(i) or "" for i in range(1, 6))
        if sep1 == sep2 and ssn_ok(area, group, serial):
            found.append((match.span(1)[0], match.span(5)[1], area + group + serial))
    lowered = raw.lower()
    if any(word in lowered for word in _SSN_CONTEXT):
        for match in find_all(_SSN_BARE, Utf8Text(raw)):
            area, group, serial = (match.group(i) or "" for i in range(1, 4))
            if ssn_ok(area, group, serial):
                found.append((match.span(1)[0], match.span(3)[1], area + group + serial))
    return found


@detector(
    "dlp.ssn",
    output=ValueType.BOOL,
    cost=2,
    gate=r"[0-9]{3}[- ][0-9]{2}[- ][0-9]{4}|ssn|social sec",
)
def ssn(ctx: Context) -> bool:
    """A US social security number (valid ranges only) is in the text."""
    return bool(ssns(ctx.raw))


@explainer("dlp.ssn")
def explain_ssn(ctx: Context) -> list[Evidence]:
    return [
        Evidence("dlp.ssn", "US social security number", "body", s, e, f"SSN ending {d[-4:]}")
        for s, e, d in ssns(ctx.raw)[:5]
    ]


# --- credentials and keys ------------------------------------------------------------------------

AUPGUARD_KEY = "aupguard API key"
"""This platform's own API keys (``aupg_<key id>_<secret>``, see aupguard.api.keys): the
enforcement worker checks whether one found in clear is live and opens an incident."""

_SECRETS: tuple[tuple[str, Any], ...] = tuple(
    (name, compile_pattern(pattern))
    for name, pattern in (
        ("AWS access key", r"(?:^|[^A-Za-z0-9])((?:AKIA|ASIA)[0-9A-Z]{16})(?:$|[^A-Za-z0-9])"),
        (
            "GitHub token",
            r"(?:^|[^A-Za-z0-9_])(gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})",
        ),
        ("Slack token", r"(?:^|[^A-Za-z0-9])(xox[abprs]-[A-Za-z0-9-]{10,})"),
        ("Stripe secret key", r"(?:^|[^A-Za-z0-9])([sr]k_live_[0-9A-Za-z]{20,})"),
        ("Google API key", r"(?:^|[^A-Za-z0-9])(AIza[0-9A-Za-z_-]{35})"),
        (AUPGUARD_KEY, r"(?:^|[^A-Za-z0-9_])(aupg_[0-9a-f]{16}_[A-Za-z0-9_-]{20,128})"),
        (
            "private key",
            r"(-----BEGIN (?:RSA |EC |DSA |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY(?: BLOCK)?-----)",
        ),
        (
            "JSON web token",
            r"(?:^|[^A-Za-z0-9_-])(eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})",
        ),
        ("password", r"(?i)(?:^|[^a-z])(?:password|passwd|pwd)\s*(?:is|:|=)\s*(\S{4,})"),
    )
)


def secrets(raw: str) -> list[tuple[int, int, str, str]]:
    """(start, end, kind, value) of every credential or key in `raw`."""
    found = []
    view = Utf8Text(raw)
    for name, pattern in _SECRETS:
        for match in find_all(pattern, view):
            start, end = match.span(1)
            value = raw[start:end]
            if name == "password" and (len(value) < 6 or not any(c.isalpha() for c in value)):
                continue  # "your reset code / password is 5582": a one-time code, not a password
            found.append((start, end, name, value))
    return found


@detector(
    "dlp.credentials",
    output=ValueType.LABELS,
    cost=2,
    gate=r"akia|asia[0-9a-z]{16}|gh[pousr]_|github_pat_|xox[abprs]-|k_live_|aiza|aupg_|private key|eyj|password|passwd|pwd",
)
def credentials(ctx: Context) -> frozenset[str]:
    """Credentials and keys in clear: cloud and API keys, tokens, private keys, passwords."""
    return frozenset(kind for _, _, kind, _ in secrets(ctx.raw))


@explainer("dlp.credentials")
def explain_credentials(ctx: Context) -> list[Evidence]:
    out = []
    for start, end, kind, value in secrets(ctx.raw)[:5]:
        tail = value[-4:] if kind != "private key" and len(value) >= 12 else ""
        shown = f"{kind} ending {tail}" if tail else kind
        out.append(
            Evidence("dlp.credentials", kind, "body", start, end, f"{shown} ({len(value)} chars)")
        )
    return out
