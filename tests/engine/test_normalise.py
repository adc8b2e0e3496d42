"""Normalisation: the fast path, the offset-tracking path, and evasions."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aupguard.engine.normalise import (
    invisible_count,
    normalise,
    normalise_with_offsets,
    skeleton,
)


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("Hello  World", "hello world"),
        ("\x00\x01hi\n\nthere  ", "hi there"),
        ("Crème Brûlée", "creme brulee"),
        ("Ｆｒｅｅ ｍｏｎｅｙ", "free money"),
        ("ca\u200bsh\u2060", "cash"),
        ("İstanbul STRASSE ß", "istanbul strasse ss"),
        ("ﬁnance", "finance"),
        ("\u202egpj.exe", "gpj.exe"),
        ("", ""),
        ("\u200b\u200b", ""),
        ("😀😀", "😀😀"),
    ],
)
def test_text_view(raw: str, text: str) -> None:
    assert normalise(raw) == text


def test_evasions_reduce_to_plain_text() -> None:
    # homoglyphs (Cyrillic and Greek lookalikes) reach plain ASCII in the skeleton
    assert skeleton(normalise("Вuу сосаіnе nоw")) == "buy cocaine now"
    assert skeleton(normalise("Glοck")) == "glock"
    # invisible characters vanish from the text view and are counted
    raw = "co\u200bca\u200dine"
    assert normalise(raw) == "cocaine"
    assert invisible_count(raw) == 2
    # plain ASCII text has no skeleton work to do
    text = normalise("see you at 7")
    assert skeleton(text) is text


def test_offsets_point_into_the_raw_text() -> None:
    raw = "Buy  ＣＯＣＡＩＮＥ\u200b now"
    view = normalise_with_offsets(raw)
    assert view.text == "buy cocaine now"
    start = view.text.index("cocaine")
    a, b = view.source_span(start, start + len("cocaine"))
    assert raw[a:b] == "ＣＯＣＡＩＮＥ"


@settings(max_examples=400, deadline=None)
@given(st.text())
@example("ΟΔΟΣ ﬃ İ\u0307 \ud800")
@example("x\u0301\u0301 \u3164 \U000e0100")
def test_fast_and_offset_paths_agree(raw: str) -> None:
    text = normalise(raw)
    view = normalise_with_offsets(raw)
    assert view.text == text
    assert len(view.starts) == len(view.ends) == len(text)
    for i in range(len(text)):
        assert 0 <= view.starts[i] <= view.ends[i] <= len(raw)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_normalisation_is_idempotent_and_encodable(raw: str) -> None:
    text = normalise(raw)
    assert normalise(text) == text
    text.encode("utf-8")  # no lone surrogates survive: RE2 needs UTF-8
    assert "  " not in text
    assert text == text.strip()
    skel = skeleton(text)
    assert len(skel) == len(text)
