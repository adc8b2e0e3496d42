"""Helpers shared by commands: loading packs, reading events, printing decisions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.table import Table

from aupguard.cli.app import console, errors, fail
from aupguard.engine.decision import Decision, Verdict
from aupguard.engine.events import AnyEvent
from aupguard.engine.facade import Engine
from aupguard.engine.state import State
from aupguard.policy.loader import PackLoadError
from aupguard.readers import InputError, Record, read_events

DEFAULT_FROM = "+12025550143"
DEFAULT_TO = "+14155550123"
"""Numbers filled into messages that have none (fictional 555-01xx numbers)."""

VERDICT_STYLE = {
    Verdict.ALLOW: "bold green",
    Verdict.THROTTLE: "bold yellow",
    Verdict.HOLD: "bold dark_orange",
    Verdict.BLOCK: "bold red",
}


def load_engine(pack: str) -> Engine:
    try:
        return Engine.from_pack(pack)
    except PackLoadError as exc:
        for problem in exc.errors:
            errors.print(str(problem), soft_wrap=True, markup=False)
        fail(f"pack {pack!r} has {len(exc.errors)} problem(s)")


def load_state(value: str | None) -> State | None:
    """A state snapshot from inline JSON or a JSON file."""
    if value is None:
        return None
    text = value
    if not value.lstrip().startswith("{"):
        path = Path(value)
        if not path.is_file():
            fail(f"--state: {value!r} is neither JSON nor a file")
        text = path.read_text("utf-8")
    try:
        return State.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(document)"
        fail(f"--state: field {where!r}: {first['msg']}")


def iter_records(
    path: Path | None, fmt: str | None, quiet: bool = False
) -> Iterator[Record | InputError]:
    defaults = {"from": DEFAULT_FROM, "to": DEFAULT_TO}
    if path is not None and str(path) != "-":
        if not path.is_file():
            fail(f"{path}: no such file")
        source: Any = path
    else:
        import sys

        source = sys.stdin
    try:
        yield from read_events(source, fmt, defaults)
    except ValueError as exc:
        fail(str(exc))


def decision_json(
    decision: Decision, line: int | None = None, event: AnyEvent | None = None
) -> str:
    data = decision.to_dict()
    if line is not None:
        data["line"] = line
    if event is not None and event.metadata:
        data["metadata"] = dict(event.metadata)
    return json.dumps(data, ensure_ascii=False)


def print_decision(decision: Decision, engine: Engine) -> None:
    style = VERDICT_STYLE[decision.verdict]
    head = f"[{style}]{decision.verdict.value.upper()}[/]"
    if decision.retry_after is not None:
        head += f"  retry after {decision.retry_after:.0f} s"
    console.print(
        f"{head}   pack {decision.pack} {decision.version}   {decision.elapsed_us:.0f} µs"
    )
    if decision.clauses:
        clauses = engine.pack.clauses
        for clause in decision.clauses:
            info = clauses.get(clause)
            text = f"{info.value.policy}: {info.value.text}" if info else ""
            console.print(f"  [bold]{clause}[/]  {text}", soft_wrap=True)
    for title, hits in (("rules", decision.hits), ("shadow rules (not enforced)", decision.shadow)):
        if not hits:
            continue
        table = Table(title=title, title_justify="left", show_lines=False)
        for column in ("rule", "action", "severity", "clauses", "evidence"):
            table.add_column(column, overflow="fold")
        for hit in hits:
            evidence = "; ".join(
                f"{e.label}" + (f" «{e.excerpt}»" if e.excerpt and e.excerpt != e.label else "")
                for e in hit.evidence[:4]
            )
            table.add_row(
                hit.rule, hit.action.value, hit.severity.value, " ".join(hit.clauses), evidence
            )
        console.print(table)
