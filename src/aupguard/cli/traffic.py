"""`aupguard segments` and `aupguard cdr analyze`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from aupguard.cli.app import app, console, errors, fail
from aupguard.cli.common import VERDICT_STYLE, load_engine
from aupguard.engine.decision import Verdict
from aupguard.traffic.cdr import CdrInputError, analyze, judge, plan_caps, read_cdrs
from aupguard.traffic.segments import count_segments

cdr_app = typer.Typer(
    help="Voice traffic analytics from call detail records.", no_args_is_help=True
)
app.add_typer(cdr_app, name="cdr")


@app.command()
def segments(
    text: Annotated[str | None, typer.Argument(help="Message text ('-' or none: stdin).")] = None,
    smart: Annotated[
        bool, typer.Option("--smart", help="Apply smart encoding (GSM-7 lookalikes) first.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """How many SMS segments a text is billed as (GSM-7 or UCS-2), and why."""
    body = sys.stdin.read() if text in (None, "-") else text
    assert body is not None
    result = count_segments(body, smart=smart)
    if as_json:
        console.print_json(json.dumps(result.to_dict(), ensure_ascii=False))
        return
    unit = "septets" if result.encoding == "gsm7" else "UTF-16 units"
    console.print(
        f"[bold]{result.segments}[/] segment(s), {result.encoding.upper()}, "
        f"{result.units} {unit}, {result.characters} characters"
    )
    if result.non_gsm:
        shown = " ".join(f"{ch!r} (U+{ord(ch):04X})" for ch in result.non_gsm)
        console.print(f"  not in GSM-7: {shown}", soft_wrap=True)
    for ch, by, n in result.replaced:
        console.print(f"  replaced {ch!r} (U+{ord(ch):04X}) by {by!r} x{n}", soft_wrap=True)


def _plans(values: list[str]) -> dict[str, str]:
    plans: dict[str, str] = {}
    for value in values:
        account, sep, plan = value.partition("=")
        if not sep or not account or not plan:
            fail(f"--plan {value!r}: expected ACCOUNT=PLAN")
        plans[account] = plan
    return plans


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


@cdr_app.command("analyze")
def analyze_command(
    file: Annotated[
        Path, typer.Argument(help="CDRs: CSV with a header, or JSON Lines ('-': stdin).")
    ],
    fmt: Annotated[
        str | None, typer.Option("--format", "-f", help="csv or jsonl (default: sniffed).")
    ] = None,
    plan: Annotated[
        list[str] | None,
        typer.Option("--plan", help="ACCOUNT=PLAN for plan caps (repeatable; default plan else)."),
    ] = None,
    pack: Annotated[str, typer.Option("--pack", "-p", help="Pack with the cdr rules.")] = "default",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per account.")] = False,
    fail_on: Annotated[
        Verdict | None,
        typer.Option("--fail-on", help="Exit 1 if any account's verdict is at least this severe."),
    ] = None,
) -> None:
    """Per-account call figures and flags (auto-dialing, robocall patterns, plan caps)."""
    if fmt is not None and fmt not in ("csv", "jsonl"):
        fail(f"--format {fmt!r}: expected csv or jsonl")
    plans = _plans(plan or [])
    engine = load_engine(pack)
    caps, default_cap = plan_caps(engine, plans)
    if str(file) != "-" and not file.is_file():
        fail(f"{file}: no such file")
    try:
        if str(file) == "-":
            report = analyze(read_cdrs(sys.stdin, fmt), caps, default_cap)
        else:
            with file.open("r", encoding="utf-8", newline="") as handle:
                report = analyze(read_cdrs(handle, fmt), caps, default_cap)
    except CdrInputError as exc:
        fail(f"{file}: {exc}")
    except UnicodeDecodeError as exc:
        fail(f"{file}: not UTF-8 text ({exc.reason} at byte {exc.start})")
    decisions = judge(engine, report, plans)
    for bad in report.bad_lines:
        errors.print(f"{file}:{bad.line}: {bad.reason}", soft_wrap=True, markup=False)
    if report.bad > len(report.bad_lines):
        errors.print(f"... and {report.bad - len(report.bad_lines)} more malformed line(s)")
    worst = Verdict.ALLOW
    rows: list[dict[str, Any]] = []
    for account in sorted(report.accounts):
        stats, decision = report.accounts[account], decisions[account]
        worst = max(worst, decision.verdict, key=lambda v: v.rank)
        rows.append(
            {
                "account": account,
                **stats.signals(None),
                "unique_destinations": round(stats.unique_destinations),
                "trunks": sorted(stats.trunks),
                "verdict": decision.verdict.value,
                "flags": [h.rule for h in (*decision.hits, *decision.shadow)],
                "tags": list(decision.tags),
                "clauses": list(decision.clauses),
            }
        )
    if as_json:
        for row in rows:
            row.pop("cdr_over_concurrency", None)
            print(json.dumps(row, ensure_ascii=False))
    else:
        _table(rows)
        console.print(
            f"{report.lines} record(s), {len(report.accounts)} account(s), "
            f"{report.bad} malformed line(s)"
        )
    if fail_on is not None and worst.rank >= fail_on.rank:
        raise typer.Exit(1)


def _table(rows: list[dict[str, Any]]) -> None:
    table = Table(title="calls per account", title_justify="left")
    for column in (
        "account", "calls", "peak CPS", "ASR", "ACD s", "<6 s", "unique", "sequential",
        "neighbour", "max conc.", "verdict",
    ):  # fmt: skip
        table.add_column(column, overflow="fold")
    for r in rows:
        verdict = Verdict(r["verdict"])
        table.add_row(
            r["account"],
            f"{r['cdr_calls']:.0f}",
            f"{r['cdr_cps_peak']:.0f}",
            _pct(r["cdr_asr"]),
            f"{r['cdr_acd']:.0f}",
            _pct(r["cdr_short_share"]),
            _pct(r["cdr_unique_ratio"]),
            _pct(r["cdr_sequential_share"]),
            _pct(r["cdr_neighbour_share"]),
            f"{r['cdr_max_concurrent']:.0f}",
            f"[{VERDICT_STYLE[verdict]}]{verdict.value}[/]",
        )
    console.print(table)
    for r in rows:
        if r["flags"]:
            tags = " ".join(f"#{t}" for t in r["tags"])
            console.print(
                f"[bold]{r['account']}[/]: {', '.join(r['flags'])} {tags}", soft_wrap=True
            )
