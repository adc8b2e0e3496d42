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

from aupguard.content.classifier import Score, default_model
from aupguard.engine.context import Context
from aupguard.engine.decision import Evidence
from aupguard.engine.registry import ValueType, detector, explainer

__all__ = ["classify"]

_TOP = 5


def classify(ctx: Context) -> Score:
    """The classifier's score for this message (computed once per message)."""
    cached: Score | None = ctx.memo.get("content._spam")
    if cached is None:
        cached = default_model().score(ctx.text)
        ctx.memo["content._spam"] = cached
    return cached


@detector("content.spam_score", output=ValueType.NUMBER, cost=3, score=True)
def spam_score(ctx: Context) -> float:
    """Probability (0..1) that the message is spam or smishing, from the linear classifier."""
    if not ctx.text:
        return 0.0
    return round(classify(ctx).probability, 4)


@detector("content.spam_confidence", output=ValueType.NUMBER, cost=3, score=True)
def spam_confidence(ctx: Context) -> float:
    """How much of the message the classifier knows (0..1): low out of its domain."""
    if not ctx.text:
        return 0.0
    return round(classify(ctx).confidence, 4)


@explainer("content.spam_score", "content.spam_confidence")
def explain_spam(ctx: Context) -> list[Evidence]:
    scored = default_model().score(ctx.text, explain=_TOP)
    head = Evidence(
        "content.spam_score",
        f"spam probability {scored.probability:.3f}, confidence {scored.confidence:.2f}",
        "",
    )
    return [head, *(Evidence("content.spam_score", label, "") for label, _ in scored.top)]
