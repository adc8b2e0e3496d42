"""Inbound keyword and revocation-intent parsing (pack dataset consent_keywords)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aupguard.consent.keywords import IntentKind, KeywordIndex, classify, words

OPT_OUT = [
    "STOP",
    " stop. ",
    "Stop please",
    "please STOP!!",
    "stop texting me",
    "unsubscribe",
    "ARRET",
    "Arrêt",
    "revoke",
    "opt out",
    "Opt-Out",
    "OPTOUT",
    "STOPALL",
    "stop all",
    "cancel",
    "end",
    "quit",
    "alto",
    "parar",
    "baja",
    "detener",
    "abmelden",
    "TD",
    "remove",
]


@pytest.mark.parametrize("text", OPT_OUT)
def test_opt_out_words_in_any_case_and_punctuation(keywords: KeywordIndex, text: str) -> None:
    intent = classify(text, keywords)
    assert intent.kind is IntentKind.OPT_OUT
    assert intent.confidence >= 0.95


@pytest.mark.parametrize(
    "text",
    [
        "please don't text me anymore",
        "Please don’t text me any more, thanks",
        "remove me from this list",
        "Take me off your list",
        "stop sending me these",
        "I want to opt me out please",
    ],
)
def test_revocation_in_words_is_an_opt_out_with_a_confidence(
    keywords: KeywordIndex, text: str
) -> None:
    intent = classify(text, keywords)
    assert intent.kind is IntentKind.OPT_OUT
    assert intent.how in ("phrase", "keyword+filler")
    assert keywords.threshold <= intent.confidence < 1.0


@pytest.mark.parametrize(
    "text",
    [
        "I can't stop laughing",
        "we have to stop this bill",
        "see you at the end of the street",
        "don't stop believing",
        "I don't want you to remove me",
        "thanks!",
        "ok",
        "",
        "   ",
    ],
)
def test_sentences_that_only_contain_the_words_are_not_opt_outs(
    keywords: KeywordIndex, text: str
) -> None:
    assert classify(text, keywords).kind is not IntentKind.OPT_OUT


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("START", IntentKind.OPT_IN),
        ("unstop", IntentKind.OPT_IN),
        ("Yes", IntentKind.OPT_IN),
        ("subscribe", IntentKind.OPT_IN),
        ("HELP", IntentKind.HELP),
        ("info?", IntentKind.HELP),
        ("aide", IntentKind.HELP),
        ("AYUDA", IntentKind.HELP),
    ],
)
def test_opt_in_and_help(keywords: KeywordIndex, text: str, kind: IntentKind) -> None:
    assert classify(text, keywords).kind is kind


def test_a_phrase_below_the_threshold_is_reported_but_not_acted_on(
    keywords: KeywordIndex,
) -> None:
    from dataclasses import replace

    strict = replace(keywords, threshold=0.99)
    intent = classify("please don't text me anymore", strict)
    assert intent.kind is IntentKind.NONE
    assert intent.confidence > 0


_PUNCT = st.text(alphabet=" \t\n.,!?;:-*()\"'", max_size=6)


@given(
    word=st.sampled_from(["stop", "unsubscribe", "cancel", "end", "quit", "revoke", "opt out"]),
    before=_PUNCT,
    after=_PUNCT,
    upper=st.lists(st.booleans(), min_size=12, max_size=12),
)
def test_opt_out_survives_case_punctuation_and_whitespace(
    keywords: KeywordIndex, word: str, before: str, after: str, upper: list[bool]
) -> None:
    cased = "".join(c.upper() if u else c for c, u in zip(word, upper, strict=False))
    assert classify(f"{before}{cased}{after}", keywords).kind is IntentKind.OPT_OUT


@given(st.text(max_size=300))
def test_classify_never_fails(keywords: KeywordIndex, text: str) -> None:
    assert 0.0 <= classify(text, keywords).confidence <= 1.0


@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80))
def test_classify_ignores_case(keywords: KeywordIndex, text: str) -> None:
    assert classify(text.upper(), keywords) == classify(text.lower(), keywords)


@given(
    st.lists(
        st.sampled_from(["i", "cant", "laughing", "we", "bill", "pizza", "tonight", "great"]),
        min_size=1,
        max_size=6,
    ),
    st.sampled_from(["stop", "end", "quit", "cancel"]),
    st.integers(min_value=0, max_value=6),
)
def test_an_opt_out_word_inside_an_unrelated_sentence_is_not_an_opt_out(
    keywords: KeywordIndex, others: list[str], word: str, position: int
) -> None:
    sentence = [*others]
    sentence.insert(min(position, len(sentence)), word)
    assert classify(" ".join(sentence), keywords).kind is not IntentKind.OPT_OUT


@given(st.text(max_size=200))
def test_words_are_lower_case_alphanumeric(text: str) -> None:
    for word in words(text):
        assert word
        assert all(ch.isalnum() for ch in word)
        assert word == word.casefold()
