"""The detector and dataset registries.

A detector is a small typed function of the evaluation context. It is
registered once, by name, with the type of value it returns, the event kinds it
understands, a relative cost, and optionally a *gate*: an RE2 pattern over the
normalised text that must match before the detector is worth running (a link
detector gated on anything URL-like, a card-number detector on runs of digits).
Gates join the pack's lexicon set, so they cost nothing extra per message.

A dataset is a named, dated block of reference data in a pack (quiet hours,
carrier limits, emergency numbers...). Each is validated by the pydantic model
registered for its name, and may be prepared once into a runtime structure.

Pack rules name detectors and datasets; the compiler checks them against these
registries when a pack loads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel

from aupguard.engine.events import EventKind

if TYPE_CHECKING:
    from aupguard.engine.context import Context
    from aupguard.engine.decision import Evidence

__all__ = [
    "DATASETS",
    "DETECTORS",
    "EXPLAINERS",
    "FACETS",
    "MEDIA",
    "DatasetSpec",
    "Derived",
    "DetectorSpec",
    "ValueType",
    "dataset",
    "detector",
    "explainer",
]


class ValueType(StrEnum):
    BOOL = "bool"
    NUMBER = "number"
    TEXT = "text"
    LABELS = "labels"


ALL_EVENTS = frozenset(EventKind)
MEDIA = "media"
FACETS = frozenset({MEDIA})
"""Facets of an event the rule index knows: `media` (the event carries attachments). A
detector that `needs` a facet returns its default without it, so the index can leave
out, for events without the facet, rules that cannot fire then."""
TEXT_EVENTS = frozenset({EventKind.MESSAGE, EventKind.INBOUND})

DetectorFn = Callable[["Context"], Any]
F = TypeVar("F", bound=DetectorFn)


@dataclass(frozen=True, slots=True)
class DetectorSpec:
    name: str
    fn: DetectorFn
    output: ValueType
    events: frozenset[EventKind]
    cost: int
    description: str
    gate: str | None
    default: Any
    score: bool
    needs: frozenset[str] = frozenset()
    """Event facets without which the detector only returns its default (see FACETS)."""

    @property
    def gate_lexicon(self) -> str:
        return f"gate:{self.name}"


DETECTORS: dict[str, DetectorSpec] = {}

_DEFAULTS = {
    ValueType.BOOL: False,
    ValueType.NUMBER: 0.0,
    ValueType.TEXT: "",
    ValueType.LABELS: frozenset(),
}


def detector(
    name: str,
    *,
    output: ValueType,
    events: frozenset[EventKind] = TEXT_EVENTS,
    cost: int = 1,
    gate: str | None = None,
    default: Any = None,
    score: bool = False,
    needs: frozenset[str] = frozenset(),
) -> Callable[[F], F]:
    """Register a detector function under `name` (decorator).

    `default` is the value when the gate did not match (or the event has no
    text); it defaults to the neutral value of the output type. `score=True`
    records the (numeric) value in `Decision.scores` whenever it is computed.
    """

    def register(fn: F) -> F:
        if name in DETECTORS and DETECTORS[name].fn is not fn:
            raise ValueError(f"detector {name!r} is registered twice")
        DETECTORS[name] = DetectorSpec(
            name=name,
            fn=fn,
            output=output,
            events=events,
            cost=cost,
            description=(fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else "",
            gate=gate,
            default=_DEFAULTS[output] if default is None else default,
            score=score,
            needs=needs,
        )
        return fn

    return register


ExplainFn = Callable[["Context"], "list[Evidence]"]
EXPLAINERS: dict[str, ExplainFn] = {}


def explainer(*names: str) -> Callable[[ExplainFn], ExplainFn]:
    """Register the function that finds evidence for detectors `names` (decorator).

    It runs only when a rule citing one of them fires, so a detector can stay
    cheap on the hot path and locate its evidence (spans in the raw text) later.
    """

    def register(fn: ExplainFn) -> ExplainFn:
        for name in names:
            EXPLAINERS[name] = fn
        return fn

    return register


@dataclass(frozen=True, slots=True)
class DatasetSpec:
    name: str
    model: type[BaseModel]
    prepare: Callable[[Any], Any] | None
    description: str


DATASETS: dict[str, DatasetSpec] = {}


def dataset(
    name: str,
    model: type[BaseModel],
    *,
    prepare: Callable[[Any], Any] | None = None,
    description: str = "",
) -> None:
    """Register the schema (and optional preparation) of a pack dataset."""
    if name in DATASETS and DATASETS[name].model is not model:
        raise ValueError(f"dataset {name!r} is registered twice")
    DATASETS[name] = DatasetSpec(name, model, prepare, description)


def load_builtin_detectors() -> Mapping[str, DetectorSpec]:
    """Import the built-in detector modules (which register themselves)."""
    import aupguard.detectors  # noqa: F401

    return DETECTORS


S = TypeVar("S")
D = TypeVar("D")


class Derived(Generic[S, D]):
    """A structure built from a piece of pack data, kept per data object (compared by
    identity, so a reloaded pack gets its own): `derived(data)` builds it once."""

    def __init__(self, build: Callable[[S], D], keep: int = 32) -> None:
        self._build = build
        self._keep = keep
        self._made: dict[int, tuple[S, D]] = {}

    def __call__(self, source: S) -> D:
        made = self._made.get(id(source))
        if made is None or made[0] is not source:
            if len(self._made) >= self._keep:
                self._made.clear()
            made = (source, self._build(source))
            self._made[id(source)] = made
        return made[1]
