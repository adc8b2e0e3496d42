"""The spam/smishing classifier at run time: a linear model scored directly.

The model is a JSON file of weights (``model/spam-model.json``, built by
`aupguard.content.train` with a fixed seed from the training data only). No
pickle, no scikit-learn at run time: scoring a message is counting its
distinct features and adding their weights (`Counts`). For texts within
Latin-1 -- nearly all SMS in the Latin script, `£` and accents included -- the
compiled module `aupguard.content._scorer` does the counting in a few
microseconds; other texts, or an installation where the module could not be
compiled, take the Python path over the same features
(`Model.python_counts`), which gives the same counts (a property test holds
the two together).

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

import heapq
import json
import math
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from itertools import repeat
from pathlib import Path
from typing import Any, NamedTuple

from aupguard.content.features import lexical_features, prepare, trigrams, words

try:
    from aupguard.content._scorer import Scorer
except ImportError:  # not compiled here: the Python path does the same counting
    Scorer = None  # type: ignore[assignment,misc]

__all__ = [
    "COMPILED",
    "FORMAT",
    "MODEL_PATH",
    "Counts",
    "Model",
    "Score",
    "default_model",
    "load_model",
]

COMPILED = Scorer is not None
"""Whether the compiled feature counting is available in this installation."""

FORMAT = "aupguard-linear-v1"
MODEL_PATH = "model/spam-model.json"
_ZEROS = repeat(0.0)
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


class Counts(NamedTuple):
    """What the model needs to know of one text: everything else is arithmetic on it.

    A named tuple: the compiled path's result becomes one without copying."""

    weight: float
    """Sum of the weights of the text's distinct features."""
    features: int
    """Number of distinct features (known to the model or not)."""
    tokens: int
    """Words made of letters only, longer than one letter (repeats counted)."""
    known: int
    """How many of those tokens are in the model's vocabulary."""


_make_counts = Counts._make


@dataclass(frozen=True)
class Model:
    bias: float
    platt_a: float
    platt_b: float
    chars: dict[str, float]
    lexical: dict[str, float]
    vocabulary: frozenset[str]
    info: dict[str, Any] = field(default_factory=dict)
    _scorer: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if Scorer is not None:
            object.__setattr__(self, "_scorer", Scorer(self.chars, self.lexical, self.vocabulary))

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

    def margin(self, grams: set[str], lexical: set[str]) -> float:
        """The raw linear score of a text's features (training and explanations use it)."""
        total = len(grams) + len(lexical)
        if not total:
            return self.bias
        chars, lex = self.chars, self.lexical
        s = sum(map(chars.get, grams, _ZEROS)) + sum(map(lex.get, lexical, _ZEROS))
        return s / math.sqrt(total) + self.bias

    def counts(self, text: str) -> Counts:
        """Count a normalised text's features: compiled within Latin-1, else in Python."""
        if self._scorer is not None:
            found = self._scorer.stats(text)
            if found is not None:
                return _make_counts(found)
        return self.python_counts(text)

    def python_counts(self, text: str) -> Counts:
        """`counts` in Python only (the reference the compiled path is tested against)."""
        prepared = prepare(text)
        ws = words(prepared)
        grams, lexical = trigrams(prepared), lexical_features(ws)
        chars, lex, vocabulary = self.chars, self.lexical, self.vocabulary
        weight = sum(map(chars.get, grams, _ZEROS)) + sum(map(lex.get, lexical, _ZEROS))
        tokens = [w for w in ws if len(w) > 1 and w.isalpha()]
        known = sum(1 for w in tokens if w in vocabulary)
        return Counts(weight, len(grams) + len(lexical), len(tokens), known)

    def margin_of_counts(self, counts: Counts) -> float:
        if not counts.features:
            return self.bias
        return counts.weight / math.sqrt(counts.features) + self.bias

    def probability(self, margin: float) -> float:
        z = self.platt_a * margin + self.platt_b
        if z > 0:  # numerically stable sigmoid
            e = math.exp(-z)
            return e / (1.0 + e)
        return 1.0 / (1.0 + math.exp(z))

    def confidence(self, text: str, counts: Counts) -> float:
        """How much of the text the model knows (0..1), from its counts."""
        if not counts.tokens:
            return 0.0
        latin = 1.0 if text.isascii() else _latin_share(text)
        return counts.known / counts.tokens * latin * min(1.0, counts.tokens / _MIN_WORDS)

    def margin_of(self, text: str) -> float:
        """The raw linear score of a normalised text (no confidence, no explanation)."""
        return self.margin_of_counts(self.counts(text))

    def score(self, text: str, explain: int = 0) -> Score:
        """Score a normalised text (the engine's ``text`` view)."""
        counts = self.counts(text)
        margin = self.margin_of_counts(counts)
        top: tuple[tuple[str, float], ...] = ()
        if explain:
            prepared = prepare(text)
            top = self.explain(trigrams(prepared), lexical_features(words(prepared)), explain)
        return Score(self.probability(margin), self.confidence(text, counts), margin, top)

    def explain(self, grams: set[str], lexical: set[str], n: int) -> tuple[tuple[str, float], ...]:
        norm = math.sqrt(len(grams) + len(lexical)) or 1.0
        chars, lex = self.chars, self.lexical
        best_words = heapq.nlargest(n, zip(map(lex.get, lexical, _ZEROS), lexical, strict=False))
        best_chars = heapq.nlargest(n, zip(map(chars.get, grams, _ZEROS), grams, strict=False))
        merged = [(w, f'word "{k}"') for w, k in best_words if w > 0]
        merged += [(w, f'chars "{k.strip()}"') for w, k in best_chars if w > 0]
        merged.sort(key=lambda p: (-p[0], p[1]))
        return tuple((label, round(value / norm, 4)) for value, label in merged[:n])


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
