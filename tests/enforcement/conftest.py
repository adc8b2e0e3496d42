"""A CLI runner on a fresh SQLite database with an audit signing key of its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner, Result

from aupguard import Engine
from aupguard.audit import MemoryAuditLog
from aupguard.audit.keys import Signer, generate_key_file
from aupguard.cli import app
from aupguard.enforcement.service import Enforcement
from aupguard.enforcement.store import MemoryRecordStore

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
SERVICE_T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
"""Where the service tests' clock starts."""


class Clock:
    def __init__(self) -> None:
        self.now = SERVICE_T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def svc(engine: Engine, clock: Clock) -> Enforcement:
    """The enforcement service on the in-memory store, with a signing key and the clock."""
    signer = Signer(Ed25519PrivateKey.generate())
    store = MemoryRecordStore(MemoryAuditLog(signer, checkpoint_every=10, clock=clock))
    return Enforcement(store, engine.pack.data, signer=signer, clock=clock)


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
