"""The service layer: the only code that reads stores, calls the engine and writes results."""

from aupguard.service.screening import AfterDecision, Screener, StateSource

__all__ = ["AfterDecision", "Screener", "StateSource"]
