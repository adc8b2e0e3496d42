"""Compile a pack source into what the evaluator runs.

Compilation happens once per pack version. It checks everything a rule names
(clauses, lexicons, detectors, datasets, event fields, state paths) and the
type of every comparison, and reports every problem with its file and line. It
turns conditions into closures (`engine.conditions`), builds the single RE2 set
of all lexicons and detector gates, and indexes the rules so that an event only
visits the rules that can fire for it: rules a lexicon gates are looked up by
the lexicons that matched, and the others are listed per event kind, channel
and category, with and without the ones that need stored state.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from aupguard.engine.conditions import (
    CompiledCondition,
    CompileError,
    Cond,
    ConditionCompiler,
    Getter,
    Source,
)
from aupguard.engine.context import Context
from aupguard.engine.decision import Action, Mode, RuleHit, Severity, Verdict
from aupguard.engine.events import EVENT_MODELS, AnyEvent, Channel, EventKind, MessageCategory
from aupguard.engine.evidence import gather_evidence
from aupguard.engine.lexicon import LexiconSet, LexiconSource
from aupguard.engine.re2util import PatternError, check_pattern
from aupguard.engine.registry import DATASETS, MEDIA, DetectorSpec, load_builtin_detectors
from aupguard.engine.state import EMPTY_STATE, State
from aupguard.policy.loader import Located, Origin, PackError, PackLoadError, PackSource
from aupguard.policy.model import (
    ClauseSpec,
    ContractualSpec,
    DatasetBlock,
    MechanismSpec,
    PlannedSpec,
    RuleSpec,
)
from aupguard.policy.yamlsource import LineDict, LineList

__all__ = ["CompiledExample", "CompiledPack", "CompiledRule", "KindIndex", "compile_pack"]

EXAMPLE_TIME = datetime(2026, 6, 2, 18, 0, tzinfo=UTC)
"""When a pack example happens unless it says otherwise: a Tuesday, 14:00 in New York."""

_EXAMPLE_DEFAULTS: dict[EventKind, dict[str, Any]] = {
    EventKind.MESSAGE: {"from": "+12025550143", "to": "+14155550123", "account": "example"},
    EventKind.INBOUND: {"from": "+14155550123", "to": "+12025550143", "account": "example"},
    EventKind.CALL: {"from": "+12025550143", "to": "+14155550123", "account": "example"},
    EventKind.CDR: {"from": "+12025550143", "to": "+14155550123", "account": "example"},
    EventKind.API_REQUEST: {"method": "GET", "path": "/v1/messages", "account": "example"},
    EventKind.SIGNUP: {"email": "ops@example.com", "account": "example"},
}


@dataclass(frozen=True, slots=True)
class CompiledExample:
    rule: str
    name: str
    event: AnyEvent
    state: State
    at: datetime
    fires: bool
    verdict: Verdict | None
    origin: Origin


@dataclass(frozen=True, slots=True)
class CompiledRule:
    id: str
    title: str
    clauses: tuple[str, ...]
    events: frozenset[EventKind]
    channels: frozenset[Channel] | None
    cond: Cond
    action: Action
    severity: Severity
    mode: Mode
    effective: datetime | None
    until: datetime | None
    retry_after: Getter | None
    code: int | None
    tags: tuple[str, ...]
    sources: tuple[Source, ...]
    triggers: frozenset[str] | None
    categories: frozenset[str] | None
    needs_state: bool
    needs: frozenset[str]
    origin: Origin
    order: int
    spec: RuleSpec
    examples: tuple[CompiledExample, ...] = ()

    def hit(self, ctx: Context) -> RuleHit:
        retry: float | None = None
        if self.retry_after is not None:
            value = self.retry_after(ctx)
            retry = max(0.0, float(value)) if value is not None else None
        sources = self.sources
        return RuleHit(
            self.id,
            self.title,
            self.action,
            self.clauses,
            self.severity,
            self.mode,
            retry_after=retry,
            code=self.code,
            tags=self.tags,
            pending=lambda: gather_evidence(ctx, sources),
        )


_Key = tuple[str | None, str | None, bool]
"""(channel, category, whether the event has media)."""


@dataclass(frozen=True, slots=True)
class KindIndex:
    """The rules of one event kind, arranged so that an event visits only those that can fire.

    Rules no lexicon gates are listed per (channel, category, has media): once
    for events judged with the empty state (rules that need stored state left
    out) and once for events with state. Lexicon-gated rules are looked up by
    the lexicons that matched.
    """

    empty: Mapping[_Key, tuple[CompiledRule, ...]]
    full: Mapping[_Key, tuple[CompiledRule, ...]]
    triggered: Mapping[str, tuple[CompiledRule, ...]]

    def candidates(
        self,
        channel: str | None,
        category: str | None,
        media: bool,
        stateful: bool,
        lexicons: Mapping[str, int],
    ) -> Sequence[CompiledRule]:
        base = (self.full if stateful else self.empty).get((channel, category, media), ())
        if not lexicons:
            return base
        extra = [
            r
            for name in lexicons
            for r in self.triggered.get(name, ())
            if _applies(r, (channel, category, media)) and (stateful or not r.needs_state)
        ]
        if not extra:
            return base
        merged = {r.order: r for r in (*base, *extra)}
        return [merged[k] for k in sorted(merged)]


_EMPTY_INDEX = KindIndex({}, {}, {})


def _applies(rule: CompiledRule, key: _Key) -> bool:
    channel, category, media = key
    if rule.channels is not None and channel not in rule.channels:
        return False
    if rule.categories is not None and category not in rule.categories:
        return False
    return media or MEDIA not in rule.needs


def _build_index(rules: Sequence[CompiledRule]) -> dict[str, KindIndex]:
    index: dict[str, KindIndex] = {}
    for kind in EventKind:
        kind_rules = [r for r in rules if kind in r.events]
        fields = EVENT_MODELS[kind].model_fields
        channels: list[str | None] = [c.value for c in Channel] if "channel" in fields else [None]
        categories: list[str | None] = (
            [c.value for c in MessageCategory] if "category" in fields else [None]
        )
        medias = [False, True] if "media" in fields else [False]
        always = [r for r in kind_rules if r.triggers is None]
        empty: dict[_Key, tuple[CompiledRule, ...]] = {}
        full: dict[_Key, tuple[CompiledRule, ...]] = {}
        for key in itertools.product(channels, categories, medias):
            fitting = tuple(r for r in always if _applies(r, key))
            full[key] = fitting
            empty[key] = tuple(r for r in fitting if not r.needs_state)
        triggered: dict[str, list[CompiledRule]] = {}
        for r in kind_rules:
            for name in r.triggers or ():
                triggered.setdefault(name, []).append(r)
        index[kind.value] = KindIndex(empty, full, {k: tuple(v) for k, v in triggered.items()})
    return index


@dataclass(frozen=True)
class CompiledPack:
    id: str
    version: str
    effective: date | None
    lineage: tuple[str, ...]
    rules: tuple[CompiledRule, ...]
    index: Mapping[str, KindIndex]
    lexicons: LexiconSet
    detectors: Mapping[str, DetectorSpec]
    data: Mapping[str, Any]
    datasets: Mapping[str, Located[DatasetBlock]]
    clauses: Mapping[str, Located[ClauseSpec]]
    mechanisms: Mapping[str, Located[MechanismSpec]]
    contractual: Mapping[str, Located[ContractualSpec]]
    planned: Mapping[str, Located[PlannedSpec]]
    score_detectors: tuple[str, ...]
    compile_seconds: float
    source: PackSource = field(repr=False)

    def kind_index(self, kind: str) -> KindIndex:
        return self.index.get(kind, _EMPTY_INDEX)

    def rule(self, rule_id: str) -> CompiledRule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    @property
    def examples(self) -> tuple[CompiledExample, ...]:
        return tuple(e for rule in self.rules for e in rule.examples)


class _EmptyStateContext:
    """Just enough of a context to evaluate state-only conditions on the empty state."""

    state = EMPTY_STATE


_EMPTY_CONTEXT: Any = _EmptyStateContext()


def _start_of(day: date | None) -> datetime | None:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) if day is not None else None


class _PackCompiler:
    def __init__(self, source: PackSource, detectors: Mapping[str, DetectorSpec]) -> None:
        self.source = source
        self.detectors = detectors
        self.conditions = ConditionCompiler(source.lexicons, detectors)
        self.errors: list[PackError] = list(source.problems)

    def error(
        self, origin: Origin, message: str, rule: str | None = None, line: int | None = None
    ) -> None:
        self.errors.append(PackError(origin.file, line or origin.line, message, rule))

    def rule(self, located: Located[RuleSpec], order: int) -> CompiledRule | None:
        spec = located.value
        raw = located.raw if isinstance(located.raw, LineDict) else None
        origin = located.origin

        def line_of(key: str) -> int:
            return raw.line_of(key) if raw is not None else origin.line

        ok = True
        for clause in spec.clauses:
            if clause not in self.source.clauses:
                self.error(
                    origin,
                    f"unknown clause id {clause!r} (not in the pack's clause catalogue)",
                    spec.id,
                    line_of("clauses"),
                )
                ok = False
        if spec.channels is not None and not set(spec.events) <= {
            EventKind.MESSAGE,
            EventKind.INBOUND,
        }:
            self.error(
                origin,
                "channels only apply to message and inbound events",
                spec.id,
                line_of("channels"),
            )
            ok = False
        try:
            cond: CompiledCondition = self.conditions.compile(spec.when, spec, line_of("when"))
            retry = self.conditions.retry_after(spec.retry_after, line_of("retry_after"))
        except CompileError as exc:
            self.error(origin, exc.message, spec.id, exc.line)
            return None
        if not ok:
            return None
        compiled = CompiledRule(
            id=spec.id,
            title=spec.title,
            clauses=tuple(spec.clauses),
            events=frozenset(spec.events),
            channels=frozenset(spec.channels) if spec.channels is not None else None,
            cond=cond.fn,
            action=spec.action,
            severity=spec.severity,
            mode=spec.mode,
            effective=_start_of(spec.effective),
            until=_start_of(spec.until),
            retry_after=retry,
            code=spec.code,
            tags=tuple(spec.tags),
            sources=tuple(dict.fromkeys(cond.sources)),
            triggers=cond.triggers,
            categories=cond.categories,
            needs_state=any(not check(_EMPTY_CONTEXT) for check in cond.state_checks),
            needs=cond.needs,
            origin=origin,
            order=order,
            spec=spec,
        )
        return replace(compiled, examples=self.examples(located))

    def examples(self, located: Located[RuleSpec]) -> tuple[CompiledExample, ...]:
        spec = located.value
        raw = located.raw.get("examples") if isinstance(located.raw, LineDict) else None
        out = []
        for i, example in enumerate(spec.examples):
            line = raw.line_of(i) if isinstance(raw, LineList) else located.origin.line
            kind = EventKind(example.event.get("kind", spec.events[0].value))
            at = example.at or EXAMPLE_TIME
            payload = {**_EXAMPLE_DEFAULTS[kind], "at": at, **example.event, "kind": kind.value}
            if example.repeat > 1 and isinstance(payload.get("body"), str):
                payload["body"] = payload["body"] * example.repeat
            if kind is EventKind.CDR:
                payload.setdefault("start", at)
                payload.setdefault("end", at + timedelta(seconds=60))
            try:
                event: Any = EVENT_MODELS[kind].model_validate(payload)
                state = State.model_validate(example.state)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                self.error(
                    located.origin, f"example {i + 1}: {where}: {first['msg']}", spec.id, line
                )
                continue
            name = example.name or f"#{i + 1}"
            out.append(
                CompiledExample(
                    spec.id,
                    f"{spec.id} {name}",
                    event,
                    state,
                    at,
                    example.fires,
                    example.verdict,
                    Origin(located.origin.file, line),
                )
            )
        return tuple(out)

    def data(self) -> dict[str, Any]:
        prepared: dict[str, Any] = {}
        for name, located in self.source.data.items():
            spec = DATASETS.get(name)
            if spec is None:
                known = ", ".join(sorted(DATASETS)) or "none"
                self.error(located.origin, f"unknown dataset {name!r} (known: {known})")
                continue
            try:
                model = spec.model.model_validate(located.value.values)
                prepared[name] = spec.prepare(model) if spec.prepare else model
            except ValidationError as exc:
                for err in exc.errors()[:10]:
                    where = ".".join(str(p) for p in err["loc"])
                    self.error(located.origin, f"data.{name}.values.{where}: {err['msg']}")
            except ValueError as exc:
                self.error(located.origin, f"data.{name}: {exc}")
        return prepared

    def lexicons(self) -> LexiconSet:
        sources = []
        for name, located in self.source.lexicons.items():
            spec = located.value
            reasons = [(p, check_pattern(p)) for p in spec.patterns]
            bad = [(p, r) for p, r in reasons if r is not None]
            for pattern, reason in bad:
                self.error(located.origin, f"lexicon {name!r}: pattern {pattern!r}: {reason}")
            if not bad:
                sources.append(
                    LexiconSource(
                        name, tuple(spec.terms), tuple(spec.patterns), spec.sensitive, spec.evasion
                    )
                )
        for detector in self.detectors.values():
            if detector.gate is not None:
                sources.append(LexiconSource(detector.gate_lexicon, patterns=(detector.gate,)))
        try:
            lexicons = LexiconSet(sources)
        except PatternError as exc:
            self.error(Origin(self.source.root, 1), f"lexicons: {exc}")
            return LexiconSet([])
        missing = lexicons.self_check()
        if missing:
            self.error(
                Origin(self.source.root, 1),
                f"the lexicon set misses its own terms: {', '.join(missing[:5])}",
            )
        return lexicons

    def coverage_entries(self) -> None:
        sections: tuple[tuple[str, Mapping[str, Located[Any]]], ...] = (
            ("mechanisms", self.source.mechanisms),
            ("contractual", self.source.contractual),
            ("planned", self.source.planned),
        )
        for section, table in sections:
            for key, located in table.items():
                clause_ids = located.value.clauses if section == "mechanisms" else [key]
                for clause in clause_ids:
                    if clause not in self.source.clauses:
                        self.error(located.origin, f"{section}: unknown clause id {clause!r}")


def compile_pack(
    source: PackSource, detectors: Mapping[str, DetectorSpec] | None = None
) -> CompiledPack:
    """Compile a loaded pack; raise PackLoadError listing every problem found."""
    started = time.perf_counter()
    registry = detectors if detectors is not None else load_builtin_detectors()
    compiler = _PackCompiler(source, registry)
    data = compiler.data()
    lexicons = compiler.lexicons()
    rules = [
        r
        for order, located in enumerate(source.rules.values())
        if (r := compiler.rule(located, order)) is not None
    ]
    compiler.coverage_entries()
    if compiler.errors:
        raise PackLoadError(compiler.errors)
    return CompiledPack(
        id=source.id,
        version=source.version,
        effective=source.effective,
        lineage=tuple(source.lineage),
        rules=tuple(rules),
        index=_build_index(rules),
        lexicons=lexicons,
        detectors=dict(registry),
        data=data,
        datasets=dict(source.data),
        clauses=dict(source.clauses),
        mechanisms=dict(source.mechanisms),
        contractual=dict(source.contractual),
        planned=dict(source.planned),
        score_detectors=tuple(name for name, spec in registry.items() if spec.score),
        compile_seconds=time.perf_counter() - started,
        source=source,
    )
