"""`aupguard eval DATASET`: the full engine on a labelled corpus, with the usual figures.

Every message goes through the whole pack (not just the classifier), so the
figures also show what every other rule does to legitimate traffic. A message
counts as *caught* (spam) or *blocked* (ham) when the verdict is one of
``--caught`` (default: hold and block; a held message does not reach its
recipient either).
"""

from __future__ import annotations

import csv
import json
import math
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table

from aupguard.cli.app import app, console, fail
from aupguard.cli.common import DEFAULT_FROM, DEFAULT_TO, load_engine, load_state
from aupguard.engine.decision import Decision, Verdict
from aupguard.engine.events import OutboundMessage
from aupguard.readers import describe

__all__ = ["Metrics", "evaluate_corpus", "metrics"]


@dataclass
class Metrics:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def total(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    def as_dict(self) -> dict[str, Any]:
        tp, fp, fn, tn = self.tp, self.fp, self.fn, self.tn
        recall = tp / (tp + fn) if tp + fn else 0.0
        precision = tp / (tp + fp) if tp + fp else 0.0
        den = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        return {
            "messages": self.total,
            "spam": tp + fn,
            "ham": fp + tn,
            "spam_caught": recall,
            "blocked_ham": fp / (fp + tn) if fp + tn else 0.0,
            "precision": precision,
            "accuracy": (tp + tn) / self.total if self.total else 0.0,
            "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
            "mcc": (tp * tn - fp * fn) / den if den else 0.0,
            "confusion": {
                "spam_caught": tp,
                "spam_missed": fn,
                "ham_blocked": fp,
                "ham_passed": tn,
            },
        }


def metrics(pairs: list[tuple[bool, bool]]) -> Metrics:
    """Confusion counts of (is_spam, caught) pairs."""
    m = Metrics()
    for is_spam, caught in pairs:
        if is_spam:
            m.tp += caught
            m.fn += not caught
        else:
            m.fp += caught
            m.tn += not caught
    return m


@dataclass
class RuleTally:
    spam: int = 0
    ham: int = 0
    sole_spam: int = 0
    sole_ham: int = 0


@dataclass
class Outcome:
    metrics: Metrics = field(default_factory=Metrics)
    rules: dict[str, RuleTally] = field(default_factory=dict)
    shadow: dict[str, RuleTally] = field(default_factory=dict)
    verdicts: Counter[str] = field(default_factory=Counter)
    missed: list[dict[str, Any]] = field(default_factory=list)
    blocked: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


class EvalInputError(ValueError):
    pass


def _labelled_rows(
    path: Path, fmt: str, label_col: str, text_col: str
) -> Iterator[tuple[int, str, str]]:
    # utf-8-sig: spreadsheets save CSV with a byte-order mark before the first column's name
    with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as stream:
        if fmt == "tsv":
            for number, line in enumerate(stream, 1):
                stripped = line.rstrip("\r\n")
                if not stripped:
                    continue
                label, tab, text = stripped.partition("\t")
                if not tab:
                    raise EvalInputError(f"{path}: line {number}: expected label<TAB>text")
                yield number, label.strip(), text
            return
        reader = csv.DictReader(stream)
        columns = reader.fieldnames or []
        for needed, option in ((label_col, "--label-col"), (text_col, "--text-col")):
            if needed not in columns:
                raise EvalInputError(
                    f"{path}: {option} {needed!r} is not a column (columns: {', '.join(columns)})"
                )
        for row in reader:
            if None in row:
                raise EvalInputError(
                    f"{path}: line {reader.line_num}: more fields than the header has columns"
                )
            yield reader.line_num, (row[label_col] or "").strip(), row[text_col] or ""


def evaluate_corpus(
    engine: Any,
    rows: Iterator[tuple[int, str, str]],
    spam_labels: set[str],
    ham_labels: set[str],
    caught: set[Verdict],
    state: Any = None,
    keep_examples: int = 50,
) -> Outcome:
    out = Outcome()
    started = time.perf_counter()
    pack = engine.pack
    for number, label, text in rows:
        folded = label.casefold()
        if folded in spam_labels:
            is_spam = True
        elif folded in ham_labels:
            is_spam = False
        else:
            known = ", ".join(sorted(spam_labels | ham_labels))
            raise EvalInputError(
                f"line {number}: label {label!r} is neither spam nor ham "
                f"(known: {known}; map it with --spam-label/--ham-label)"
            )
        try:
            event = OutboundMessage.model_validate(
                {"from": DEFAULT_FROM, "to": DEFAULT_TO, "body": text}
            )
        except ValidationError as exc:
            raise EvalInputError(f"line {number}: {describe(exc)}") from None
        decision: Decision = engine.screen(event, state)
        hit = decision.verdict in caught
        out.verdicts[decision.verdict.value] += 1
        m = out.metrics
        if is_spam:
            m.tp += hit
            m.fn += not hit
        else:
            m.fp += hit
            m.tn += not hit
        deciding = [h.rule for h in decision.hits if h.action.verdict in caught]
        for h in decision.hits:
            tally = out.rules.setdefault(h.rule, RuleTally())
            if is_spam:
                tally.spam += 1
            else:
                tally.ham += 1
        if len(deciding) == 1:
            tally = out.rules[deciding[0]]
            if is_spam:
                tally.sole_spam += 1
            else:
                tally.sole_ham += 1
        for h in decision.shadow:
            tally = out.shadow.setdefault(h.rule, RuleTally())
            if is_spam:
                tally.spam += 1
            else:
                tally.ham += 1
        if is_spam != hit:
            record = {
                "line": number,
                "verdict": decision.verdict.value,
                "rules": [h.rule for h in decision.hits],
                "spam_score": decision.scores.get("content.spam_score"),
                "text": text[:160],
            }
            target = out.missed if is_spam else out.blocked
            if len(target) < keep_examples:
                target.append(record)
    out.seconds = time.perf_counter() - started
    del pack
    return out


def _labels(values: list[str]) -> set[str]:
    return {v.strip().casefold() for value in values for v in value.split(",") if v.strip()}


@app.command("eval")
def eval_command(
    dataset: Annotated[Path, typer.Argument(help="Labelled messages: TSV label<TAB>text, or CSV.")],
    fmt: Annotated[
        str | None, typer.Option("--format", "-f", help="tsv or csv (default: by extension).")
    ] = None,
    label_col: Annotated[str, typer.Option("--label-col", help="CSV: the label column.")] = "label",
    text_col: Annotated[str, typer.Option("--text-col", help="CSV: the text column.")] = "text",
    spam_label: Annotated[
        list[str] | None,
        typer.Option("--spam-label", help="Label(s) meaning spam (repeat or comma-separate)."),
    ] = None,
    ham_label: Annotated[
        list[str] | None,
        typer.Option("--ham-label", help="Label(s) meaning legitimate (repeat or comma-separate)."),
    ] = None,
    caught_verdicts: Annotated[
        str, typer.Option("--caught", help="Verdicts that count as caught/blocked.")
    ] = "hold,block",
    pack: Annotated[str, typer.Option("--pack", "-p", help="Pack to evaluate.")] = "default",
    state: Annotated[str | None, typer.Option(help="State snapshot for every message.")] = None,
    report: Annotated[
        Path | None, typer.Option("--report", "-o", help="Write the JSON report here.")
    ] = Path("eval-report.json"),
    no_report: Annotated[bool, typer.Option("--no-report", help="Do not write a report.")] = False,
) -> None:
    """Screen a labelled corpus with the full pack and report spam caught, blocked ham, MCC."""
    if not dataset.is_file():
        fail(f"{dataset}: no such file")
    kind = (fmt or dataset.suffix.lstrip(".") or "tsv").lower()
    if kind not in ("tsv", "csv"):
        fail(f"--format: {kind!r} is not tsv or csv")
    spam = _labels(spam_label or ["spam"])
    ham = _labels(ham_label or ["ham"])
    if spam & ham:
        fail(f"labels {', '.join(sorted(spam & ham))} are given as both spam and ham")
    try:
        caught = {Verdict(v.strip()) for v in caught_verdicts.split(",") if v.strip()}
    except ValueError:
        fail(f"--caught: {caught_verdicts!r}: verdicts are allow, throttle, hold, block")
    if not caught:
        fail("--caught: name at least one verdict")
    engine = load_engine(pack)
    snapshot = load_state(state)
    try:
        outcome = evaluate_corpus(
            engine, _labelled_rows(dataset, kind, label_col, text_col), spam, ham, caught, snapshot
        )
    except EvalInputError as exc:
        fail(str(exc))
    if outcome.metrics.total == 0:
        fail(f"{dataset}: no labelled message")
    figures = outcome.metrics.as_dict()
    _print(dataset, outcome, figures, caught)
    if report is not None and not no_report:
        data = {
            "dataset": str(dataset),
            "pack": engine.pack.id,
            "version": engine.pack.version,
            "caught_verdicts": sorted(v.value for v in caught),
            "seconds": round(outcome.seconds, 3),
            **figures,
            "verdicts": dict(outcome.verdicts),
            "rules": {k: vars(v) for k, v in sorted(outcome.rules.items())},
            "shadow_rules": {k: vars(v) for k, v in sorted(outcome.shadow.items())},
            "missed_spam_examples": outcome.missed,
            "blocked_ham_examples": outcome.blocked,
        }
        report.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", "utf-8")
        console.print(f"report written to {report}")


def _print(dataset: Path, outcome: Outcome, figures: dict[str, Any], caught: set[Verdict]) -> None:
    m = outcome.metrics
    rate = m.total / outcome.seconds if outcome.seconds else 0.0
    names = " and ".join(sorted(v.value for v in caught))
    console.print(
        f"{dataset}: {m.total} messages ({m.tp + m.fn} spam, {m.fp + m.tn} ham) in "
        f"{outcome.seconds:.2f} s ({rate:,.0f}/s); caught/blocked = verdict {names}"
    )
    table = Table(title="figures", title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("spam caught (recall)", f"{100 * figures['spam_caught']:.2f}%")
    table.add_row("blocked ham (false-positive rate)", f"{100 * figures['blocked_ham']:.2f}%")
    table.add_row("precision", f"{100 * figures['precision']:.2f}%")
    table.add_row("accuracy", f"{100 * figures['accuracy']:.2f}%")
    table.add_row("F1", f"{figures['f1']:.4f}")
    table.add_row("MCC", f"{figures['mcc']:.4f}")
    console.print(table)
    matrix = Table(title="confusion matrix", title_justify="left")
    matrix.add_column("")
    matrix.add_column("caught/blocked", justify="right")
    matrix.add_column("passed", justify="right")
    matrix.add_row("spam", str(m.tp), str(m.fn))
    matrix.add_row("ham", str(m.fp), str(m.tn))
    console.print(matrix)
    if outcome.rules:
        rules = Table(
            title="per-rule contribution (enforced rules that fired)", title_justify="left"
        )
        for column in ("rule", "spam", "ham", "only rule on spam", "only rule on ham"):
            rules.add_column(column, justify="left" if column == "rule" else "right")
        for name, t in sorted(outcome.rules.items(), key=lambda kv: (-kv[1].spam, kv[0])):
            rules.add_row(name, str(t.spam), str(t.ham), str(t.sole_spam), str(t.sole_ham))
        console.print(rules)
    if outcome.shadow:
        shadow = Table(title="shadow rules (would fire)", title_justify="left")
        for column in ("rule", "spam", "ham"):
            shadow.add_column(column, justify="left" if column == "rule" else "right")
        for name, t in sorted(outcome.shadow.items()):
            shadow.add_row(name, str(t.spam), str(t.ham))
        console.print(shadow)
    sys.stdout.flush()
