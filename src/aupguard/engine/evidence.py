"""Evidence for a fired rule: what each cited lexicon, detector or value showed.

Only runs when a rule fires, so it may do the slower work of locating matches
in the raw text. Sensitive matches are redacted: the decision keeps their
position and shape, never their content.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from aupguard.engine.conditions import Source
from aupguard.engine.context import Context
from aupguard.engine.decision import Evidence
from aupguard.engine.registry import EXPLAINERS

__all__ = ["gather_evidence", "redact"]

_MAX_EXCERPT = 120
_MAX_SPANS = 5
_NEUTRAL: tuple[Any, ...] = (None, False, 0, 0.0, "", frozenset())


def redact(text: str) -> str:
    """Keep the shape of a sensitive excerpt, not its content."""
    digits = [c for c in text if c.isdigit()]
    if len(digits) >= 6:
        return f"[redacted, {len(text)} chars, ends {''.join(digits[-4:])}]"
    return f"[redacted, {len(text)} chars]"


def _excerpt(raw: str, start: int, end: int) -> str:
    piece = raw[start:end]
    return piece if len(piece) <= _MAX_EXCERPT else piece[: _MAX_EXCERPT - 3] + "..."


def _label(value: Any) -> str:
    if isinstance(value, frozenset | set | tuple | list):
        return ",".join(sorted(str(v) for v in value))
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _lexicon_evidence(ctx: Context, name: str) -> list[Evidence]:
    offsets = ctx.offsets
    spans, _ = ctx.spans(name)
    sensitive = name in ctx.pack.lexicons.sensitive
    out = []
    for span in spans[:_MAX_SPANS]:
        start, end = offsets.source_span(span.start, span.end)
        excerpt = _excerpt(ctx.raw, start, end)
        out.append(
            Evidence(
                source=f"lexicon:{name}",
                label="[redacted]" if sensitive else span.label,
                field="body",
                start=start,
                end=end,
                excerpt=redact(excerpt) if sensitive else excerpt,
            )
        )
    return out or [Evidence(source=f"lexicon:{name}", label=name, field="body")]


def _detector_evidence(ctx: Context, name: str) -> list[Evidence]:
    found = ctx.evidence.get(name)
    if found:
        return found
    value = ctx.memo.get(name)
    explain = EXPLAINERS.get(name)
    if explain is not None and value not in _NEUTRAL:
        found = explain(ctx)
        ctx.evidence[name] = found
        if found:
            return found
    if name in ctx.memo and value not in _NEUTRAL:
        return [Evidence(name, _label(value), field="")]
    return []


def gather_evidence(ctx: Context, sources: tuple[Source, ...]) -> tuple[Evidence, ...]:
    """Evidence from every source a rule cited that showed something."""
    items: list[Evidence] = []
    for source in sources:
        if source.kind == "lexicon":
            if source.name in ctx.lexicons:
                items.extend(_lexicon_evidence(ctx, source.name))
        elif source.kind == "detector":
            items.extend(_detector_evidence(ctx, source.name))
        elif source.getter is not None:
            items.append(
                Evidence(f"{source.kind}.{source.name}", _label(source.getter(ctx)), field="")
            )
    return tuple(dict.fromkeys(items))
