"""Lexicon patterns: plain terms, disguised spellings, word boundaries."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aupguard.engine.lexicon import LexiconSet, LexiconSource, term_pattern
from aupguard.engine.normalise import normalise, skeleton
from aupguard.engine.re2util import PatternError

LEX = LexiconSet(
    [
        LexiconSource("drugs", terms=("cocaine", "magic mushrooms")),
        LexiconSource("fees", terms=("pay the fee",)),
        LexiconSource("short", terms=("uzi",)),
        LexiconSource("raw", patterns=(r"£[0-9]{2,}",)),
    ]
)


def scan(raw: str) -> set[str]:
    text = normalise(raw)
    skel = skeleton(text)
    return set(LEX.scan(text if skel is text else f"{text}\n{skel}"))


@pytest.mark.parametrize(
    "raw",
    [
        "cocaine",
        "COCAINE for sale",
        "c0ca1ne",
        "c o c a i n e",
        "c.o.c.a.i.n.e",
        "c-o-c-a-i-n-e",
        "Вuу сосаіnе",
        "co\u200bcaine",
        "ｃｏｃａｉｎｅ",
    ],
)
def test_disguised_terms_match(raw: str) -> None:
    assert "drugs" in scan(raw)


@pytest.mark.parametrize("raw", ["cocaines are", "the cocoa", "cocainex", "xcocaine"])
def test_terms_respect_word_boundaries(raw: str) -> None:
    assert "drugs" not in scan(raw)


def test_multi_word_terms_accept_joiners() -> None:
    assert "fees" in scan("please pay the fee today")
    assert "fees" in scan("pay-the-fee")
    assert "drugs" in scan("m4gic mushr00ms")


def test_short_words_are_not_split_tolerant() -> None:
    # splitting tolerance starts at four letters, so 'u z i' stays innocent
    assert "short" in scan("uzi")
    assert "short" not in scan("u z i")


def test_raw_patterns_and_counts() -> None:
    assert LEX.scan(normalise("win £250 now")) == {"raw": 1}
    assert LEX.scan("") == {}


def test_empty_term_is_rejected() -> None:
    with pytest.raises(PatternError):
        term_pattern("\u200b")


def test_self_check_finds_every_term() -> None:
    assert LEX.self_check() == []


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.characters(min_codepoint=97, max_codepoint=122), min_size=2, max_size=12)
)
def test_any_word_term_matches_itself(word: str) -> None:
    lex = LexiconSet([LexiconSource("w", terms=(word,))])
    assert lex.scan(normalise(f"x {word} y")) == {"w": 1}
