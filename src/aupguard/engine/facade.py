"""`Engine`: the in-process library API.

    from aupguard import Engine, OutboundMessage

    engine = Engine.from_pack()                       # the default pack
    decision = engine.screen(OutboundMessage(**{"from": "+12025550143",
                                                "to": "+14155550123",
                                                "body": "see you at 7"}))

An Engine holds one compiled pack. Screening only reads it, so any number of
threads may screen at once. `reload` compiles a new pack version off to the
side and swaps it in with a single reference assignment: calls already running
finish on the version they started with, later calls see the new one, and a
pack that fails to compile leaves the running one in place.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from aupguard.engine.compiler import CompiledPack, compile_pack
from aupguard.engine.decision import Decision
from aupguard.engine.evaluate import evaluate
from aupguard.engine.events import AnyEvent
from aupguard.engine.state import EMPTY_STATE, State
from aupguard.policy.loader import DEFAULT_PACK, load_source

__all__ = ["Engine"]


def _moment(when: datetime | None) -> datetime:
    """An aware datetime: naive times are taken as UTC; no time means now."""
    if when is None:
        return datetime.now(UTC)
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


class Engine:
    def __init__(self, pack: CompiledPack, ref: str | Path = DEFAULT_PACK) -> None:
        self._pack = pack
        self._ref = ref
        self._reload_lock = threading.Lock()

    @classmethod
    def from_pack(cls, ref: str | Path = DEFAULT_PACK) -> Engine:
        """Load and compile a pack (``default``, a pack file, or a folder holding pack.yaml)."""
        return cls(compile_pack(load_source(ref)), ref)

    @property
    def pack(self) -> CompiledPack:
        return self._pack

    def screen(
        self, event: AnyEvent, state: State | None = None, *, now: datetime | None = None
    ) -> Decision:
        """Judge one event. Time is `now`, else the event's own `at`, else the clock."""
        return evaluate(self._pack, event, state or EMPTY_STATE, _moment(now or event.at))

    def screen_many(
        self, events: Iterable[AnyEvent], state: State | None = None
    ) -> Iterator[Decision]:
        pack = self._pack  # one version for the whole batch
        base = state or EMPTY_STATE
        for event in events:
            yield evaluate(pack, event, base, _moment(event.at))

    def reload(self, ref: str | Path | None = None) -> CompiledPack:
        """Compile `ref` (default: the pack this engine was made from) and swap it in."""
        with self._reload_lock:
            target = ref if ref is not None else self._ref
            compiled = compile_pack(load_source(target))
            self._pack = compiled
            self._ref = target
            return compiled
