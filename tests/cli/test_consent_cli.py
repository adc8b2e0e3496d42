"""`aupguard consent ...`, `aupguard dnc import` and `aupguard inbound` through typer's CliRunner."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from aupguard.cli import app
from aupguard.consent.sql import SqlConsentStore, SqlDncStore
from aupguard.store.db import Database

runner = CliRunner()

GOOD = (
    "recipient,kind,at,scope,channel,method,source,wording,age_verified\n"
    "(415) 555-0123,opt_in,2026-01-05T10:00:00Z,brand:acme,sms,web_form,form:signup-3,"
    '"Yes, text me Acme offers. Reply STOP to cancel",yes\n'
    "+1 415 555 0124,opt_in,2026-01-06T10:00:00Z,brand:acme,sms,paper,scan-17,signed card,\n"
)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.sqlite'}"


def run(url: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args, "--url", url], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def ledger(url: str) -> SqlConsentStore:
    return SqlConsentStore(Database(url))


def test_import_show_history_and_export(url: str, tmp_path: Path) -> None:
    path = tmp_path / "consent.csv"
    path.write_text(GOOD, "utf-8")
    code, out, err = run(url, "consent", "import", str(path), "--country", "US")
    assert code == 0, err
    assert "imported 2, bad lines 0" in out
    events = ledger(url).history("default", "+14155550123")
    assert [e.method.value for e in events] == ["web_form"]
    assert events[0].wording == "Yes, text me Acme offers. Reply STOP to cancel"
    assert events[0].age_verified

    code, out, _ = run(url, "consent", "show", "4155550123")
    assert code == 0 and "opted_in" in out and "web_form" in out

    code, out, err = run(
        url,
        "inbound",
        "Stop please",
        "--from",
        "4155550123",
        "--to",
        "+12025550143",
        "--brand",
        "acme",
        "--at",
        "2026-03-01T12:00:00Z",
    )
    assert code == 0, err
    assert "opted_in -> opted_out" in out
    assert out.count("auto-reply: ") == 1 and "unsubscribed" in out
    code, out, _ = run(
        url,
        "inbound",
        " STOP ",
        "--from",
        "4155550123",
        "--to",
        "+12025550143",
        "--brand",
        "acme",
        "--at",
        "2026-03-01T12:01:00Z",
    )
    assert "auto-reply: none" in out

    code, out, _ = run(url, "consent", "show", "4155550123")
    # received Sunday 2026-03-01: 10 business days later is Friday 2026-03-13
    assert "opt-out brand:acme: received 2026-03-01T12:00:00+00:00" in out
    assert "outer limit 2026-03-13T12:00:00+00:00 (10 business days, passed)" in out

    code, out, _ = run(url, "consent", "history", "+14155550123", "--as-of", "2026-02-01")
    assert code == 0 and "opt_in" in out and "opt_out" not in out
    code, out, _ = run(url, "consent", "history", "+14155550123", "--as-of", "2026-03-02")
    assert "opt_out" in out and "opted_out" in out

    exported = tmp_path / "out.csv"
    code, _, err = run(url, "consent", "export", "--output", str(exported))
    assert code == 0 and "exported 4 record(s)" in err
    other = f"sqlite:///{tmp_path / 'copy.sqlite'}"
    code, out, _ = run(other, "consent", "import", str(exported))
    assert code == 0 and "imported 4" in out
    assert ledger(other).history("default", "+14155550123") == ledger(url).history(
        "default", "+14155550123"
    )


def test_bad_lines_are_reported_and_the_good_ones_imported(url: str, tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes(
        GOOD.encode()
        + b"not-a-number,opt_in,,,,,,,\n"
        + b"+447700900123,opt_in,,,,,,,\n"
        + b"(415) 555-0123,opt_in,2026-01-05T10:00:00Z,brand:acme,sms,web_form,x,dup,\n"
        + b"+14155550125,maybe,,,,,,,\n"
        + b"+14155550126,opt_in,,,,,,caf\xe9,\n"
    )
    code, out, err = run(url, "consent", "import", str(path), "--country", "US")
    assert code == 2
    assert "imported 2, bad lines 5" in out
    for line, reason in [
        (4, "not a telephone number"),
        (5, "not a number of US"),
        (6, "duplicate of line 2"),
        (7, "kind"),
        (8, "not UTF-8"),
    ]:
        assert f"mixed.csv:{line}: " in err and reason in err
    assert len(list(ledger(url).export("default"))) == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"number,kind\n+14155550123,opt_in\n", "missing column(s): recipient"),
        (b"", "no header"),
        (b"recipient,kind,colour\n+14155550123,opt_in,red\n", "unknown column(s): colour"),
    ],
)
def test_a_file_that_cannot_be_read_imports_nothing(
    url: str, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(GOOD, "utf-8")
    assert run(url, "consent", "import", str(path))[0] == 0
    before = list(ledger(url).export("default"))
    path.write_bytes(content)
    code, _, err = run(url, "consent", "import", str(path))
    assert code == 2
    assert message in err and "nothing imported" in err
    assert list(ledger(url).export("default")) == before


def test_dnc_import_normalises_and_reports(url: str, tmp_path: Path) -> None:
    path = tmp_path / "dnc.csv"
    path.write_text(
        "name,phone\nAnn,(415) 555-0123\nBob,415.555.0124\nCy,+1 415 555 0123\nDi,hello\n",
        "utf-8",
    )
    code, out, err = run(url, "dnc", "import", str(path), "--account", "acme")
    assert code == 2
    assert "imported 2 (2 new, 0 already listed), bad lines 2" in out
    assert "dnc.csv:4: duplicate of line 2" in err
    assert "dnc.csv:5: 'hello' is not a telephone number" in err
    dnc = SqlDncStore(Database(url))
    assert dnc.listed("acme", "+14155550124")
    assert not dnc.listed("default", "+14155550124")
    plain = tmp_path / "plain.txt"
    plain.write_text("+14155550124\n+14155550199\n", "utf-8")
    code, out, _ = run(url, "dnc", "import", str(plain), "--account", "acme")
    assert code == 0 and "(1 new, 1 already listed)" in out
    code, out, _ = run(url, "consent", "show", "+14155550199", "--account", "acme")
    assert "do-not-call: listed" in out


def test_dnc_missing_column_and_bad_arguments(url: str, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("name,email\nAnn,ann@example.com\n", "utf-8")
    code, _, err = run(url, "dnc", "import", str(path))
    assert code == 2 and "missing column" in err
    code, _, err = run(url, "consent", "show", "not-a-number")
    assert code == 2 and "NUMBER" in err
    code, _, err = run(url, "consent", "history", "+14155550123", "--as-of", "last week")
    assert code == 2 and "--as-of" in err
    code, _, err = run(url, "consent", "import", str(tmp_path / "missing.csv"))
    assert code == 2 and "no such file" in err


def test_inbound_that_is_not_a_keyword_changes_nothing(url: str) -> None:
    code, out, _ = run(
        url, "inbound", "I can't stop laughing", "--from", "+14155550123", "--to", "+12025550143"
    )
    assert code == 0
    assert "intent: none" in out and "unknown -> unknown" in out and "auto-reply: none" in out
    assert ledger(url).history("default", "+14155550123") == []
