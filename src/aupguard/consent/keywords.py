"""Inbound keywords and revocation intent (pack dataset ``consent_keywords``).

A reply is normalised to words: Unicode compatibility form, accents folded,
case folded, apostrophes dropped ("don't" is "dont"), every other
non-alphanumeric character a separator. Then, in this order:

1. the words are an opt-out, opt-in or help keyword ("STOP", " stop. ",
   "Opt-Out", "ARRÊT"): that, confidence 1;
2. without the filler words (please, now, me, thanks...) they are one
   ("Stop please", "please STOP!!", "stop texting me"): that, confidence 0.95;
3. they contain a revocation phrase ("please don't text me anymore",
   "remove me from this list") not preceded by a negation ("I don't want you
   to remove me"): opt-out intent with the phrase's confidence, acted on at
   or above the pack's ``intent_threshold``.

Anything else is no keyword: "I can't stop laughing" and "we have to stop
this bill" hold the word but are not a request. Only string operations run
over the text (no backtracking regex).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from aupguard.engine.registry import dataset

__all__ = [
    "ConsentKeywords",
    "Intent",
    "IntentKind",
    "KeywordIndex",
    "classify",
    "prepare_keywords",
    "words",
]

_MAX_WORDS = 200
_APOSTROPHES = frozenset("'’‘`´ʼ")
_FILLER_CONFIDENCE = 0.95


class IntentKind(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    NONE = "none"


class IntentPhrase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    phrase: str = Field(min_length=1)
    confidence: float = Field(gt=0, le=1)


class Replies(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    opt_out: str = Field(min_length=1, max_length=320)
    opt_in: str = Field(min_length=1, max_length=320)
    help: str = Field(min_length=1, max_length=320)


class ConsentKeywords(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    opt_out: list[str] = Field(min_length=1)
    opt_in: list[str] = Field(min_length=1)
    help: list[str] = Field(min_length=1)
    filler: list[str] = Field(default_factory=list)
    intents: list[IntentPhrase] = Field(default_factory=list)
    intent_threshold: float = Field(default=0.7, gt=0, le=1)
    negations: list[str] = Field(default_factory=list)
    opt_out_all_channels: bool = True
    replies: Replies
    confirmation_within_seconds: int = Field(default=300, ge=1)
    honour_within_business_days: int = Field(default=10, ge=1)


def words(text: str) -> tuple[str, ...]:
    """The normalised words of `text` (see the module's description)."""
    folded = unicodedata.normalize("NFKD", text[:4000])
    out: list[str] = []
    current: list[str] = []
    for ch in folded:
        if unicodedata.combining(ch) or ch in _APOSTROPHES:
            continue
        if ch.isalnum():
            current.append(ch)
        elif current:
            out.append("".join(current).casefold())
            current = []
            if len(out) >= _MAX_WORDS:
                break
    if current and len(out) < _MAX_WORDS:
        out.append("".join(current).casefold())
    return tuple(out)


@dataclass(frozen=True, slots=True)
class KeywordIndex:
    keywords: dict[tuple[str, ...], IntentKind]
    filler: frozenset[str]
    intents: tuple[tuple[tuple[str, ...], float], ...]
    negations: tuple[tuple[str, ...], ...]
    threshold: float
    spec: ConsentKeywords


def prepare_keywords(model: ConsentKeywords) -> KeywordIndex:
    keywords: dict[tuple[str, ...], IntentKind] = {}
    # Help first, then opt-in, then opt-out: a word in two lists counts as the stricter.
    for kind, terms in (
        (IntentKind.HELP, model.help),
        (IntentKind.OPT_IN, model.opt_in),
        (IntentKind.OPT_OUT, model.opt_out),
    ):
        for term in terms:
            key = words(term)
            if key:
                keywords[key] = kind
    intents = tuple(
        sorted(((words(i.phrase), i.confidence) for i in model.intents), key=lambda x: -x[1])
    )
    return KeywordIndex(
        keywords=keywords,
        filler=frozenset(w for f in model.filler for w in words(f)),
        intents=tuple(i for i in intents if i[0]),
        negations=tuple(n for n in (words(x) for x in model.negations) if n),
        threshold=model.intent_threshold,
        spec=model,
    )


dataset(
    "consent_keywords",
    ConsentKeywords,
    prepare=prepare_keywords,
    description="Opt-out/opt-in/help keywords, revocation phrases and auto-replies",
)


@dataclass(frozen=True, slots=True)
class Intent:
    kind: IntentKind
    confidence: float
    matched: str = ""
    how: str = ""
    """keyword, keyword+filler, phrase, or phrase (below threshold)."""

    @property
    def acted(self) -> bool:
        """True when the intent changes consent (anything but NONE)."""
        return self.kind is not IntentKind.NONE


NO_INTENT = Intent(IntentKind.NONE, 0.0)


def _find(haystack: tuple[str, ...], needle: tuple[str, ...]) -> list[int]:
    n = len(needle)
    first = needle[0]
    return [
        i
        for i, w in enumerate(haystack)
        if w == first and i + n <= len(haystack) and haystack[i : i + n] == needle
    ]


def _negated(tokens: tuple[str, ...], start: int, negations: tuple[tuple[str, ...], ...]) -> bool:
    return any(start >= len(n) and tokens[start - len(n) : start] == n for n in negations)


def classify(text: str, index: KeywordIndex) -> Intent:
    """What an inbound reply asks for (see the module's description)."""
    tokens = words(text)
    if not tokens:
        return NO_INTENT
    kind = index.keywords.get(tokens)
    if kind is not None:
        return Intent(kind, 1.0, " ".join(tokens), "keyword")
    if len(tokens) <= 8:
        core = tuple(t for t in tokens if t not in index.filler)
        kind = index.keywords.get(core) if core else None
        if kind is not None:
            return Intent(kind, _FILLER_CONFIDENCE, " ".join(core), "keyword+filler")
    for phrase, confidence in index.intents:
        for start in _find(tokens, phrase):
            if _negated(tokens, start, index.negations):
                continue
            if confidence >= index.threshold:
                return Intent(IntentKind.OPT_OUT, confidence, " ".join(phrase), "phrase")
            return Intent(IntentKind.NONE, confidence, " ".join(phrase), "phrase (below threshold)")
    return NO_INTENT
