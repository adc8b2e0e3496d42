"""`aupguard screen` and `aupguard replay`."""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from aupguard.cli.app import app, console, errors, fail
from aupguard.cli.common import (
    DEFAULT_FROM,
    DEFAULT_TO,
    decision_json,
    iter_records,
    load_engine,
    load_state,
    print_decision,
)
from aupguard.engine.decision import Verdict
from aupguard.engine.events import Channel, MessageCategory, SenderType
from aupguard.readers import InputError, describe, validate_event

PackOption = Annotated[
    str, typer.Option("--pack", "-p", help="Pack: 'default', a pack.yaml, or its folder.")
]
FormatOption = Annotated[
    str | None,
    typer.Option("--format", "-f", help="jsonl, json, csv, tsv or txt (default: by extension)."),
]


@app.command()
def screen(
    text: Annotated[str | None, typer.Argument(help="Message body to screen.")] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="Events to screen ('-' for stdin).")
    ] = None,
    fmt: FormatOption = None,
    sender: Annotated[str, typer.Option("--from", help="Sender number or id.")] = DEFAULT_FROM,
    to: Annotated[str, typer.Option("--to", help="Recipient.")] = DEFAULT_TO,
    channel: Annotated[Channel, typer.Option(help="Channel.")] = Channel.SMS,
    category: Annotated[
        MessageCategory, typer.Option(help="Declared use case.")
    ] = MessageCategory.UNKNOWN,
    sender_type: Annotated[SenderType, typer.Option("--sender-type")] = SenderType.LONG_CODE,
    brand: Annotated[str | None, typer.Option(help="Brand the sender declares.")] = None,
    account: Annotated[str, typer.Option(help="Tenant account.")] = "default",
    state: Annotated[str | None, typer.Option(help="State snapshot: JSON or a JSON file.")] = None,
    pack: PackOption = "default",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON decision per line.")] = False,
    fail_on: Annotated[
        Verdict | None,
        typer.Option("--fail-on", help="Exit 1 if any verdict is at least this severe."),
    ] = None,
) -> None:
    """Screen one message (from the arguments) or every event in a file."""
    if (text is None) == (file is None):
        fail("give either a message text or --file (not both)")
    engine = load_engine(pack)
    snapshot = load_state(state)
    worst = Verdict.ALLOW
    if text is not None:
        data = {
            "from": sender,
            "to": to,
            "body": text,
            "channel": channel.value,
            "category": category.value,
            "sender_type": sender_type.value,
            "account": account,
        }
        if brand:
            data["brand"] = brand
        try:
            events = [(0, validate_event(data))]
        except ValidationError as exc:
            fail(describe(exc))
    else:
        events = []
        bad = 0
        for record in iter_records(file, fmt):
            if isinstance(record, InputError):
                errors.print(f"{file}: {record}", markup=False, soft_wrap=True)
                bad += 1
            else:
                events.append((record.line, record.event))
        if bad and not events:
            fail(f"no valid event in {file} ({bad} bad)")
    for line, event in events:
        decision = engine.screen(event, snapshot)
        if decision.verdict.rank > worst.rank:
            worst = decision.verdict
        if as_json:
            sys.stdout.write(decision_json(decision, line or None) + "\n")
        else:
            if line:
                console.print(f"[dim]line {line}[/]")
            print_decision(decision, engine)
    if fail_on is not None and worst.rank >= fail_on.rank:
        raise typer.Exit(1)


def _count_lines(path: Path) -> int | None:
    try:
        with path.open("rb") as handle:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    except OSError:
        return None


@app.command()
def replay(
    file: Annotated[Path, typer.Argument(help="Events to replay ('-' for stdin).")],
    fmt: FormatOption = None,
    pack: PackOption = "default",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write decisions as JSON Lines here.")
    ] = Path("replay-decisions.jsonl"),
    no_out: Annotated[bool, typer.Option("--no-out", help="Do not write decisions.")] = False,
    state: Annotated[str | None, typer.Option(help="State snapshot for every event.")] = None,
    show_errors: Annotated[int, typer.Option(help="Print at most this many bad lines.")] = 20,
) -> None:
    """Screen a whole file and summarise verdicts, rules and clauses."""
    engine = load_engine(pack)
    snapshot = load_state(state)
    total = _count_lines(file) if str(file) != "-" else None
    verdicts: Counter[str] = Counter()
    rules: Counter[str] = Counter()
    shadow: Counter[str] = Counter()
    clauses: Counter[str] = Counter()
    bad: list[InputError] = []
    sink = None if no_out or out is None else out.open("w", encoding="utf-8")
    started = time.perf_counter()
    screened = 0
    progress = Progress(
        TextColumn("screening"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
    )
    try:
        with progress:
            task = progress.add_task("replay", total=total)
            for record in iter_records(file, fmt):
                progress.advance(task)
                if isinstance(record, InputError):
                    bad.append(record)
                    if len(bad) <= show_errors:
                        progress.console.print(f"{file}: {record}", markup=False, soft_wrap=True)
                    continue
                decision = engine.screen(record.event, snapshot)
                screened += 1
                verdicts[decision.verdict.value] += 1
                rules.update(h.rule for h in decision.hits)
                shadow.update(h.rule for h in decision.shadow)
                clauses.update(decision.clauses)
                if sink is not None:
                    sink.write(decision_json(decision, record.line, record.event) + "\n")
    finally:
        if sink is not None:
            sink.close()
    seconds = time.perf_counter() - started
    _summary(
        screened,
        len(bad),
        seconds,
        verdicts,
        {"rules": rules, "shadow rules (would fire)": shadow, "clauses": clauses},
    )
    if sink is not None and out is not None:
        console.print(f"decisions written to {out}")
    if bad and len(bad) > show_errors:
        errors.print(f"{len(bad) - show_errors} more bad line(s) not shown")


def _summary(
    screened: int,
    bad: int,
    seconds: float,
    verdicts: Counter[str],
    tallies: dict[str, Counter[str]],
) -> None:
    rate = screened / seconds if seconds > 0 else 0.0
    console.print(
        f"screened {screened} event(s), skipped {bad} bad line(s), {seconds:.2f} s ({rate:,.0f}/s)"
    )
    table = Table(title="verdicts", title_justify="left")
    table.add_column("verdict")
    table.add_column("events", justify="right")
    table.add_column("share", justify="right")
    for verdict in Verdict:
        n = verdicts.get(verdict.value, 0)
        table.add_row(verdict.value, str(n), f"{100 * n / screened:.2f}%" if screened else "-")
    console.print(table)
    for title, counter in tallies.items():
        if not counter:
            continue
        table = Table(title=title, title_justify="left")
        table.add_column("clause" if title == "clauses" else "rule")
        table.add_column("events", justify="right")
        for name, n in counter.most_common():
            table.add_row(name, str(n))
        console.print(table)
