"""`aupguard segments` and `aupguard cdr analyze`, as a user runs them; CDR analytics."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import UTC
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from aupguard.cli import app
from aupguard.traffic.cdr import HyperLogLog, analyze, parse_text, synthetic_cdrs

runner = CliRunner()


def test_segments_command() -> None:
    text = "a" * 400
    result = runner.invoke(app, ["segments", text])
    assert result.exit_code == 0
    assert "3 segment(s), GSM7, 400 septets" in result.stdout
    emoji = runner.invoke(app, ["segments", "--json", "a" * 399 + "😀"])
    data = json.loads(emoji.stdout)
    assert (data["encoding"], data["segments"], data["units"]) == ("ucs2", 6, 401)
    smart = runner.invoke(app, ["segments", "--smart", "It\u2019s here"])
    assert "1 segment(s), GSM7" in smart.stdout
    assert "replaced" in smart.stdout


@pytest.fixture
def cdr_file(tmp_path: Path) -> Path:
    path = tmp_path / "calls.csv"
    with path.open("w", encoding="utf-8") as out:
        out.writelines(synthetic_cdrs(6000))
        out.write("+12025550100,+14155550123,not-a-date,,2026-11-02T14:00:00+00:00,answered,x,t\n")
        out.write("+12025550100,+14155550123\n")
        out.write(
            "+12025550100,+14155550123,2026-11-02T14:00:09+00:00,,"
            "2026-11-02T14:00:01+00:00,no-answer,x,t\n"
        )
    return path


def test_cdr_analyze_flags_the_auto_dialer_and_reports_bad_lines(cdr_file: Path) -> None:
    result = runner.invoke(app, ["cdr", "analyze", str(cdr_file), "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["account"]: row for row in map(json.loads, result.stdout.splitlines())}
    dialer = rows["dialer"]
    assert dialer["verdict"] == "hold"
    assert {
        "robocall.short_call_dialer",
        "robocall.sequential_dialing",
        "robocall.neighbour_spoofing",
    } <= set(dialer["flags"])
    assert "segregate" in dialer["tags"]
    assert "P29" in dialer["clauses"]
    assert dialer["cdr_neighbour_share"] == 1.0
    assert dialer["cdr_short_share"] == 1.0
    ordinary = [r for a, r in rows.items() if a.startswith("acct-")]
    assert ordinary
    assert all(r["verdict"] == "allow" for r in ordinary)
    assert all(not any(f.startswith("robocall.") for f in r["flags"]) for r in ordinary)
    assert "voice.plan_caps_exceeded" in rows["bulk"]["flags"]  # calls beyond 4 h
    assert rows["bulk"]["cdr_long_calls"] > 0
    err = result.stderr
    assert "calls.csv:6002: start 'not-a-date' is not an ISO 8601 date-time" in err
    assert "calls.csv:6003: 2 columns, the header has 8" in err
    assert "calls.csv:6004: end is before start" in err


def test_cdr_analyze_table_and_fail_on(cdr_file: Path) -> None:
    result = runner.invoke(app, ["cdr", "analyze", str(cdr_file)])
    assert result.exit_code == 0
    assert "calls per account" in result.stdout
    assert "dialer: robocall.short_call_dialer" in result.stdout
    assert "6003 record(s)" in result.stdout
    assert "3 malformed line(s)" in result.stdout
    failing = runner.invoke(app, ["cdr", "analyze", str(cdr_file), "--fail-on", "hold"])
    assert failing.exit_code == 1


def test_cdr_analyze_bad_input_exits_2(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["cdr", "analyze", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2
    assert "no such file" in missing.stderr
    header = tmp_path / "h.csv"
    header.write_text("caller,callee,when\n1,2,3\n", "utf-8")
    bad = runner.invoke(app, ["cdr", "analyze", str(header)])
    assert bad.exit_code == 2
    assert "line 1: the header lacks from, to, start, end" in bad.stderr
    plan = runner.invoke(app, ["cdr", "analyze", str(header), "--plan", "oops"])
    assert plan.exit_code == 2
    assert "ACCOUNT=PLAN" in plan.stderr
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"from,to,start,end\n\xff\xfe\x00")
    assert runner.invoke(app, ["cdr", "analyze", str(binary)]).exit_code == 2


def test_cdr_analyze_reads_json_lines_in_a_real_process(tmp_path: Path) -> None:
    path = tmp_path / "calls.jsonl"
    lines = []
    for i in range(120):
        lines.append(
            json.dumps(
                {
                    "from": f"+1202555{i:04d}",
                    "to": f"+1415555{i:04d}",
                    "start": f"2026-11-02T14:{i // 60:02d}:{i % 60:02d}+00:00",
                    "end": f"2026-11-02T14:{i // 60:02d}:{i % 60:02d}+00:00",
                    "disposition": "busy",
                    "account": "seq",
                }
            )
        )
    lines.append("{broken")
    path.write_text("\n".join(lines) + "\n", "utf-8")
    done = subprocess.run(
        [str(Path(sys.executable).parent / "aupguard"), "cdr", "analyze", str(path), "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout)
    assert row["account"] == "seq"
    assert row["cdr_sequential_share"] > 0.9
    assert "robocall.sequential_dialing" in row["flags"]
    assert ":121: not JSON" in done.stderr


def test_hyperloglog_error_stays_within_bound() -> None:
    for n in (100, 5000, 50_000):
        sketch = HyperLogLog()
        for i in range(n):
            sketch.add(f"+1415{i:07d}")
        assert abs(sketch.count() - n) / n < 0.05  # 3 standard errors of 1.6%


def test_concurrency_neighbours_and_durations() -> None:
    text = (
        "from,to,start,answer,end,disposition,account,trunk\n"
        "+12025550100,+12025559999,2026-11-02T14:00:00Z,2026-11-02T14:00:02Z,2026-11-02T14:00:04Z,answered,a,t1\n"
        "+13105550100,+14155550000,2026-11-02T14:00:01Z,2026-11-02T14:00:03Z,2026-11-02T14:10:00Z,answered,a,t1\n"
        "+13105550100,+14155550001,2026-11-02T14:00:05Z,,2026-11-02T14:00:20Z,no-answer,a,t1\n"
        "+13105550100,+14155550002,2026-11-02T14:00:30Z,,2026-11-02T14:00:40Z,no-answer,a,t1\n"
    )
    report = analyze(parse_text(text), default_max=300)
    stats = report.accounts["a"]
    assert stats.calls == 4
    assert stats.answered == 2
    assert stats.short_calls == 1  # 2 s of talk
    assert stats.long_calls == 1  # 597 s > 300
    assert stats.neighbour == 1  # 202-555 calling 202-555
    assert stats.sequential == 2  # ...0001 after ...0000, ...0002 after both
    assert stats.max_concurrent == 2
    assert stats.peak_cps == 1
    assert report.bad == 0


def test_readme_traffic_example_runs() -> None:
    import contextlib
    import io
    import re

    readme = Path(__file__).resolve().parents[2] / "README.md"
    blocks = re.findall(r"```python\n(.*?)```", readme.read_text("utf-8"), re.S)
    block = next(b for b in blocks if "LimitStep" in b)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, "README.md", "exec"), {})
    first, second = out.getvalue().splitlines()
    assert first == "allow"
    assert second.startswith("throttle ('W1', 'P9') ")
    assert 0 < float(second.rsplit(" ", 1)[1]) <= 5


_FIELD = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=30),
    st.sampled_from(["+14155550123", "2026-11-02T14:00:00+00:00", "2026-11-02T14:00:00", ""]),
    st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(_FIELD, min_size=0, max_size=10), max_size=20))
def test_any_csv_lines_are_either_counted_or_reported(rows: list[list[str]]) -> None:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["from", "to", "start", "answer", "end", "disposition", "account", "trunk"])
    for row in rows:
        writer.writerow(row)
    report = analyze(parse_text(out.getvalue()))
    good = sum(stats.calls for stats in report.accounts.values())
    assert good + report.bad == report.lines
    assert all(2 <= bad.line <= len(out.getvalue().splitlines()) for bad in report.bad_lines)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(max_size=40),
            st.dictionaries(
                st.sampled_from(["from", "to", "start", "end", "answer", "account"]),
                _FIELD,
                max_size=6,
            ).map(json.dumps),
        ),
        max_size=15,
    )
)
def test_any_json_lines_are_either_counted_or_reported(lines: list[str]) -> None:
    text = "\n".join(line.replace("\n", " ").replace("\r", " ") for line in lines)
    if not text.lstrip().startswith("{"):
        text = '{"from": "+1"}\n' + text
    report = analyze(parse_text(text, "jsonl"))
    good = sum(stats.calls for stats in report.accounts.values())
    assert good + report.bad == report.lines
