"""Run the examples embedded in a pack's rules (`aupguard policy test`)."""

from __future__ import annotations

from dataclasses import dataclass

from aupguard.engine.compiler import CompiledExample, CompiledPack
from aupguard.engine.decision import Decision
from aupguard.engine.evaluate import evaluate

__all__ = ["ExampleResult", "run_example", "run_examples"]


@dataclass(frozen=True)
class ExampleResult:
    example: CompiledExample
    decision: Decision
    problem: str | None

    @property
    def passed(self) -> bool:
        return self.problem is None


def run_example(pack: CompiledPack, example: CompiledExample) -> ExampleResult:
    decision = evaluate(pack, example.event, example.state, example.at)
    fired = any(h.rule == example.rule for h in (*decision.hits, *decision.shadow))
    problem = None
    if fired != example.fires:
        verb = "did not fire" if example.fires else "fired"
        others = ", ".join(h.rule for h in decision.hits) or "no rule"
        problem = f"{example.rule} {verb} (verdict {decision.verdict.value}; fired: {others})"
    elif example.verdict is not None and decision.verdict is not example.verdict:
        problem = f"verdict {decision.verdict.value}, expected {example.verdict.value}"
    return ExampleResult(example, decision, problem)


def run_examples(pack: CompiledPack, rule: str | None = None) -> list[ExampleResult]:
    return [run_example(pack, e) for e in pack.examples if rule is None or e.rule == rule]
