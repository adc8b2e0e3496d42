"""The send path a server runs: which state sources and after-decision steps
surround the engine, built from the settings.

    screener = build_screener(settings, engine, database)

- Traffic (always): rate limits, quotas and carrier limits are consumed after
  the engine decided (`LimitStep`), and the pumping/snowshoeing/key-sharing
  signals are read before it (`TrafficSignals`). With ``AUPGUARD_REDIS_URL``
  both live in Redis and every worker of every machine shares them; without
  it they are in this process's memory (the embedded default: one worker's
  limits, lost at restart).
- Consent (always): the ledger and the do-not-call lists of the database (in
  memory without one), failing closed (P28 P15); the P2P-template and
  one-time-code signals (P17 P12) share the traffic signal store.
- Sender registry (``AUPGUARD_SENDER_REGISTRY=enforce``): messages and calls
  from numbers the account has not registered and verified are refused (P5
  P11). Off by default, because a new installation has an empty registry.

Each domain that adds state to the send path adds its source here, so that the HTTP gateway and the library assemble the
same pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis

from aupguard.config import Settings
from aupguard.consent import (
    ConsentSignals,
    ConsentSource,
    MemoryConsentStore,
    MemoryDncStore,
)
from aupguard.engine.facade import Engine
from aupguard.service.screening import AfterDecision, Screener, StateSource
from aupguard.store.db import Database
from aupguard.traffic.counters import CounterStore, MemoryCounters
from aupguard.traffic.redis_counters import RedisCounters
from aupguard.traffic.service import LimitStep
from aupguard.traffic.signals import MemorySignals, RedisSignals, SignalStore
from aupguard.traffic.sources import TrafficSignals

__all__ = ["build_screener", "consent_source", "traffic_stores"]


def traffic_stores(settings: Settings) -> tuple[CounterStore, SignalStore]:
    """Counters and signal windows: in Redis when a URL is set, else in memory."""
    if settings.redis_url:
        client = redis.Redis.from_url(settings.redis_url)
        return (
            RedisCounters(client, settings.redis_prefix),
            RedisSignals(client, settings.redis_prefix),
        )
    return MemoryCounters(), MemorySignals()


def consent_source(database: Database | None) -> ConsentSource:
    """The consent ledger and do-not-call lists of `database` (in memory without one)."""
    if database is None:
        return ConsentSource(MemoryConsentStore(), MemoryDncStore())
    from aupguard.consent.sql import SqlConsentStore, SqlDncStore

    return ConsentSource(SqlConsentStore(database), SqlDncStore(database))


def build_screener(
    settings: Settings,
    engine: Engine,
    database: Database | None,
    *,
    sources: Sequence[StateSource] = (),
    steps: Sequence[AfterDecision] = (),
    own_consent: bool = True,
) -> Screener:
    """The send-path pipeline for `settings`; `sources` and `steps` are added to it.
    `own_consent=False`: `sources` bring the consent source (the HTTP services share
    one ledger between their endpoints), so none is built on `database`."""
    counters, signals = traffic_stores(settings)
    chosen: list[StateSource] = []
    if settings.sender_registry == "enforce":
        from aupguard.identity.registry import MemorySenderRegistry
        from aupguard.identity.service import SenderSource
        from aupguard.identity.sql import SqlSenderRegistry

        registry = SqlSenderRegistry(database) if database else MemorySenderRegistry()
        chosen.append(SenderSource(registry))
    if own_consent:
        chosen.append(consent_source(database))
    consent_signals = ConsentSignals(signals)
    chosen.append(TrafficSignals(engine, signals))
    chosen.append(consent_signals)
    chosen.extend(sources)
    # the same-subject count is taken after the limits: only what goes out counts
    return Screener(engine, chosen, [LimitStep(engine, counters), consent_signals, *steps])
