"""Screening in the send path: read state, run the engine, act on the decision.

    screener = Screener(engine, sources=[consent_source, standing_source],
                        after=[counters, audit])
    decision = screener.screen(event)

*State sources* read what the engine needs about one event from a store
(consent of this recipient, the account's standing, the sender's
registration...) and return part of the `State`. Each declares how it fails:
``closed`` (the event is blocked, citing the clauses the source protects:
consent, emergency capability, sanctions) or ``open`` (screening goes on
without it and the decision records why in `Decision.degraded`).

*After-decision steps* act once the engine has decided: consume rate-limit
counters (and turn the decision into a throttle when a limit is exceeded),
enqueue case candidates, write audit entries. A step may return a replacement
decision; the next step sees the replacement.

Nothing here is a store: sources and steps are, so that tests and the library
can assemble exactly the pipeline they need.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from aupguard.engine.decision import Action, Decision, Evidence, Mode, RuleHit, Severity, Verdict
from aupguard.engine.events import AnyEvent
from aupguard.engine.facade import Engine
from aupguard.engine.state import EMPTY_STATE, State

__all__ = ["AfterDecision", "Clock", "Screener", "StateSource", "utc_now"]

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class StateSource(Protocol):
    name: str
    fail_mode: Literal["open", "closed"]
    clauses: tuple[str, ...]
    """The clauses cited when this source fails closed."""

    def read(self, event: AnyEvent, now: datetime) -> dict[str, Any]:
        """Parts of the state for `event`, keyed by State field (``consent``, ``account``...)."""
        ...


class AfterDecision(Protocol):
    name: str

    def after(
        self, event: AnyEvent, state: State, decision: Decision, now: datetime
    ) -> Decision | None:
        """Act on the decision; return a replacement, or None to keep it."""
        ...


DEPENDENCY_RULE = "system.dependency_unavailable"


class Screener:
    def __init__(
        self,
        engine: Engine,
        sources: Sequence[StateSource] = (),
        after: Sequence[AfterDecision] = (),
        clock: Clock = utc_now,
    ) -> None:
        self.engine = engine
        self.sources = tuple(sources)
        self.steps = tuple(after)
        self.clock = clock

    def state_for(
        self, event: AnyEvent, now: datetime
    ) -> tuple[State, list[str], list[StateSource]]:
        """The state for `event`, the fail-open reasons, and the sources that failed closed."""
        parts: dict[str, Any] = {}
        degraded: list[str] = []
        closed: list[StateSource] = []
        for source in self.sources:
            try:
                _merge(parts, source.read(event, now))
            except Exception as exc:  # a dependency is down: apply its declared mode
                reason = f"{source.name}: {type(exc).__name__}: {exc}"[:300]
                if source.fail_mode == "closed":
                    closed.append(source)
                degraded.append(reason)
        state = State(**parts) if parts else EMPTY_STATE
        return state, degraded, closed

    def screen(self, event: AnyEvent, now: datetime | None = None) -> Decision:
        when = now or event.at or self.clock()
        state, degraded, closed = self.state_for(event, when)
        decision = self.engine.screen(event, state, now=when)
        if closed:
            decision = _fail_closed(decision, closed)
        for step in self.steps:
            replacement = step.after(event, state, decision, when)
            if replacement is not None:
                decision = replacement
        if degraded:
            decision.degraded = (*decision.degraded, *degraded)
        return decision


def _merge(parts: dict[str, Any], new: dict[str, Any]) -> None:
    """Add a source's parts: sub-models and signals given by several sources are merged
    field by field (a later source wins for the same field), not replaced whole."""
    for key, given in new.items():
        value = given.model_dump(exclude_unset=True) if isinstance(given, BaseModel) else given
        previous = parts.get(key)
        if isinstance(previous, dict) and isinstance(value, dict):
            parts[key] = {**previous, **value}
        else:
            parts[key] = value


def _fail_closed(decision: Decision, sources: list[StateSource]) -> Decision:
    hits = tuple(
        RuleHit(
            rule=DEPENDENCY_RULE,
            title=f"{source.name} could not be checked, and it fails closed",
            action=Action.BLOCK,
            clauses=source.clauses,
            severity=Severity.HIGH,
            mode=Mode.ENFORCE,
            evidence=(Evidence(source.name, "unavailable", field=""),),
        )
        for source in sources
    )
    decision.hits = (*decision.hits, *hits)
    decision.verdict = Verdict.BLOCK
    decision.retry_after = None
    return decision
