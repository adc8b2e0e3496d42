"""The spam/smishing classifier: features, scoring, out-of-domain confidence, the artifact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aupguard import Engine, Verdict
from aupguard.content.classifier import COMPILED, Model, default_model, load_model
from aupguard.content.features import features, prepare
from aupguard.engine.normalise import normalise
from tests.factories import message

ROOT = Path(__file__).resolve().parents[2]


def test_digits_are_folded_so_no_feature_carries_a_number() -> None:
    grams, lexical = features(prepare(normalise("card 4111 1111 1111 1111, call 09061701461")))
    assert all(not any(c in "123456789" for c in f) for f in grams | lexical)
    assert "0000" in lexical


def test_the_compiled_feature_counting_is_built() -> None:
    # setup.py marks the extension optional so an install never fails on it; the
    # project's own installation must have it, or the engine runs at a third of its speed
    assert COMPILED


# Latin-1 with every class the counting distinguishes: letters of both cases (accented
# too), digits, the punctuation split off, other symbols, each separator str.split()
# knows (NEL and no-break space included), and symbols that are not letters (£ × ÷)
_LATIN1 = st.text(
    alphabet=st.sampled_from(
        [
            *"abcxyzABZ0123456789 .,!?&'-:/@#$%*_~|\\\"",
            *"\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x00\x7f\x85\xa0",
            *"£éÀßÿ×÷ªµ¿",
        ]
    ),
    max_size=300,
)


@settings(max_examples=500, deadline=None)
@given(st.one_of(_LATIN1, st.text(max_size=200)))
def test_compiled_counts_equal_the_python_reference(text: str) -> None:
    model = default_model()
    fast, reference = model.counts(text), model.python_counts(text)
    assert fast[1:] == reference[1:]
    assert fast.weight == pytest.approx(reference.weight, abs=1e-9)


def test_corpus_words_are_counted_alike_by_both_paths() -> None:
    model = default_model()
    # tokens: words of letters only, longer than one letter ("2", "a" and "u" are not)
    for text, tokens in (
        ("free entry in 2 a wkly comp to win fa cup final tkts", 11),
        ("ok lar... joking wif u oni", 5),
        ("winner! claim your £900 prize, café crème\xa0à volonté", 7),
    ):
        counts = model.counts(text)
        assert counts == pytest.approx(model.python_counts(text))
        assert counts.tokens == tokens and 0 < counts.known <= tokens


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_any_text_scores_without_error(text: str) -> None:
    score = default_model().score(normalise(text), explain=3)
    assert 0.0 <= score.probability <= 1.0
    assert 0.0 <= score.confidence <= 1.0
    for label, value in score.top:
        assert value >= 0 and not any(c in "123456789" for c in label)


def test_premium_rate_spam_scores_high_and_chat_low() -> None:
    model = default_model()
    spam = model.score(
        normalise(
            "WINNER!! You have been selected to receive a £900 prize reward! To claim call 09061701461. Valid 12 hours only"
        )
    )
    ham = model.score(
        normalise("Sorry I'm late, the bus broke down. See you at the cinema in 10 min")
    )
    assert spam.probability > 0.9 and spam.confidence > 0.8
    assert ham.probability < 0.2 and ham.confidence > 0.8


@pytest.mark.parametrize(
    "text",
    [
        "Привет! Твоя посылка задержана, оплати доставку по ссылке",
        "您的包裹已到达，请点击链接支付运费",
        "आपका खाता बंद कर दिया जाएगा, तुरंत केवाईसी अपडेट करें",
        "Hola, ¿nos vemos mañana en la estación a las ocho?",
        "ok",
        "",
    ],
)
def test_out_of_domain_text_has_low_confidence_and_is_not_blocked_by_the_classifier(
    engine: Engine, text: str
) -> None:
    score = default_model().score(normalise(text))
    assert score.confidence < 0.5
    decision = engine.screen(message(text))
    assert "spam.classifier" not in [h.rule for h in decision.hits]


def test_low_confidence_high_score_is_only_tagged(engine: Engine) -> None:
    decision = engine.screen(
        message("Gewinne jetzt 1000 Euro Bargeld, ruf 09061701461 an! Nur heute")
    )
    assert decision.verdict is Verdict.ALLOW
    assert [h.rule for h in decision.hits] == ["spam.classifier_out_of_domain"]
    assert decision.scores["content.spam_confidence"] < 0.5


def test_decision_records_score_confidence_and_top_features(engine: Engine) -> None:
    decision = engine.screen(
        message(
            "FREE entry in 2 a wkly comp to win FA Cup final tkts. Text FA to 87121 to receive entry question(std txt rate)T&C's apply"
        )
    )
    assert decision.verdict is Verdict.HOLD
    hit = next(h for h in decision.hits if h.rule == "spam.classifier")
    assert hit.clauses == ("W4", "P15", "P16", "O1", "V5")
    labels = [e.label for e in hit.evidence]
    assert labels[0].startswith("spam probability")
    assert any(label.startswith(("word", "chars")) for label in labels[1:])
    assert decision.scores["content.spam_score"] > 0.9


def test_transactional_wording_is_left_to_the_lure_rules(engine: Engine) -> None:
    alert = "Your a/c no. XXXXXXXX1234 is credited by Rs.45,000.00 on 01-11-25 (IMPS Ref no 530512345678)."
    assert engine.screen(message(alert)).verdict is Verdict.ALLOW


def test_model_file_is_json_and_malformed_models_are_refused(tmp_path: Path) -> None:
    shipped = ROOT / "src" / "aupguard" / "content" / "model" / "spam-model.json"
    data = json.loads(shipped.read_text("utf-8"))
    assert data["format"] == "aupguard-linear-v1"
    assert shipped.stat().st_size < 1_000_000
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "pickle"}', "utf-8")
    with pytest.raises(ValueError, match="not an aupguard-linear-v1 model"):
        load_model(bad)
    bad.write_text('{"format": "aupguard-linear-v1", "bias": 1}', "utf-8")
    with pytest.raises(ValueError, match="malformed model"):
        load_model(bad)
    bad.write_text("not json", "utf-8")
    with pytest.raises(ValueError, match="not JSON"):
        load_model(bad)
    model = Model.from_json(data)
    assert Model.from_json(model.to_json()).chars == model.chars


def test_training_reproduces_the_shipped_model(shared_data: Path, tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    from aupguard.content.train import main

    out = tmp_path / "model.json"
    main(
        [
            "--sms",
            str(shared_data / "sms-spam-collection" / "train.tsv"),
            "--written",
            str(ROOT / "data" / "corpus" / "written-train.tsv"),
            "--out",
            str(out),
        ]
    )
    shipped = ROOT / "src" / "aupguard" / "content" / "model" / "spam-model.json"
    assert out.read_bytes() == shipped.read_bytes()
