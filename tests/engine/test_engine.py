"""The evaluator: verdict composition, shadow mode, time, state, robustness."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aupguard import Engine, OutboundMessage, State, Verdict
from aupguard.engine.state import ConsentState, LimitState
from tests.factories import RECIPIENT, SENDER, message
from tests.packs import engine_for, write_pack

RULES = """\
lexicons:
  bad: {terms: [forbidden]}
  meh: {terms: [dubious]}
  slow: {terms: [slowpoke]}
rules:
  - {id: r.block, title: blocks, clauses: [X1], when: {lexicon: bad}, action: block, severity: high}
  - {id: r.hold, title: holds, clauses: [X2], when: {lexicon: meh}, action: hold, severity: low}
  - id: r.throttle.a
    title: throttles a
    clauses: [X1]
    when: {lexicon: slow}
    action: throttle
    severity: low
    retry_after: 30
  - id: r.throttle.b
    title: throttles b by state
    clauses: [X2]
    when: {state: limits.exceeded, contains: per_second}
    action: throttle
    severity: low
    retry_after: {state: limits.retry_after}
  - id: r.shadow
    title: would block
    clauses: [X1]
    when: {lexicon: meh}
    action: block
    severity: high
    mode: shadow
  - id: r.future
    title: not yet in force
    clauses: [X2]
    effective: 2027-01-31
    when: {lexicon: bad}
    action: tag
    severity: low
"""


@pytest.fixture
def small(tmp_path: Path) -> Engine:
    return engine_for(tmp_path, RULES)


def test_most_severe_action_wins_and_every_hit_is_kept(small: Engine) -> None:
    decision = small.screen(message("forbidden and dubious"))
    assert decision.verdict is Verdict.BLOCK
    assert [h.rule for h in decision.hits] == ["r.block", "r.hold"]
    assert decision.clauses == ("X1", "X2")


def test_shadow_rules_are_recorded_but_never_decide(small: Engine) -> None:
    decision = small.screen(message("something dubious"))
    assert decision.verdict is Verdict.HOLD
    assert [h.rule for h in decision.shadow] == ["r.shadow"]
    assert decision.shadow_verdict is Verdict.BLOCK


def test_throttle_waits_for_the_longest_retry(small: Engine) -> None:
    state = State(limits=LimitState(exceeded=frozenset({"per_second"}), retry_after=45))
    decision = small.screen(message("slowpoke"), state)
    assert decision.verdict is Verdict.THROTTLE
    assert decision.retry_after == 45
    assert small.screen(message("slowpoke")).retry_after == 30
    # a block outranks a throttle, and then there is nothing to retry
    blocked = small.screen(message("slowpoke forbidden"), state)
    assert blocked.verdict is Verdict.BLOCK
    assert blocked.retry_after is None


def test_rule_effective_dates_are_honoured(small: Engine) -> None:
    before = small.screen(message("forbidden"), now=datetime(2027, 1, 30, tzinfo=UTC))
    after = small.screen(message("forbidden"), now=datetime(2027, 1, 31, tzinfo=UTC))
    assert "r.future" not in [h.rule for h in before.hits]
    assert "r.future" in [h.rule for h in after.hits]
    assert after.verdict is Verdict.BLOCK  # a tag never changes the verdict


def test_time_comes_from_the_caller_not_the_clock(small: Engine) -> None:
    event = message("forbidden", at=datetime(2027, 6, 1, tzinfo=UTC))
    assert "r.future" in [h.rule for h in small.screen(event).hits]
    naive = message("forbidden", at=datetime(2027, 6, 1))
    assert "r.future" in [h.rule for h in small.screen(naive).hits]


def test_decision_records_pack_and_version(tmp_path: Path) -> None:
    decision = engine_for(tmp_path, RULES, version="7.1").screen(message("x"))
    assert (decision.pack, decision.version) == ("test-pack", "7.1")
    assert decision.to_dict()["version"] == "7.1"


def test_sensitive_evidence_is_redacted(engine: Engine) -> None:
    body = "my card is 4111 1111 1111 1111 exp 12/29"
    decision = engine.screen(message(body))
    text = str(decision.to_dict())
    assert "4111 1111 1111 1111" not in text
    evidence = decision.hits[0].evidence[0]
    assert evidence.excerpt == "card ending 1111 (16 digits)"
    assert body[evidence.start : evidence.end] == "4111 1111 1111 1111"
    assert decision.content_sha256 is not None and len(decision.content_sha256) == 64


def test_lexicon_evidence_points_into_the_raw_text(engine: Engine) -> None:
    body = "Вuу сосаіnе nоw"
    decision = engine.screen(message(body))
    evidence = next(
        e for h in decision.hits for e in h.evidence if e.source == "lexicon:shaft.drugs"
    )
    assert evidence.start is not None and evidence.end is not None
    assert body[evidence.start : evidence.end] == "сосаіnе"


def test_state_rules_only_run_with_state(engine: Engine) -> None:
    opted_out = State(consent=ConsentState(status="opted_out"))
    assert engine.screen(message("hi")).verdict is Verdict.ALLOW
    decision = engine.screen(message("hi"), opted_out)
    assert decision.verdict is Verdict.BLOCK
    assert decision.code == 21610
    assert "P28" in decision.clauses


def test_clean_message_is_allowed(engine: Engine) -> None:
    decision = engine.screen(message("see you at 7"))
    assert decision.verdict is Verdict.ALLOW
    assert decision.hits == () and decision.content_sha256 is None


@pytest.mark.parametrize(
    "body",
    ["", "\u200b" * 50, "😀" * 500, "\x00" * 30, "x" * 10_000_000, "a\u0301" * 2000],
)
def test_awkward_bodies_never_crash(engine: Engine, body: str) -> None:
    decision = engine.screen(message(body))
    assert decision.verdict in set(Verdict)


def test_lone_surrogates_are_refused_at_the_boundary_and_survive_inside(engine: Engine) -> None:
    # pydantic refuses text that is not valid Unicode when an event is built...
    with pytest.raises(ValueError, match="unicode"):
        message("\ud800 broken")
    # ...and the engine copes even if such an event is built without validation
    event = OutboundMessage.model_construct(
        sender=SENDER, to=RECIPIENT, body="x\ud800y buy cocaine"
    )
    assert engine.screen(event).verdict is Verdict.BLOCK


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_engine_accepts_any_text(engine: Engine, body: str) -> None:
    decision = engine.screen(message(body))
    assert decision.verdict in set(Verdict)
    for hit in decision.hits:
        for evidence in hit.evidence:
            if evidence.start is not None and evidence.end is not None:
                assert 0 <= evidence.start <= evidence.end <= len(body)


def test_screening_is_thread_safe_during_hot_reload(tmp_path: Path) -> None:
    path = write_pack(tmp_path, RULES, version="1")
    engine = Engine.from_pack(path)
    results: list[tuple[str, Verdict]] = []
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(300):
                d = engine.screen(message("forbidden"))
                results.append((d.version, d.verdict))
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    write_pack(tmp_path, RULES.replace("action: block", "action: hold", 1), version="2")
    engine.reload()
    for t in threads:
        t.join()
    assert not failures
    assert len(results) == 1200
    # every decision is consistent with the version that made it
    assert all(v is Verdict.BLOCK for ver, v in results if ver == "1")
    assert all(v is Verdict.HOLD for ver, v in results if ver == "2")
    assert engine.screen(message("forbidden")).version == "2"


def test_a_broken_reload_keeps_the_running_pack(tmp_path: Path) -> None:
    path = write_pack(tmp_path, RULES)
    engine = Engine.from_pack(path)
    path.write_text("pack: [unclosed", "utf-8")
    with pytest.raises(Exception, match="YAML"):
        engine.reload()
    assert engine.screen(message("forbidden")).verdict is Verdict.BLOCK
