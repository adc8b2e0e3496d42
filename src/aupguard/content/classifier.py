"""The spam/smishing classifier at run time: a linear model scored directly.

The model is a JSON file of weights (``model/spam-model.json``, built by
`aupguard.content.train` with a fixed seed from the training data only). No
pickle, no scikit-learn at run time: scoring a message is a few set and dict
operations over precomputed weights, a few microseconds for an SMS.

A message's score is ``sum(weight of each distinct feature) / sqrt(number of
distinct features) + bias`` (the L2-normalised binary vector the model was
trained on), turned into a probability by the Platt sigmoid fitted on
cross-validated training scores.

Out-of-domain messages (another script, another language, a text too short
to judge) are not guessed at: `confidence` says how much of the message the
model knows (share of Latin letters x share of known words x enough words),
and the pack decides what a high score with low confidence means.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from aupguard.content.features import features, prepare, words

__all__ = ["FORMAT", "MODEL_PATH", "Model", "Score", "default_model", "load_model"]

FORMAT = "aupguard-linear-v1"
MODEL_PATH = "model/spam-model.json"
_MIN_WORDS = 3
"""Fewer words than this scale the confidence down: 'ok' is no evidence either way."""


@dataclass(frozen=True, slots=True)
class Score:
    probability: float
    """Estimated probability that the message is spam or smishing (0..1)."""
    confidence: float
    """How much of the message the model knows (0..1); low means out of its domain."""
    margin: float
    """The raw linear score before calibration."""
    top: tuple[tuple[str, float], ...] = ()
    """The features that pushed the score up most (label, contribution), when asked for."""


@dataclass(frozen=True)
class Model:
    bias: float
    platt_a: float
    platt_b: float
    chars: dict[str, float]
    lexical: dict[str, float]
    vocabulary: frozenset[str]
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Model:
        if data.get("format") != FORMAT:
            raise ValueError(f"not an {FORMAT} model (format: {data.get('format')!r})")
        try:
            return cls(
                bias=float(data["bias"]),
                platt_a=float(data["platt"][0]),
                platt_b=float(data["platt"][1]),
                chars={str(k): float(v) for k, v in data["chars"].items()},
                lexical={str(k): float(v) for k, v in data["words"].items()},
                vocabulary=frozenset(str(w) for w in data["vocabulary"]),
                info=dict(data.get("info", {})),
            )
        except (KeyError, TypeError, IndexError, ValueError) as exc:
            raise ValueError(f"malformed model: {exc}") from None

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "info": self.info,
            "bias": self.bias,
            "platt": [self.platt_a, self.platt_b],
            "chars": dict(sorted(self.chars.items())),
            "words": dict(sorted(self.lexical.items())),
            "vocabulary": sorted(self.vocabulary),
        }

    def margin(self, prepared: str) -> tuple[float, set[str], set[str]]:
        grams, lexical = features(prepared)
        total = len(grams) + len(lexical)
        if not total:
            return self.bias, grams, lexical
        chars, lex = self.chars, self.lexical
        s = sum(map(chars.__getitem__, chars.keys() & grams))
        s += sum(map(lex.__getitem__, lex.keys() & lexical))
        return s / math.sqrt(total) + self.bias, grams, lexical

    def probability(self, margin: float) -> float:
        z = self.platt_a * margin + self.platt_b
        if z > 0:  # numerically stable sigmoid
            e = math.exp(-z)
            return e / (1.0 + e)
        return 1.0 / (1.0 + math.exp(z))

    def confidence(self, text: str, prepared: str) -> float:
        tokens = [w for w in words(prepared) if len(w) > 1 and w.isalpha()]
        if not tokens:
            return 0.0
        known = sum(1 for w in tokens if w in self.vocabulary) / len(tokens)
        latin = 1.0 if text.isascii() else _latin_share(text)
        return known * latin * min(1.0, len(tokens) / _MIN_WORDS)

    def score(self, text: str, explain: int = 0) -> Score:
        """Score a normalised text (the engine's ``text`` view)."""
        prepared = prepare(text)
        margin, grams, lexical = self.margin(prepared)
        top: tuple[tuple[str, float], ...] = ()
        if explain:
            top = self.explain(grams, lexical, explain)
        return Score(self.probability(margin), self.confidence(text, prepared), margin, top)

    def explain(self, grams: set[str], lexical: set[str], n: int) -> tuple[tuple[str, float], ...]:
        norm = math.sqrt(len(grams) + len(lexical)) or 1.0
        parts = [(f'word "{w}"', self.lexical[w] / norm) for w in lexical if w in self.lexical]
        parts += [(f'chars "{g.strip()}"', self.chars[g] / norm) for g in grams if g in self.chars]
        parts = [p for p in parts if p[1] > 0]
        parts.sort(key=lambda p: (-p[1], p[0]))
        return tuple((label, round(value, 4)) for label, value in parts[:n])


def _latin_share(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    latin = sum(1 for c in letters if c.isascii() or "LATIN" in _char_name(c))
    return latin / len(letters)


@cache
def _char_name(ch: str) -> str:
    import unicodedata

    return unicodedata.name(ch, "")


def load_model(path: Path | str | None = None) -> Model:
    """Load a model file (JSON); by default the one shipped with aupguard."""
    if path is None:
        raw = resources.files("aupguard.content").joinpath(MODEL_PATH).read_text("utf-8")
    else:
        raw = Path(path).read_text("utf-8")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"model is not JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(data, dict):
        raise ValueError("model is not a JSON object")
    return Model.from_json(data)


@cache
def default_model() -> Model:
    """The shipped model, loaded once."""
    return load_model()
