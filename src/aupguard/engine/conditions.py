"""Compile rule conditions (the ``when`` of a rule) into Python closures.

A condition is a mapping with exactly one subject:

    all: [cond, ...]          every one holds (checked cheapest first)
    any: [cond, ...]          at least one holds
    not: cond                 it does not hold
    lexicon: name             a term of the lexicon matched (`min: n` distinct terms)
    detector: name            compared with operators, below
    event: field              a field of the event (``metadata.<key>`` for metadata)
    state: path               a path into the state snapshot (``signals.<name>``)

Operators, checked against the type of the subject when the pack loads:
``is`` (bool), ``eq``/``ne`` (bool, number, text), ``in``/``not_in`` (number,
text), ``gt``/``gte``/``lt``/``lte`` (number), ``contains``/``any_of``/``all_of``/
``none_of`` (labels), ``exists`` (any). Without an operator a bool or labels
subject is true when set or non-empty. Several operators in one mapping must
all hold.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pydantic import BaseModel

from aupguard.engine.context import Context
from aupguard.engine.events import EVENT_MODELS
from aupguard.engine.registry import DetectorSpec, ValueType
from aupguard.engine.state import State
from aupguard.policy.model import RuleSpec
from aupguard.policy.yamlsource import LineList

__all__ = ["CompileError", "CompiledCondition", "Cond", "ConditionCompiler", "Getter", "Source"]

Cond = Callable[[Context], bool]
Getter = Callable[[Context], Any]

_OPERATORS: dict[str, frozenset[ValueType]] = {
    "is": frozenset({ValueType.BOOL}),
    "eq": frozenset({ValueType.BOOL, ValueType.NUMBER, ValueType.TEXT}),
    "ne": frozenset({ValueType.BOOL, ValueType.NUMBER, ValueType.TEXT}),
    "in": frozenset({ValueType.NUMBER, ValueType.TEXT}),
    "not_in": frozenset({ValueType.NUMBER, ValueType.TEXT}),
    "gt": frozenset({ValueType.NUMBER}),
    "gte": frozenset({ValueType.NUMBER}),
    "lt": frozenset({ValueType.NUMBER}),
    "lte": frozenset({ValueType.NUMBER}),
    "contains": frozenset({ValueType.LABELS}),
    "any_of": frozenset({ValueType.LABELS}),
    "all_of": frozenset({ValueType.LABELS}),
    "none_of": frozenset({ValueType.LABELS}),
    "exists": frozenset(ValueType),
}
_SUBJECTS = ("all", "any", "not", "lexicon", "detector", "event", "state")
_MISSING = object()


class CompileError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass(frozen=True, slots=True)
class Source:
    """Something a rule looked at, cited as evidence when the rule fires."""

    kind: str  # lexicon | detector | event | state
    name: str
    getter: Getter | None = None


@dataclass(frozen=True, slots=True)
class CompiledCondition:
    """A compiled condition and what the rule index needs to know about it.

    `triggers`: lexicons of which at least one must match for it to hold (None:
    no such constraint). `categories`: message categories it can hold for (None:
    any). `state_checks`: conjuncts that read only the state; when one is false
    for the empty state, the rule cannot fire unless stored state is passed.
    """

    fn: Cond
    sources: tuple[Source, ...] = ()
    cost: int = 0
    triggers: frozenset[str] | None = None
    categories: frozenset[str] | None = None
    state_checks: tuple[Cond, ...] = ()
    state_only: bool = False
    needs: frozenset[str] = frozenset()
    """Event facets it cannot hold without (all of them)."""


@dataclass(frozen=True, slots=True)
class _Typed:
    type: ValueType
    choices: tuple[str, ...] | None = None


def _annotation_type(annotation: Any) -> _Typed | None:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        return _annotation_type(rest[0]) if len(rest) == 1 else None
    if origin is typing.Annotated:
        return _annotation_type(args[0])
    if origin is typing.Literal:
        if all(isinstance(a, str) for a in args):
            return _Typed(ValueType.TEXT, tuple(str(a) for a in args))
        return None
    if origin in (tuple, frozenset, set, list) and args and args[0] is str:
        return _Typed(ValueType.LABELS)
    if annotation is bool:
        return _Typed(ValueType.BOOL)
    if annotation in (int, float):
        return _Typed(ValueType.NUMBER)
    if annotation is str:
        return _Typed(ValueType.TEXT)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return _Typed(ValueType.TEXT, tuple(str(m.value) for m in annotation))
    return None


def _model_fields(model: type[BaseModel]) -> dict[str, tuple[str, Any]]:
    """Field name (and alias) -> (attribute name, annotation)."""
    out: dict[str, tuple[str, Any]] = {}
    for name, info in model.model_fields.items():
        out[name] = (name, info.annotation)
        if info.alias:
            out[info.alias] = (name, info.annotation)
    return out


def _attr_chain(parts: list[str]) -> Getter:
    if len(parts) == 1:
        a = parts[0]
        return lambda c: getattr(c.state, a)
    if len(parts) == 2:
        a, b = parts
        return lambda c: getattr(getattr(c.state, a), b)

    def get(c: Context) -> Any:
        value: Any = c.state
        for part in parts:
            value = getattr(value, part)
        return value

    return get


class _Defaults:
    """A stand-in context whose memo holds one detector's default value."""

    __slots__ = ("memo",)

    def __init__(self, name: str, value: Any) -> None:
        self.memo = {name: value}


def _holds_on(fn: Cond, name: str, value: Any) -> bool:
    return bool(fn(_Defaults(name, value)))  # type: ignore[arg-type]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class ConditionCompiler:
    """Compiles the conditions of rules against a pack's lexicons and the detectors."""

    def __init__(self, lexicons: Mapping[str, Any], detectors: Mapping[str, DetectorSpec]) -> None:
        self.lexicons = lexicons
        self.detectors = detectors

    def compile(self, node: Any, rule: RuleSpec, line: int) -> CompiledCondition:
        if not isinstance(node, dict):
            raise CompileError(line, f"a condition must be a mapping, not {type(node).__name__}")
        line = getattr(node, "line", line)
        subjects = [k for k in node if k in _SUBJECTS]
        if len(subjects) != 1:
            found = ", ".join(subjects) or "none"
            raise CompileError(
                line, f"a condition needs exactly one of {', '.join(_SUBJECTS)} (found: {found})"
            )
        subject = subjects[0]
        ops = {k: v for k, v in node.items() if k != subject}
        if subject in ("all", "any", "not") and ops:
            raise CompileError(line, f"`{subject}` takes no operator (found {', '.join(ops)})")
        value = node[subject]
        if subject == "all":
            return self._all(self._parts("all", value, rule, line))
        if subject == "any":
            return self._any(self._parts("any", value, rule, line))
        if subject == "not":
            return self._not(self.compile(value, rule, line))
        if subject == "lexicon":
            return self._lexicon(value, ops, line)
        if subject == "detector":
            return self._detector(value, ops, rule, line)
        if subject == "event":
            return self._event(value, ops, rule, line)
        return self._state(value, ops, line)

    def retry_after(self, node: Any, line: int) -> Getter | None:
        """retry_after: seconds, ``{detector: name}`` or ``{state: path}`` (a number)."""
        if node is None:
            return None
        if _is_number(node):
            seconds = float(node)
            if seconds < 0:
                raise CompileError(line, "retry_after cannot be negative")
            return lambda c: seconds
        if isinstance(node, dict) and len(node) == 1:
            if "detector" in node:
                name = node["detector"]
                spec = self.detectors.get(name) if isinstance(name, str) else None
                if spec is None:
                    raise CompileError(line, f"retry_after: unknown detector {name!r}")
                if spec.output is not ValueType.NUMBER:
                    raise CompileError(line, f"retry_after: detector {name!r} is not a number")
                return lambda c: c.get(name)
            if "state" in node and isinstance(node["state"], str):
                getter, typed = self._state_path(node["state"], line)
                if typed.type is not ValueType.NUMBER:
                    raise CompileError(
                        line, f"retry_after: state {node['state']!r} is not a number"
                    )
                return getter
        raise CompileError(line, "retry_after is seconds, {detector: name} or {state: path}")

    # groups

    def _parts(self, kind: str, items: Any, rule: RuleSpec, line: int) -> list[CompiledCondition]:
        if not isinstance(items, list) or not items:
            raise CompileError(line, f"`{kind}` needs a non-empty list of conditions")
        return [
            self.compile(item, rule, items.line_of(i) if isinstance(items, LineList) else line)
            for i, item in enumerate(items)
        ]

    @staticmethod
    def _all(parts: list[CompiledCondition]) -> CompiledCondition:
        parts = sorted(parts, key=lambda p: p.cost)  # cheapest first; stops at the first false
        fns = tuple(p.fn for p in parts)
        if len(fns) == 1:
            fn = fns[0]
        elif len(fns) == 2:
            a, b = fns
            fn = lambda c: a(c) and b(c)  # noqa: E731
        else:
            fn = lambda c: all(f(c) for f in fns)  # noqa: E731
        triggers = min((p.triggers for p in parts if p.triggers is not None), key=len, default=None)
        categories: frozenset[str] | None = None
        for p in parts:
            if p.categories is not None:
                categories = p.categories if categories is None else categories & p.categories
        return CompiledCondition(
            fn,
            tuple(x for p in parts for x in p.sources),
            sum(p.cost for p in parts),
            triggers,
            categories,
            tuple(x for p in parts for x in p.state_checks),
            all(p.state_only for p in parts),
            frozenset().union(*(p.needs for p in parts)),
        )

    @staticmethod
    def _any(parts: list[CompiledCondition]) -> CompiledCondition:
        fns = tuple(p.fn for p in parts)
        fn: Cond = lambda c: any(f(c) for f in fns)  # noqa: E731
        triggers: frozenset[str] | None = None
        if all(p.triggers is not None for p in parts):
            triggers = frozenset(t for p in parts for t in p.triggers or ())
        categories: frozenset[str] | None = None
        if all(p.categories is not None for p in parts):
            categories = frozenset(c for p in parts for c in p.categories or ())
        state_only = all(p.state_only for p in parts)
        return CompiledCondition(
            fn,
            tuple(x for p in parts for x in p.sources),
            sum(p.cost for p in parts),
            triggers,
            categories,
            (fn,) if state_only else (),
            state_only,
            frozenset.intersection(*(p.needs for p in parts)),
        )

    @staticmethod
    def _not(inner: CompiledCondition) -> CompiledCondition:
        fn = inner.fn
        negated: Cond = lambda c: not fn(c)  # noqa: E731
        checks = (negated,) if inner.state_only else ()
        # what a negated condition looked at is not evidence of the rule firing
        return CompiledCondition(
            negated, (), inner.cost, state_checks=checks, state_only=inner.state_only
        )

    # subjects

    def _lexicon(self, name: Any, ops: dict[str, Any], line: int) -> CompiledCondition:
        if not isinstance(name, str) or name not in self.lexicons:
            raise CompileError(line, f"unknown lexicon {name!r}")
        unknown = set(ops) - {"min"}
        if unknown:
            raise CompileError(
                line, f"a lexicon condition only takes `min` (found {', '.join(sorted(unknown))})"
            )
        least = ops.get("min", 1)
        if not _is_number(least) or not float(least).is_integer() or least < 1:
            raise CompileError(line, "`min` must be a whole number of at least 1")
        if least == 1:
            fn: Cond = lambda c: name in c.lexicons  # noqa: E731
        else:
            fn = lambda c: c.lexicons.get(name, 0) >= least  # noqa: E731
        return CompiledCondition(fn, (Source("lexicon", name),), 0, frozenset({name}))

    def _detector(
        self, name: Any, ops: dict[str, Any], rule: RuleSpec, line: int
    ) -> CompiledCondition:
        spec = self.detectors.get(name) if isinstance(name, str) else None
        if spec is None:
            raise CompileError(line, f"unknown detector {name!r}")
        unsupported = set(rule.events) - spec.events
        if unsupported:
            kinds = ", ".join(sorted(k.value for k in unsupported))
            raise CompileError(line, f"detector {name!r} does not apply to {kinds} events")

        def getter(c: Context, missing: object = _MISSING) -> Any:
            value = c.memo.get(name, missing)
            return c.compute(spec) if value is missing else value

        fn = self._compare(f"detector {name!r}", _Typed(spec.output), getter, ops, line)
        triggers = frozenset({spec.gate_lexicon}) if spec.gate else None
        # a detector without its facet returns its default: the condition is then only
        # impossible if it is false on the default value
        needs = spec.needs if spec.needs and not _holds_on(fn, name, spec.default) else frozenset()
        return CompiledCondition(fn, (Source("detector", name),), spec.cost, triggers, needs=needs)

    def _event(
        self, path: Any, ops: dict[str, Any], rule: RuleSpec, line: int
    ) -> CompiledCondition:
        if not isinstance(path, str) or not path:
            raise CompileError(line, "`event` names a field of the event")
        head, _, key = path.partition(".")
        if head == "metadata" and key:
            getter: Getter = lambda c: c.event.metadata.get(key, "")  # noqa: E731
            typed = _Typed(ValueType.TEXT)
        else:
            getter, typed = self._event_field(path, rule, line)
        fn = self._compare(f"event.{path}", typed, getter, ops, line)
        categories = None
        if path == "category" and set(ops) <= {"eq", "in"}:
            values = [ops["eq"]] if "eq" in ops else list(ops.get("in", []))
            categories = frozenset(str(v) for v in values)
        return CompiledCondition(fn, (Source("event", path, getter),), 0, categories=categories)

    @staticmethod
    def _event_field(path: str, rule: RuleSpec, line: int) -> tuple[Getter, _Typed]:
        attrs: dict[str, str] = {}
        seen: set[_Typed] = set()
        for kind in rule.events:
            fields = _model_fields(EVENT_MODELS[kind])
            if path not in fields:
                raise CompileError(line, f"{kind.value} events have no field {path!r}")
            attr, annotation = fields[path]
            typed = _annotation_type(annotation)
            if typed is None:
                raise CompileError(line, f"event field {path!r} cannot be compared in a rule")
            attrs[kind.value] = attr
            seen.add(typed)
        if len({t.type for t in seen}) != 1:
            raise CompileError(
                line, f"event field {path!r} has different types across the rule's events"
            )
        names = set(attrs.values())
        if len(names) == 1:
            attr_name = names.pop()
            return (lambda c: getattr(c.event, attr_name)), next(iter(seen))
        return (lambda c: getattr(c.event, attrs[c.event.kind])), next(iter(seen))

    def _state(self, path: Any, ops: dict[str, Any], line: int) -> CompiledCondition:
        if not isinstance(path, str) or not path:
            raise CompileError(line, "`state` names a path into the state, e.g. consent.status")
        getter, typed = self._state_path(path, line)
        fn = self._compare(f"state.{path}", typed, getter, ops, line)
        return CompiledCondition(
            fn, (Source("state", path, getter),), 0, state_checks=(fn,), state_only=True
        )

    @staticmethod
    def _state_path(path: str, line: int) -> tuple[Getter, _Typed]:
        parts = path.split(".")
        if parts[0] == "signals":
            if len(parts) != 2 or not parts[1]:
                raise CompileError(line, "state signals are named signals.<name>")
            signal = parts[1]
            return (lambda c: c.state.signals.get(signal, 0.0)), _Typed(ValueType.NUMBER)
        model: type[BaseModel] = State
        for i, part in enumerate(parts):
            fields = _model_fields(model)
            if part not in fields:
                known = ", ".join(sorted(model.model_fields))
                raise CompileError(
                    line, f"state has no {'.'.join(parts[: i + 1])!r} (known here: {known})"
                )
            annotation = fields[part][1]
            if i == len(parts) - 1:
                typed = _annotation_type(annotation)
                if typed is None:
                    raise CompileError(line, f"state {path!r} cannot be compared in a rule")
                return _attr_chain(parts), typed
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                raise CompileError(line, f"state path {path!r} goes past a value")
            model = annotation
        raise CompileError(line, "state path is empty")  # pragma: no cover - split never yields []

    # comparisons

    def _compare(
        self, what: str, typed: _Typed, get: Getter, ops: dict[str, Any], line: int
    ) -> Cond:
        if not ops:
            if typed.type in (ValueType.BOOL, ValueType.LABELS):
                return lambda c: bool(get(c))
            raise CompileError(
                line, f"{what} is {typed.type.value}: say how to compare it (e.g. gte, eq, in)"
            )
        checks: list[Cond] = []
        for op, value in ops.items():
            allowed = _OPERATORS.get(op)
            if allowed is None:
                raise CompileError(
                    line, f"unknown operator {op!r} (known: {', '.join(_OPERATORS)})"
                )
            if typed.type not in allowed:
                need = " or ".join(sorted(t.value for t in allowed))
                raise CompileError(
                    line, f"{what} is {typed.type.value}; operator {op!r} needs {need}"
                )
            checks.append(_check(what, typed, get, op, value, line))
        if len(checks) == 1:
            return checks[0]
        first, *rest = checks
        return lambda c: first(c) and all(f(c) for f in rest)


def _check(what: str, typed: _Typed, get: Getter, op: str, value: Any, line: int) -> Cond:
    def fail(expected: str) -> CompileError:
        return CompileError(line, f"{what} {op}: expected {expected}, got {value!r}")

    def choice(v: Any) -> None:
        if typed.choices is not None and v not in typed.choices:
            raise CompileError(line, f"{what}: {v!r} is not one of {', '.join(typed.choices)}")

    if op in ("exists", "is"):
        if not isinstance(value, bool):
            raise fail("true or false")
        if op == "exists":
            return (lambda c: get(c) is not None) if value else (lambda c: get(c) is None)
        return (lambda c: get(c) is True) if value else (lambda c: not get(c))
    if op in ("eq", "ne"):
        if typed.type is ValueType.BOOL and not isinstance(value, bool):
            raise fail("true or false")
        if typed.type is ValueType.NUMBER and not _is_number(value):
            raise fail("a number")
        if typed.type is ValueType.TEXT:
            if not isinstance(value, str):
                raise fail("text")
            choice(value)
        return (lambda c: get(c) == value) if op == "eq" else (lambda c: get(c) != value)
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise fail("a non-empty list")
        for v in value:
            if typed.type is ValueType.TEXT:
                if not isinstance(v, str):
                    raise fail("a list of text")
                choice(v)
            elif not _is_number(v):
                raise fail("a list of numbers")
        members = frozenset(value)
        return (lambda c: get(c) in members) if op == "in" else (lambda c: get(c) not in members)
    if op in ("gt", "gte", "lt", "lte"):
        if not _is_number(value):
            raise fail("a number")
        bound = float(value)
        comparisons: dict[str, Cond] = {
            "gt": lambda c: (v := get(c)) is not None and v > bound,
            "gte": lambda c: (v := get(c)) is not None and v >= bound,
            "lt": lambda c: (v := get(c)) is not None and v < bound,
            "lte": lambda c: (v := get(c)) is not None and v <= bound,
        }
        return comparisons[op]
    if op == "contains":
        if not isinstance(value, str):
            raise fail("text")
        return lambda c: value in get(c)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise fail("a non-empty list of text")
    members = frozenset(value)
    if op == "any_of":
        return lambda c: not members.isdisjoint(get(c))
    if op == "all_of":
        return lambda c: members <= frozenset(get(c))
    return lambda c: members.isdisjoint(get(c))
