"""The screening pipeline: state sources, fail modes, after-decision steps."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from aupguard import Engine, Verdict
from aupguard.engine.decision import Decision
from aupguard.engine.events import AnyEvent
from aupguard.engine.state import ConsentState, State
from aupguard.service import Screener
from aupguard.service.screening import DEPENDENCY_RULE
from tests.factories import message


class Source:
    def __init__(
        self, parts: dict[str, Any] | None, fail_mode: Literal["open", "closed"] = "closed"
    ) -> None:
        self.name = "consent-ledger"
        self.fail_mode = fail_mode
        self.clauses: tuple[str, ...] = ("P28",)
        self.parts = parts

    def read(self, event: AnyEvent, now: datetime) -> dict[str, Any]:
        if self.parts is None:
            raise ConnectionError("database unreachable")
        return self.parts


class Recorder:
    name = "recorder"

    def __init__(self) -> None:
        self.seen: list[tuple[str, Verdict]] = []

    def after(
        self, event: AnyEvent, state: State, decision: Decision, now: datetime
    ) -> Decision | None:
        self.seen.append((state.consent.status, decision.verdict))
        return None


def test_state_from_sources_reaches_the_engine(engine: Engine) -> None:
    recorder = Recorder()
    screener = Screener(engine, [Source({"consent": ConsentState(status="opted_out")})], [recorder])
    decision = screener.screen(message("hello"))
    assert decision.verdict is Verdict.BLOCK
    assert decision.code == 21610
    assert recorder.seen == [("opted_out", Verdict.BLOCK)]


def test_a_source_that_fails_closed_blocks_with_its_clauses(engine: Engine) -> None:
    decision = Screener(engine, [Source(None, "closed")]).screen(message("hello"))
    assert decision.verdict is Verdict.BLOCK
    assert decision.hits[-1].rule == DEPENDENCY_RULE
    assert decision.clauses == ("P28",)
    assert "ConnectionError" in decision.degraded[0]


def test_a_source_that_fails_open_is_recorded_and_screening_goes_on(engine: Engine) -> None:
    decision = Screener(engine, [Source(None, "open")]).screen(message("hello"))
    assert decision.verdict is Verdict.ALLOW
    assert decision.degraded == ("consent-ledger: ConnectionError: database unreachable",)


def test_steps_may_replace_the_decision(engine: Engine) -> None:
    class Throttle:
        name = "limits"

        def after(
            self, event: AnyEvent, state: State, decision: Decision, now: datetime
        ) -> Decision | None:
            decision.verdict, decision.retry_after = Verdict.THROTTLE, 1.0
            return decision

    decision = Screener(engine, after=[Throttle()]).screen(message("hello"))
    assert (decision.verdict, decision.retry_after) == (Verdict.THROTTLE, 1.0)
