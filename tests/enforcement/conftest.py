"""A CLI runner on a fresh SQLite database with an audit signing key of its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from aupguard.audit.keys import generate_key_file
from aupguard.cli import app

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


@dataclass
class Cli:
    runner: CliRunner
    url: str
    public_key: str

    def __call__(self, *args: str, at: datetime | None = None, who: str | None = None) -> Result:
        argv = [*args, "--url", self.url]
        if at is not None:
            argv += ["--at", at.isoformat()]
        if who is not None:
            argv += ["--as", who]
        return self.runner.invoke(app, argv)

    def ok(self, *args: str, at: datetime | None = None, who: str | None = None) -> str:
        result = self(*args, at=at, who=who)
        assert result.exit_code == 0, (args, result.output)
        return result.output


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    signer = generate_key_file(tmp_path / "audit.pem")
    monkeypatch.setenv("AUPGUARD_AUDIT_KEY_FILE", str(tmp_path / "audit.pem"))
    monkeypatch.setenv("AUPGUARD_AUDIT_CHECKPOINT_EVERY", "5")
    monkeypatch.delenv("AUPGUARD_ACTOR", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    return Cli(CliRunner(), f"sqlite:///{tmp_path / 'aupguard.sqlite'}", signer.public_key)
