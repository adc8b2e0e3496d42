"""What the engine answers: a verdict with the rules, clauses and evidence behind it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    ALLOW = "allow"
    THROTTLE = "throttle"
    HOLD = "hold"
    BLOCK = "block"

    @property
    def rank(self) -> int:
        return _VERDICT_RANK[self]


_VERDICT_RANK = {Verdict.ALLOW: 0, Verdict.THROTTLE: 1, Verdict.HOLD: 2, Verdict.BLOCK: 3}


class Action(StrEnum):
    """What a rule does when it fires. `tag` records the hit without changing the verdict."""

    TAG = "tag"
    THROTTLE = "throttle"
    HOLD = "hold"
    BLOCK = "block"

    @property
    def verdict(self) -> Verdict:
        return Verdict.ALLOW if self is Action.TAG else Verdict(self.value)


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Mode(StrEnum):
    ENFORCE = "enforce"
    SHADOW = "shadow"


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why a rule fired: what was found, where, and a redacted excerpt of it.

    `start`/`end` index the raw field (`field`) of the event; they are None for
    evidence that is not a span of text (a state value, a counter).
    """

    source: str
    label: str
    field: str = "body"
    start: int | None = None
    end: int | None = None
    excerpt: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "label": self.label,
            "field": self.field,
            "start": self.start,
            "end": self.end,
            "excerpt": self.excerpt,
        }


class RuleHit:
    """One rule that fired: what it does, the clauses it enforces, and its evidence.

    Evidence may be located lazily: the engine hands over a function that finds
    it (in the raw text, which is slower than deciding), and `evidence` runs it
    on first access - a caller that only needs the verdict never pays for it.
    Treat a RuleHit as read-only.
    """

    __slots__ = (
        "_evidence",
        "_pending",
        "action",
        "clauses",
        "code",
        "mode",
        "retry_after",
        "rule",
        "severity",
        "tags",
        "title",
    )

    def __init__(
        self,
        rule: str,
        title: str,
        action: Action,
        clauses: tuple[str, ...],
        severity: Severity,
        mode: Mode,
        evidence: tuple[Evidence, ...] = (),
        retry_after: float | None = None,
        code: int | None = None,
        tags: tuple[str, ...] = (),
        pending: Callable[[], tuple[Evidence, ...]] | None = None,
    ) -> None:
        self.rule = rule
        self.title = title
        self.action = action
        self.clauses = clauses
        self.severity = severity
        self.mode = mode
        self.retry_after = retry_after
        self.code = code
        self.tags = tags
        self._evidence = evidence
        self._pending = pending

    @property
    def evidence(self) -> tuple[Evidence, ...]:
        pending = self._pending
        if pending is not None:
            self._evidence = (*self._evidence, *pending())
            self._pending = None
        return self._evidence

    def __repr__(self) -> str:
        return f"RuleHit({self.rule!r}, {self.action.value}, clauses={self.clauses})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "title": self.title,
            "action": self.action.value,
            "clauses": list(self.clauses),
            "severity": self.severity.value,
            "mode": self.mode.value,
            "evidence": [e.to_dict() for e in self.evidence],
            "retry_after": self.retry_after,
            "code": self.code,
            "tags": list(self.tags),
        }


@dataclass(slots=True)
class Decision:
    """The engine's answer for one event. Treat it as read-only.

    `hits` are the enforced rules that fired (all of them, not only the one that
    decided); `shadow` the shadow-mode rules that fired, which never change
    `verdict`. `scores` holds the numeric detector outputs computed on the way.
    (Not a frozen dataclass: freezing costs more than the rest of a clean
    message's evaluation.)
    """

    verdict: Verdict
    pack: str
    version: str
    kind: str
    account: str
    hits: tuple[RuleHit, ...] = ()
    shadow: tuple[RuleHit, ...] = ()
    retry_after: float | None = None
    scores: Mapping[str, float] = field(default_factory=dict)
    event_id: str | None = None
    elapsed_us: float = 0.0
    content_sha256: str | None = None
    degraded: tuple[str, ...] = ()
    """Dependencies that failed open while this decision was made, with the reason."""

    @property
    def clauses(self) -> tuple[str, ...]:
        """The clause ids of every enforced hit, in order, without repeats."""
        return tuple(dict.fromkeys(c for hit in self.hits for c in hit.clauses))

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t for hit in self.hits for t in hit.tags))

    @property
    def code(self) -> int | None:
        """The error code of the deciding hit (for gateways that speak error codes)."""
        best = max(self.hits, key=lambda h: h.action.verdict.rank, default=None)
        return best.code if best is not None else None

    @property
    def shadow_verdict(self) -> Verdict:
        """The verdict had the shadow rules been enforced too."""
        ranks = [self.verdict, *(h.action.verdict for h in self.shadow)]
        return max(ranks, key=lambda v: v.rank)

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "retry_after": self.retry_after,
            "clauses": list(self.clauses),
            "code": self.code,
            "hits": [h.to_dict() for h in self.hits],
            "shadow": [h.to_dict() for h in self.shadow],
            "shadow_verdict": self.shadow_verdict.value,
            "scores": dict(self.scores),
            "pack": self.pack,
            "version": self.version,
            "kind": self.kind,
            "account": self.account,
            "event_id": self.event_id,
            "elapsed_us": round(self.elapsed_us, 1),
            "content_sha256": self.content_sha256,
            "degraded": list(self.degraded),
        }
