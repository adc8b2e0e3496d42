"""Segment counting against a reference encoder written from the 3GPP TS 23.038 tables.

The reference actually encodes: GSM-7 text into septets (an escape 0x1B before
each extension character), UCS-2 text into UTF-16 code units, then cuts the
encoded stream into parts the way a concatenating SMSC does (never between an
escape and its character, never between the halves of a surrogate pair). The
implementation under test counts weights instead; the two must always agree.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from aupguard.traffic.segments import GSM7_BASIC, SMART_REPLACEMENTS, count_segments

# TS 23.038 6.2.1: the default alphabet, row by row (columns 0x00..0x70, rows 0x0..0xF).
_COLUMNS = [
    "@Δ 0¡P¿p",
    "£_!1AQaq",
    '$Φ"2BRbr',
    "¥Γ#3CScs",
    "èΛ¤4DTdt",
    "éΩ%5EUeu",
    "ùΠ&6FVfv",
    "ìΨ'7GWgw",
    "òΣ(8HXhx",
    "ÇΘ)9IYiy",
    "\nΞ*:JZjz",
    "Ø\x1b+;KÄkä",
    "øÆ,<LÖlö",
    "\ræ-=MÑmñ",
    "Åß.>NÜnü",
    "åÉ/?O§oà",
]
REFERENCE_BASIC = {row[col]: col * 16 + r for r, row in enumerate(_COLUMNS) for col in range(8)}
del REFERENCE_BASIC["\x1b"]
REFERENCE_EXTENSION = {
    "\x0c": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}


def _encode_gsm7(text: str) -> list[list[int]] | None:
    """Septet groups, one group per character (None when a character is not GSM-7)."""
    out: list[list[int]] = []
    for ch in text:
        if ch in REFERENCE_BASIC:
            out.append([REFERENCE_BASIC[ch]])
        elif ch in REFERENCE_EXTENSION:
            out.append([0x1B, REFERENCE_EXTENSION[ch]])
        else:
            return None
    return out


def _encode_ucs2(text: str) -> list[list[int]]:
    groups = []
    for ch in text:
        data = ch.encode("utf-16-be", "surrogatepass")
        groups.append([int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)])
    return groups


def _cut(groups: list[list[int]], single: int, part: int) -> int:
    units = sum(len(g) for g in groups)
    if units <= single:
        return 1
    parts: list[list[int]] = [[]]
    for group in groups:
        if len(parts[-1]) + len(group) > part:
            parts.append([])
        parts[-1].extend(group)
    assert all(len(p) <= part for p in parts)
    return len(parts)


def reference(text: str) -> tuple[str, int, int]:
    gsm = _encode_gsm7(text)
    if gsm is not None:
        return "gsm7", sum(len(g) for g in gsm), _cut(gsm, 160, 153)
    ucs = _encode_ucs2(text)
    return "ucs2", sum(len(g) for g in ucs), _cut(ucs, 70, 67)


def test_the_tables_agree() -> None:
    assert {ch: i for i, ch in enumerate(GSM7_BASIC) if i != 0x1B} == REFERENCE_BASIC


GSM_CHARS = st.sampled_from(sorted(REFERENCE_BASIC) + sorted(REFERENCE_EXTENSION))
ANY_CHARS = st.one_of(
    GSM_CHARS,
    st.sampled_from(["😀", "👍🏽", "€", "`", "’", "\u00a0", "é", "ç", "中", "𝔸", "\U0001f680"]),
    st.characters(codec="utf-8"),
)


@settings(max_examples=400)
@given(st.lists(GSM_CHARS, max_size=700).map("".join))
def test_gsm7_texts_match_the_reference(text: str) -> None:
    got = count_segments(text)
    assert (got.encoding, got.units, got.segments) == reference(text)


@settings(max_examples=400)
@given(st.lists(ANY_CHARS, max_size=400).map("".join))
def test_any_text_matches_the_reference(text: str) -> None:
    got = count_segments(text)
    assert (got.encoding, got.units, got.segments) == reference(text)
    assert got.characters == len(text)


@settings(max_examples=200)
@given(st.lists(ANY_CHARS, max_size=300).map("".join))
def test_smart_encoding_never_costs_more(text: str) -> None:
    plain, smart = count_segments(text), count_segments(text, smart=True)
    assert (smart.encoding, smart.units, smart.segments) == reference(smart.text)
    if plain.encoding == "gsm7":
        assert smart.text == text or "`" in text
    assert all(ch not in smart.text for ch in SMART_REPLACEMENTS if ch != "")


def test_issue_examples() -> None:
    text = ("The quick brown fox jumps over the lazy dog. " * 9)[:400]
    assert len(text) == 400
    assert count_segments(text).segments == 3
    with_emoji = text[:399] + "😀"
    assert count_segments(with_emoji).encoding == "ucs2"
    assert count_segments(with_emoji).segments == 6


def test_boundaries() -> None:
    assert count_segments("a" * 160).segments == 1
    assert count_segments("a" * 161).segments == 2
    assert count_segments("a" * 306).segments == 2
    assert count_segments("a" * 307).segments == 3
    assert count_segments("é" * 160).encoding == "gsm7"  # é is in the default alphabet
    assert count_segments("中" * 70).segments == 1
    assert count_segments("中" * 71).segments == 2
    assert count_segments("").segments == 1


def test_extension_characters_count_two_and_are_never_split() -> None:
    assert count_segments("{" * 80).units == 160
    assert count_segments("{" * 80).segments == 1
    # 152 plain septets and an escape pair: the pair cannot straddle the 153 boundary
    text = "a" * 152 + "[" + "a" * 10
    assert count_segments(text).units == 164
    assert count_segments(text).segments == 2
    assert reference(text)[2] == 2
    # a surrogate pair at unit 66 of a part moves whole to the next part
    text2 = "中" * 66 + "😀" + "中" * 10
    assert count_segments(text2).segments == 2
    assert count_segments("中" * 66 + "😀" + "中" * 66).units == 134  # 2 x 67, yet 3 parts
    assert count_segments("中" * 66 + "😀" + "中" * 66).segments == 3


def test_backtick_forces_ucs2_and_smart_encoding_reports_what_it_replaced() -> None:
    assert count_segments("it`s").encoding == "ucs2"
    text = "Don\u2019t miss our sale\u00a0today \u2014 20% off\u2026"
    plain = count_segments(text)
    smart = count_segments(text, smart=True)
    assert (plain.encoding, smart.encoding) == ("ucs2", "gsm7")
    assert smart.text == "Don't miss our sale today - 20% off..."
    assert {(c, r) for c, r, _ in smart.replaced} == {
        ("\u2019", "'"),
        ("\u00a0", " "),
        ("\u2014", "-"),
        ("\u2026", "..."),
    }
    assert "\u2019" in plain.non_gsm
