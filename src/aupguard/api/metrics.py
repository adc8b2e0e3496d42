"""Prometheus metrics of the HTTP API (`GET /metrics`).

- ``aupguard_decisions_total{kind,verdict}``, ``aupguard_rule_hits_total{rule,action}``,
  ``aupguard_clause_hits_total{clause}``: every decision the gateway made;
- ``aupguard_request_seconds{route}``: request latency (histogram);
- ``aupguard_outbox_pending``: outbox entries not yet delivered (read from the
  database at scrape time, so it is the same from every worker);
- ``aupguard_delivery_failures_total{sink}``: failed delivery attempts;
- ``aupguard_fail_open_total{source}``: decisions made without a dependency that
  fails open.

Several worker processes: `aupguard serve --workers N` points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder (unless it is set) before the
workers start, and `/metrics` then sums every worker's values with
prometheus-client's multiprocess collector. One worker: the process's registry.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from aupguard.engine.decision import Decision

__all__ = [
    "CONTENT_TYPE_LATEST",
    "DECISIONS",
    "DELIVERY_FAILURES",
    "FAIL_OPEN",
    "REQUEST_SECONDS",
    "observe_decision",
    "record_failure",
    "render",
]

DECISIONS = Counter("aupguard_decisions_total", "Decisions made", ["kind", "verdict"])
RULE_HITS = Counter("aupguard_rule_hits_total", "Enforced rule hits", ["rule", "action"])
CLAUSE_HITS = Counter("aupguard_clause_hits_total", "Clauses cited by decisions", ["clause"])
REQUEST_SECONDS = Histogram(
    "aupguard_request_seconds",
    "HTTP request latency",
    ["route"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
DELIVERY_FAILURES = Counter(
    "aupguard_delivery_failures_total", "Failed delivery attempts", ["sink"]
)
FAIL_OPEN = Counter(
    "aupguard_fail_open_total", "Decisions made without a dependency that fails open", ["source"]
)


def observe_decision(decision: Decision) -> None:
    DECISIONS.labels(decision.kind, decision.verdict.value).inc()
    for hit in decision.hits:
        RULE_HITS.labels(hit.rule, hit.action.value).inc()
    for clause in decision.clauses:
        CLAUSE_HITS.labels(clause).inc()
    for reason in decision.degraded:
        FAIL_OPEN.labels(reason.partition(":")[0]).inc()


def record_failure(sink: str, _reason: str) -> None:
    DELIVERY_FAILURES.labels(sink).inc()


class _Depth(Collector):
    def __init__(self, pending: Callable[[], int | None]) -> None:
        self.pending = pending

    def collect(self) -> Iterator[Metric]:
        value = self.pending()
        if value is not None:
            yield GaugeMetricFamily(
                "aupguard_outbox_pending", "Outbox entries not yet delivered", value=value
            )


def render(pending: Callable[[], int | None]) -> bytes:
    """The exposition text: this process's metrics, or every worker's when
    PROMETHEUS_MULTIPROC_DIR is set; with the outbox depth read now."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = CollectorRegistry()
        registry.register(_Forward(REGISTRY))
    registry.register(_Depth(pending))
    return generate_latest(registry)


class _Forward(Collector):
    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        yield from self.source.collect()
