"""TOTP secrets sealed at rest with the console key (AES-256-GCM, the user id as
associated data), on SQLite and PostgreSQL, and the CLI that makes the key."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text, update
from typer.testing import CliRunner

from aupguard.cli import app
from aupguard.console import Accounts
from aupguard.console.secrets import PREFIX, ConsoleKeyError, SecretBox, new_key, open_secret
from aupguard.console.store_sql import SqlUserStore, UserRow
from aupguard.store.db import Database
from aupguard.store.migrate import upgrade
from tests.console.conftest import ADMIN, PASSWORD, cheap_passwords
from tests.services import postgres_database

runner = CliRunner()


def box() -> SecretBox:
    return SecretBox.from_text(new_key(), "test key")


def test_seal_and_open() -> None:
    key = box()
    sealed = key.seal("JBSWY3DPEHPK3PXP", "U1")
    assert sealed.startswith(PREFIX) and "JBSWY3DPEHPK3PXP" not in sealed
    assert key.open(sealed, "U1") == "JBSWY3DPEHPK3PXP"
    assert key.seal("JBSWY3DPEHPK3PXP", "U1") != sealed  # a fresh nonce each time
    with pytest.raises(ConsoleKeyError, match="does not open"):
        key.open(sealed, "U2")  # copied onto another user's row
    with pytest.raises(ConsoleKeyError, match="does not open"):
        box().open(sealed, "U1")  # another key
    assert open_secret(None, "JBSWY3DPEHPK3PXP", "U1") == "JBSWY3DPEHPK3PXP"  # clear
    with pytest.raises(ConsoleKeyError, match="AUPGUARD_CONSOLE_KEY"):
        open_secret(None, sealed, "U1")


def test_bad_keys_are_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AUPGUARD_CONSOLE_KEY", "not base64!")
    with pytest.raises(ConsoleKeyError, match="AUPGUARD_CONSOLE_KEY: not base64"):
        SecretBox.from_env()
    monkeypatch.setenv("AUPGUARD_CONSOLE_KEY", base64.b64encode(b"short").decode())
    with pytest.raises(ConsoleKeyError, match="must be 32 bytes"):
        SecretBox.from_env()
    monkeypatch.delenv("AUPGUARD_CONSOLE_KEY")
    monkeypatch.setenv("AUPGUARD_CONSOLE_KEY_FILE", str(tmp_path / "missing.key"))
    with pytest.raises(ConsoleKeyError, match="cannot read"):
        SecretBox.from_env()
    monkeypatch.delenv("AUPGUARD_CONSOLE_KEY_FILE")
    assert SecretBox.from_env() is None


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'console.sqlite'}")
        upgrade(database)
        yield database
        database.dispose()
        return
    with postgres_database() as url:
        database = Database(url)
        upgrade(database)
        yield database
        database.dispose()


def stored_secret(db: Database, user_id: str) -> str:
    with db.engine.connect() as conn:
        value = conn.execute(
            text("SELECT totp_secret FROM console_users WHERE id = :id"), {"id": user_id}
        ).scalar_one()
    return str(value)


def test_the_store_seals_secrets_with_the_key(db: Database) -> None:
    key = box()
    accounts = Accounts(SqlUserStore(db, key), cheap_passwords())
    user = accounts.create(ADMIN, "rita", None, ["reviewer"], PASSWORD).user
    raw = stored_secret(db, user.id)
    assert raw.startswith(PREFIX) and user.totp_secret not in raw
    found = accounts.users.find(None, user.id)
    assert found is not None and found.totp_secret == user.totp_secret
    with pytest.raises(ConsoleKeyError, match="is sealed"):
        SqlUserStore(db, None).find(None, user.id)
    with pytest.raises(ConsoleKeyError, match="does not open"):
        SqlUserStore(db, box()).find(None, user.id)


def test_secrets_stored_in_clear_are_read_and_sealed_later(db: Database) -> None:
    clear = Accounts(SqlUserStore(db, None), cheap_passwords())
    user = clear.create(ADMIN, "olga", None, ["reviewer"], PASSWORD).user
    assert stored_secret(db, user.id) == user.totp_secret
    key = box()
    store = SqlUserStore(db, key)
    found = store.find(None, user.id)
    assert found is not None and found.totp_secret == user.totp_secret
    assert store.seal_all() == 1
    assert stored_secret(db, user.id).startswith(PREFIX)
    assert store.seal_all() == 0
    again = store.find(None, user.id)
    assert again is not None and again.totp_secret == user.totp_secret
    # a row changed by hand no longer opens: refused, never read as a secret
    with db.engine.begin() as conn:
        conn.execute(
            update(UserRow).where(UserRow.id == user.id).values(totp_secret=PREFIX + "AAAA")
        )
    with pytest.raises(ConsoleKeyError):
        store.find(None, user.id)


def test_cli_keygen_and_sealing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "console.key"
    made = runner.invoke(app, ["console", "keygen", "--out", str(out)])
    assert made.exit_code == 0, made.output
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    key_text = out.read_text().strip()
    assert len(base64.b64decode(key_text)) == 32
    again = runner.invoke(app, ["console", "keygen", "--out", str(out)])
    assert again.exit_code == 2 and "exists" in again.output
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    clear = runner.invoke(
        app,
        ["console", "user-create", "--staff", "-r", "admin", "adam", "--url", url],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert clear.exit_code == 0, clear.output
    monkeypatch.setenv("AUPGUARD_CONSOLE_KEY_FILE", str(out))
    sealed = runner.invoke(app, ["console", "seal-secrets", "--url", url])
    assert sealed.exit_code == 0, sealed.output
    assert "1 TOTP secret(s) sealed" in sealed.output
    db = Database(url)
    user = SqlUserStore(db).by_name("adam")
    assert user is not None
    assert stored_secret(db, user.id).startswith(PREFIX)
    db.dispose()
    monkeypatch.setenv("AUPGUARD_CONSOLE_KEY_FILE", str(tmp_path / "none"))
    refused = runner.invoke(app, ["console", "users", "--staff", "--url", url])
    assert refused.exit_code == 2 and "cannot read" in refused.output
