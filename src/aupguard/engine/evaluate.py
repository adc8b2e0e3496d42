"""Evaluate one event against a compiled pack: pure, no clock, no I/O."""

from __future__ import annotations

import hashlib
from datetime import datetime
from time import perf_counter_ns

from aupguard.engine.compiler import CompiledPack
from aupguard.engine.context import Context
from aupguard.engine.decision import Action, Decision, Mode, RuleHit, Verdict
from aupguard.engine.events import AnyEvent, event_text
from aupguard.engine.state import EMPTY_STATE, State

__all__ = ["evaluate"]

_RANK = {Action.TAG: 0, Action.THROTTLE: 1, Action.HOLD: 2, Action.BLOCK: 3}
_NO_SCORES: dict[str, float] = {}
_VERDICT = {0: Verdict.ALLOW, 1: Verdict.THROTTLE, 2: Verdict.HOLD, 3: Verdict.BLOCK}


def evaluate(pack: CompiledPack, event: AnyEvent, state: State, now: datetime) -> Decision:
    """Judge `event` at time `now` given `state`.

    Every applicable rule runs; the most severe action of the enforced rules that
    fired is the verdict (block > hold > throttle > allow), and every fired rule
    is kept. Shadow rules run and are recorded, but never change the verdict.
    A throttle verdict waits for the longest retry-after among throttle hits.
    """
    started = perf_counter_ns()
    raw = event_text(event)
    ctx = Context(pack, event, state, now, raw)
    rules = pack.kind_index(event.kind).candidates(
        getattr(event, "channel", None),
        getattr(event, "category", None),
        bool(getattr(event, "media", None)),
        state is not EMPTY_STATE,
        ctx.lexicons,
    )
    hits: list[RuleHit] = []
    shadow: list[RuleHit] = []
    for rule in rules:
        if rule.effective is not None and now < rule.effective:
            continue
        if rule.until is not None and now >= rule.until:
            continue
        if rule.cond(ctx):
            (shadow if rule.mode is Mode.SHADOW else hits).append(rule.hit(ctx))
    rank = 0
    retry_after: float | None = None
    for hit in hits:
        r = _RANK[hit.action]
        rank = max(rank, r)
        if hit.action is Action.THROTTLE and hit.retry_after is not None:
            retry_after = max(retry_after or 0.0, hit.retry_after)
    verdict = _VERDICT[rank]
    memo = ctx.memo
    scores = {n: float(memo[n]) for n in pack.score_detectors if n in memo} if memo else _NO_SCORES
    digest = None
    if (hits or shadow) and raw:
        digest = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()
    return Decision(  # positional: this runs for every event
        verdict,
        pack.id,
        pack.version,
        event.kind,
        event.account,
        tuple(hits) if hits else (),
        tuple(shadow) if shadow else (),
        retry_after if verdict is Verdict.THROTTLE else None,
        scores,
        event.id,
        (perf_counter_ns() - started) / 1000,
        digest,
    )
