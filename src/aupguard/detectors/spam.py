"""The spam/smishing classifier as detectors (W4 P15 P16 O1 V5).

`content.spam_score` is the classifier's probability that the message is
spam or smishing; `content.spam_confidence` how much of the message the model
knows (low for other scripts and languages, and for texts too short to
judge). Both are recorded in `Decision.scores`. The pack decides what to do
with them: the default pack holds a message only when the score is high
*and* the model is in its domain, and tags (records) a high score it cannot
trust. Evidence names the features that pushed the score up; digits are
folded to ``0`` before features are taken, so evidence never carries a number
from the message.
"""

from __future__ import annotations

from aupguard.content.classifier import Counts, default_model
from aupguard.content.features import lexical_features, prepare, trigrams, words
from aupguard.engine.context import Context
from aupguard.engine.decision import Evidence
from aupguard.engine.registry import ValueType, detector, explainer

__all__ = ["explain_spam", "spam_confidence", "spam_score"]

_TOP = 5


def _counts(ctx: Context) -> Counts:
    """The classifier's counts of the message's features, computed once."""
    cached: Counts | None = ctx.memo.get("content._counts")
    if cached is None:
        cached = default_model().counts(ctx.text)
        ctx.memo["content._counts"] = cached
    return cached


@detector("content.spam_score", output=ValueType.NUMBER, cost=3, score=True)
def spam_score(ctx: Context) -> float:
    """Probability (0..1) that the message is spam or smishing, from the linear classifier."""
    if not ctx.text:
        return 0.0
    model = default_model()
    return round(model.probability(model.margin_of_counts(_counts(ctx))), 4)


@detector("content.spam_confidence", output=ValueType.NUMBER, cost=4, score=True)
def spam_confidence(ctx: Context) -> float:
    """How much of the message the classifier knows (0..1): low out of its domain."""
    if not ctx.text:
        return 0.0
    return round(default_model().confidence(ctx.text, _counts(ctx)), 4)


@explainer("content.spam_score")
def explain_spam(ctx: Context) -> list[Evidence]:
    prepared = prepare(ctx.text)
    top = default_model().explain(trigrams(prepared), lexical_features(words(prepared)), _TOP)
    head = Evidence(
        "content.spam_score",
        f"spam probability {ctx.get('content.spam_score'):.3f}, "
        f"confidence {ctx.get('content.spam_confidence'):.2f}",
        "",
    )
    return [head, *(Evidence("content.spam_score", label, "") for label, _ in top)]
