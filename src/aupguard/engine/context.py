"""The evaluation context: one event, its state, the time, and memoised detector values."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aupguard.engine.decision import Evidence
from aupguard.engine.events import AnyEvent
from aupguard.engine.lexicon import Span
from aupguard.engine.normalise import OffsetText, normalise, normalise_with_offsets, skeleton
from aupguard.engine.re2util import Utf8Text
from aupguard.engine.state import State

if TYPE_CHECKING:
    from aupguard.engine.compiler import CompiledPack
    from aupguard.engine.registry import DetectorSpec

__all__ = ["Context"]

_MISSING = object()


class Context:
    """Everything a detector may read while one event is evaluated.

    `text` and `skeleton` are the normalised views of the event's text, and
    `lexicons` what the pack's lexicon set found in them (lexicon name -> number
    of distinct terms). Detector values are computed on first use and memoised;
    evidence a detector finds is kept under its name for the rules that cite it.
    """

    __slots__ = (
        "_offsets",
        "_spans",
        "entries",
        "event",
        "evidence",
        "lexicons",
        "memo",
        "now",
        "pack",
        "raw",
        "skeleton",
        "state",
        "text",
    )

    def __init__(
        self, pack: CompiledPack, event: AnyEvent, state: State, now: datetime, raw: str
    ) -> None:
        self.pack = pack
        self.event = event
        self.state = state
        self.now = now
        self.raw = raw
        text = normalise(raw) if raw else ""
        skel = skeleton(text)  # the same object when there are no lookalikes
        self.text = text
        self.skeleton = skel
        lexicons = pack.lexicons
        self.entries = lexicons.match(text if skel is text else f"{text}\n{skel}")
        self.lexicons: Mapping[str, int] = lexicons.counts(self.entries)
        self.memo: dict[str, Any] = {}
        self.evidence: dict[str, list[Evidence]] = {}
        self._offsets: OffsetText | None = None
        self._spans: dict[str, tuple[list[Span], bool]] = {}

    def get(self, name: str) -> Any:
        """The value of detector `name` for this event (computed once)."""
        value = self.memo.get(name, _MISSING)
        if value is not _MISSING:
            return value
        return self.compute(self.pack.detectors[name])

    def compute(self, spec: DetectorSpec) -> Any:
        """Run a detector (its gate permitting) and remember the value."""
        if spec.gate is not None and spec.gate_lexicon not in self.lexicons:
            value = spec.default
        else:
            value = spec.fn(self)
        self.memo[spec.name] = value
        return value

    def data(self, name: str) -> Any:
        """The prepared dataset `name` of the pack."""
        return self.pack.data[name]

    def add_evidence(self, source: str, item: Evidence) -> None:
        self.evidence.setdefault(source, []).append(item)

    def spans(self, name: str) -> tuple[list[Span], bool]:
        """Where lexicon `name` matched, in the text view; or, when it only matched the
        skeleton view (homoglyphs), there and True. Offsets index `self.offsets`."""
        cached = self._spans.get(name)
        if cached is None:
            lexicons = self.pack.lexicons
            view = self.offsets.text
            found = lexicons.spans(name, Utf8Text(view), self.entries)
            in_skeleton = False
            if not found and self.skeleton is not self.text:
                found = lexicons.spans(name, Utf8Text(skeleton(view)), self.entries)
                in_skeleton = bool(found)
            cached = (found, in_skeleton)
            self._spans[name] = cached
        return cached

    @property
    def offsets(self) -> OffsetText:
        """The text view with raw offsets (computed on demand, for evidence)."""
        if self._offsets is None:
            self._offsets = normalise_with_offsets(self.raw)
        return self._offsets
