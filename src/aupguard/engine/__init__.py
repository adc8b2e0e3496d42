"""The pure decision engine: normalise -> detectors -> rules -> verdict."""

from aupguard.engine.compiler import CompiledPack, CompiledRule, compile_pack
from aupguard.engine.decision import Action, Decision, Evidence, Mode, RuleHit, Severity, Verdict
from aupguard.engine.evaluate import evaluate
from aupguard.engine.facade import Engine
from aupguard.engine.state import State

__all__ = [
    "Action",
    "CompiledPack",
    "CompiledRule",
    "Decision",
    "Engine",
    "Evidence",
    "Mode",
    "RuleHit",
    "Severity",
    "State",
    "Verdict",
    "compile_pack",
    "evaluate",
]
