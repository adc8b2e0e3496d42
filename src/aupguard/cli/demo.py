"""`aupguard demo`: screen a bundled sample of messages and calls."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from aupguard.cli.app import app, console
from aupguard.cli.common import VERDICT_STYLE, iter_records, load_engine
from aupguard.readers import InputError


def sample_path() -> Path:
    return Path(str(resources.files("aupguard.samples").joinpath("demo.jsonl")))


@app.command()
def demo(
    pack: Annotated[str, typer.Option("--pack", "-p")] = "default",
) -> None:
    """Screen the bundled sample with the default pack and show what was decided and why."""
    engine = load_engine(pack)
    compiled = engine.pack
    console.print(
        f"[bold]aupguard demo[/]: pack {compiled.id} {compiled.version} "
        f"({len(compiled.rules)} rules, compiled in {compiled.compile_seconds * 1000:.0f} ms)\n"
    )
    table = Table(show_lines=False)
    for column in ("event", "verdict", "rules", "clauses"):
        table.add_column(column, overflow="fold")
    counts: dict[str, int] = {}
    for record in iter_records(sample_path(), "jsonl"):
        if isinstance(record, InputError):  # pragma: no cover - the sample is valid
            continue
        decision = engine.screen(record.event)
        counts[decision.verdict.value] = counts.get(decision.verdict.value, 0) + 1
        event = record.event
        label = getattr(event, "body", "") or f"{event.kind} to {getattr(event, 'to', '')}"
        style = VERDICT_STYLE[decision.verdict]
        rules = ", ".join(h.rule for h in decision.hits)
        if decision.shadow:
            rules += (", " if rules else "") + ", ".join(
                f"({h.rule}, shadow)" for h in decision.shadow
            )
        table.add_row(
            label[:70], f"[{style}]{decision.verdict.value}[/]", rules, " ".join(decision.clauses)
        )
    console.print(table)
    summary = ", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items()))
    console.print(f"\n{sum(counts.values())} events: {summary}")
    console.print(
        'Next: aupguard screen "your text" | aupguard replay FILE | aupguard policy coverage'
    )
