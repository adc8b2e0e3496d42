"""What the HTTP adapter works with: settings, engine, screening pipeline, key
manager, database, and the components other domains add.

A domain that needs its own store in its routes writes a *component factory*,
a function ``(Services) -> T``, and asks for it with ``services.component(f)``;
the first call builds it (from ``services.database`` for the SQL store, or an
in-memory one when there is no database) and later calls return the same
object. Tests put a ready object in place with ``services.provide(f, value)``.
No edits to this file are needed to add a domain.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from sqlalchemy import text

from aupguard.api.keys import KeyManager, KeyStore, MemoryKeyStore
from aupguard.config import Settings
from aupguard.engine.facade import Engine
from aupguard.service.screening import Screener, StateSource
from aupguard.store.db import Database
from aupguard.store.migrate import current_heads, script_heads

__all__ = ["Services", "build_services"]

T = TypeVar("T")


@dataclass
class Services:
    settings: Settings
    engine: Engine
    screener: Screener
    keys: KeyManager
    database: Database | None = None
    _components: dict[Callable[[Services], Any], Any] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def component(self, factory: Callable[[Services], T]) -> T:
        try:
            return cast(T, self._components[factory])
        except KeyError:
            with self._lock:
                if factory not in self._components:
                    self._components[factory] = factory(self)
                return cast(T, self._components[factory])

    def provide(self, factory: Callable[[Services], T], value: T) -> None:
        self._components[factory] = value

    def readiness(self) -> dict[str, str]:
        """Each dependency and "ok", or what is wrong with it."""
        checks: dict[str, str] = {}
        if self.database is not None:
            try:
                with self.database.engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
                missing = script_heads() - current_heads(self.database)
                checks["database"] = (
                    "ok"
                    if not missing
                    else "schema is behind this version of aupguard (run: aupguard db upgrade)"
                )
            except Exception as exc:  # the database is down or unreachable
                checks["database"] = f"unreachable: {type(exc).__name__}"
        checks["pack"] = "ok" if self.engine.pack.rules else "the pack has no rules"
        return checks

    def close(self) -> None:
        if self.database is not None:
            self.database.dispose()


def build_services(
    settings: Settings,
    *,
    engine: Engine | None = None,
    key_store: KeyStore | None = None,
    sources: Sequence[StateSource] | None = None,
) -> Services:
    """Services from settings: the SQL key store on `settings.database_url`, unless
    a key store is given (``database_url=""`` with no key store: all in memory).
    `sources` are the screening pipeline's state sources; by default the consent
    ledger and do-not-call lists and the account's standing, on the same database."""
    database = Database(settings.database_url) if settings.database_url else None
    if key_store is None:
        if database is not None:
            from aupguard.api.keys_sql import SqlKeyStore

            key_store = SqlKeyStore(database)
        else:
            key_store = MemoryKeyStore()
    pepper = settings.key_pepper.get_secret_value().encode() if settings.key_pepper else b""
    engine = engine or Engine.from_pack(settings.pack)
    services = Services(
        settings=settings,
        engine=engine,
        screener=Screener(engine, sources=sources or ()),
        keys=KeyManager(key_store, pepper, cache_seconds=settings.key_cache_seconds),
        database=database,
    )
    if sources is None:
        services.screener = Screener(engine, sources=default_sources(services))
    return services


def default_sources(services: Services) -> list[StateSource]:
    """What the gateway reads before judging an event: consent and do-not-call (fail
    closed, P28 P15) and the account's standing (fail closed, W11 V12)."""
    from aupguard.api.routes.enforcement import enforcement
    from aupguard.api.routes.inbound import consent_ledger
    from aupguard.consent.source import ConsentSource
    from aupguard.enforcement.sources import StandingSource

    return [
        ConsentSource(*services.component(consent_ledger)),
        StandingSource(services.component(enforcement)),
    ]
