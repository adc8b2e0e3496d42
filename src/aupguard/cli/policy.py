"""`aupguard policy lint|test|coverage|diff`."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from aupguard.cli.app import console, errors, fail, policy_app
from aupguard.cli.common import iter_records, load_engine
from aupguard.engine.events import AnyEvent
from aupguard.policy.coverage import coverage, inventory_ids
from aupguard.policy.diff import diff_packs
from aupguard.policy.testing import run_examples
from aupguard.readers import InputError

PackArgument = Annotated[str, typer.Argument(help="Pack: 'default', a pack.yaml, or its folder.")]
STALE_DAYS = 400


def _lexicons_named(node: object) -> set[str]:
    """Every lexicon a condition names, negated ones included."""
    if isinstance(node, dict):
        found = {node["lexicon"]} if isinstance(node.get("lexicon"), str) else set()
        for value in node.values():
            found |= _lexicons_named(value)
        return found
    if isinstance(node, list):
        return {name for item in node for name in _lexicons_named(item)}
    return set()


@policy_app.command()
def lint(pack: PackArgument = "default") -> None:
    """Load and compile a pack; report every problem with its file and line (exit 2)."""
    engine = load_engine(pack)
    compiled = engine.pack
    terms = len(compiled.lexicons)
    console.print(
        f"{compiled.id} {compiled.version}: {len(compiled.rules)} rules, "
        f"{len(compiled.lexicons.names)} lexicons ({terms} patterns in one RE2 set), "
        f"{len(compiled.data)} datasets, compiled in {compiled.compile_seconds * 1000:.0f} ms"
    )
    warnings = []
    used = {name for r in compiled.rules for name in _lexicons_named(r.spec.when)}
    for name in compiled.lexicons.names:
        if not name.startswith("gate:") and name not in used:
            warnings.append(f"lexicon {name!r} is not used by any rule")
    for rule in compiled.rules:
        if not any(e.fires for e in rule.examples):
            warnings.append(f"{rule.origin}: [{rule.id}] no example shows the rule firing")
    for name, located in compiled.datasets.items():
        age = (date.today() - located.value.as_of).days
        if age > STALE_DAYS:
            warnings.append(
                f"{located.origin}: dataset {name!r} is {age} days old (as_of {located.value.as_of})"
            )
    for warning in warnings:
        errors.print(f"warning: {warning}", markup=False, soft_wrap=True)
    console.print("ok" if not warnings else f"ok, {len(warnings)} warning(s)")


@policy_app.command("test")
def run_tests(
    pack: PackArgument = "default",
    rule: Annotated[str | None, typer.Option(help="Only this rule's examples.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the examples embedded in the pack's rules (exit 1 if any fails)."""
    engine = load_engine(pack)
    if rule is not None and engine.pack.rule(rule) is None:
        fail(f"no rule {rule!r} in the pack")
    results = run_examples(engine.pack, rule)
    failed = [r for r in results if not r.passed]
    for result in results:
        if verbose or not result.passed:
            mark = "[green]pass[/]" if result.passed else "[red]FAIL[/]"
            console.print(
                f"{mark} {result.example.name}  ({result.example.origin})", soft_wrap=True
            )
            if result.problem:
                console.print(f"     {result.problem}", markup=False, soft_wrap=True)
    console.print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed:
        raise typer.Exit(1)


@policy_app.command("coverage")
def coverage_command(
    pack: PackArgument = "default",
    inventory: Annotated[
        Path | None,
        typer.Option(help="Check against an inventory (e.g. ../shared/AUP-INVENTORY.md)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Every clause of the seed policies: enforced, partial, planned or contractual."""
    engine = load_engine(pack)
    rows = coverage(engine.pack)
    missing: list[str] = []
    if inventory is not None:
        if not inventory.is_file():
            fail(f"{inventory}: no such file")
        known = {r.clause for r in rows}
        missing = [i for i in inventory_ids(inventory) if i not in known]
    if as_json:
        data = {"clauses": [row.__dict__ for row in rows], "missing_from_pack": missing}
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        table = Table(
            title=f"clause coverage of {engine.pack.id} {engine.pack.version}", title_justify="left"
        )
        for column in ("clause", "status", "enforced by", "test / reason"):
            table.add_column(column, overflow="fold")
        styles = {
            "enforced": "green",
            "partial": "yellow",
            "planned": "dark_orange",
            "contractual": "cyan",
        }
        for row in rows:
            by = ", ".join(row.rules + row.mechanisms)
            note = row.tests[0] if row.tests else ""
            if row.status in ("planned", "partial"):
                note = (note + "\n" if note else "") + f"issue {row.issue}: {row.reason}"
            elif row.status == "contractual":
                note = row.reason or ""
            style = styles.get(row.status, "red")
            table.add_row(row.clause, f"[{style}]{row.status}[/]", by, note)
        console.print(table)
        counts: dict[str, int] = {}
        for row in rows:
            counts[row.status] = counts.get(row.status, 0) + 1
        console.print(", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    if missing:
        fail(f"inventory ids missing from the pack: {', '.join(missing)}", code=1)
    if any(row.status == "uncovered" for row in rows):
        fail("some clauses are neither enforced, planned nor contractual", code=1)


@policy_app.command()
def diff(
    old: Annotated[str, typer.Argument(help="The pack in force.")],
    new: Annotated[str, typer.Argument(help="The candidate pack.")],
    file: Annotated[Path, typer.Argument(help="Events to replay through both.")],
    fmt: Annotated[str | None, typer.Option("--format", "-f")] = None,
    samples: Annotated[int, typer.Option(help="Changed decisions to show.")] = 10,
) -> None:
    """Which decisions change between two pack versions on the same events."""
    before, after = load_engine(old), load_engine(new)
    bad = 0

    def events() -> Iterator[tuple[int, AnyEvent]]:
        nonlocal bad
        for record in iter_records(file, fmt):
            if isinstance(record, InputError):
                bad += 1
                continue
            yield record.line, record.event

    report = diff_packs(before, after, events(), samples)
    console.print(
        f"{report.total} event(s) replayed ({bad} bad line(s) skipped): "
        f"{report.changed} verdict(s) change from {before.pack.version} to {after.pack.version}"
    )
    table = Table(title="verdict transitions", title_justify="left")
    for column in ("before", "after", "events"):
        table.add_column(column)
    for (a, b), n in sorted(report.transitions.items()):
        table.add_row(a, b, str(n), style=None if a == b else "bold")
    console.print(table)
    for title, counter in (
        ("rules that fire more", report.rules_added),
        ("rules that fire less", report.rules_removed),
    ):
        if counter:
            table = Table(title=title, title_justify="left")
            table.add_column("rule")
            table.add_column("events", justify="right")
            for name, n in counter.most_common():
                table.add_row(name, str(n))
            console.print(table)
    for change in report.samples:
        console.print(
            f"line {change.line}: {change.before.verdict.value} -> {change.after.verdict.value} "
            f"(rules {', '.join(h.rule for h in change.after.hits) or 'none'})",
            markup=False,
        )
