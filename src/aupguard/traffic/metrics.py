"""Prometheus counters of the traffic layer (exposed by whatever serves /metrics)."""

from __future__ import annotations

from prometheus_client import Counter

__all__ = ["COUNTER_STORE_DEGRADED", "LIMIT_CHECKS"]

LIMIT_CHECKS = Counter(
    "aupguard_limit_checks",
    "Counter-store checks of an event's limits, by outcome (admitted, throttled, unavailable)",
    ["outcome"],
)
COUNTER_STORE_DEGRADED = Counter(
    "aupguard_counter_store_degraded",
    "Events whose limits could not be checked because the counter store did not answer, "
    "by the failure mode applied (open: let through and recorded; closed: held back)",
    ["mode"],
)
