"""`aupguard eval`: figures, label mapping, CSV columns, the JSON report, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aupguard.cli import app
from aupguard.cli.eval import metrics

runner = CliRunner()

SPAM = "WINNER!! You have been selected to receive a £900 prize reward! To claim call 09061701461. Valid 12 hours only"
SPAM2 = "Your account has been limited. Restore access at paypa1-secure-login.com"
HAM = "Sorry I'm late, the bus broke down. See you at the cinema in 10 min"
HAM2 = "Can you pick up milk on the way home?"


def test_metrics_formulas() -> None:
    m = metrics(
        [(True, True)] * 90 + [(True, False)] * 10 + [(False, True)] * 1 + [(False, False)] * 899
    )
    figures = m.as_dict()
    assert figures["spam_caught"] == pytest.approx(0.9)
    assert figures["blocked_ham"] == pytest.approx(1 / 900)
    assert figures["precision"] == pytest.approx(90 / 91)
    assert figures["accuracy"] == pytest.approx(989 / 1000)
    assert figures["mcc"] == pytest.approx(0.93762, abs=1e-4)
    assert metrics([]).as_dict()["mcc"] == 0.0


def test_eval_tsv_prints_figures_and_writes_a_report(tmp_path: Path) -> None:
    data = tmp_path / "corpus.tsv"
    data.write_text(f"spam\t{SPAM}\nspam\t{SPAM2}\nham\t{HAM}\nham\t{HAM2}\n", "utf-8")
    report = tmp_path / "report.json"
    result = runner.invoke(app, ["eval", str(data), "--report", str(report)])
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    for words in (
        "spam caught (recall)",
        "blocked ham",
        "precision",
        "accuracy",
        "F1",
        "MCC",
        "confusion matrix",
        "per-rule contribution",
        "verdict block and hold",
    ):
        assert words in output
    figures = json.loads(report.read_text("utf-8"))
    assert figures["confusion"] == {
        "spam_caught": 2,
        "spam_missed": 0,
        "ham_blocked": 0,
        "ham_passed": 2,
    }
    assert figures["mcc"] == pytest.approx(1.0)
    assert figures["rules"]["spam.classifier"]["spam"] >= 1
    assert "impersonation.lookalike_domain" in figures["rules"]


def test_eval_csv_with_columns_and_label_mapping(tmp_path: Path) -> None:
    data = tmp_path / "corpus.csv"
    data.write_text(  # with a byte-order mark, as spreadsheets save it
        f'kind,id,message\nsmishing,1,"{SPAM2}"\npromo,2,"{SPAM}"\nlegit,3,"{HAM}"\n', "utf-8-sig"
    )
    args = [
        "eval",
        str(data),
        "--label-col",
        "kind",
        "--text-col",
        "message",
        "--spam-label",
        "smishing,promo",
        "--ham-label",
        "legit",
        "--no-report",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "3 messages (2 spam, 1 ham)" in " ".join(result.output.split())


def test_caught_verdicts_can_be_narrowed(tmp_path: Path) -> None:
    data = tmp_path / "corpus.tsv"
    data.write_text(f"spam\t{SPAM}\nham\t{HAM}\n", "utf-8")  # the classifier holds SPAM
    report = tmp_path / "r.json"
    result = runner.invoke(app, ["eval", str(data), "--caught", "block", "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert json.loads(report.read_text("utf-8"))["confusion"]["spam_missed"] == 1


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("spam\tx\nmaybe\ty\n", [], "line 2: label 'maybe' is neither spam nor ham"),
        ("spam x\n", [], "line 1: expected label<TAB>text"),
        ("a,b\nspam,x\n", ["--format", "csv"], "--label-col 'label' is not a column"),
        ("label,b\nspam,x\n", ["--format", "csv"], "--text-col 'text' is not a column"),
        ("spam\tx\n", ["--caught", "maybe"], "--caught"),
        ("spam\tx\n", ["--spam-label", "x", "--ham-label", "x"], "both spam and ham"),
        ("", [], "no labelled message"),
    ],
)
def test_bad_input_exits_2_naming_the_problem(
    tmp_path: Path, content: str, args: list[str], message: str
) -> None:
    data = tmp_path / "corpus.tsv"
    data.write_text(content, "utf-8")
    report = tmp_path / "report.json"
    result = runner.invoke(app, ["eval", str(data), "--report", str(report), *args])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert not report.exists()


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", str(tmp_path / "nope.tsv")])
    assert result.exit_code == 2
    assert "no such file" in result.output


@pytest.mark.shared_data
def test_eval_of_the_test_split_beats_the_published_baseline(
    shared_data: Path, tmp_path: Path
) -> None:
    """Acceptance: the full default pack on the 3,902-message test split, in a real process."""
    report = tmp_path / "report.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "aupguard.cli.eval_main",
            str(shared_data / "sms-spam-collection" / "test.tsv"),
            "--report",
            str(report),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "MCC" in done.stdout
    figures = json.loads(report.read_text("utf-8"))
    assert figures["messages"] == 3902
    assert figures["mcc"] >= 0.95
    assert figures["blocked_ham"] <= 0.0015
    assert figures["caught_verdicts"] == ["block", "hold"]
