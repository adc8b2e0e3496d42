"""`aupguard keys ...` through typer's runner, on a fresh SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aupguard.api.keys import KeyManager
from aupguard.api.keys_sql import SqlKeyStore
from aupguard.cli import app
from aupguard.store.db import Database

runner = CliRunner()


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.sqlite'}"


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def authenticate(url: str, secret: str) -> object:
    db = Database(url)
    try:
        return KeyManager(SqlKeyStore(db), cache_seconds=0).authenticate(secret)
    finally:
        db.dispose()


def test_create_list_rotate_revoke(url: str) -> None:
    code, out = run(
        "keys",
        "create",
        "--tenant",
        "acme",
        "-s",
        "send,read",
        "--name",
        "app",
        "--url",
        url,
        "--json",
    )
    assert code == 0, out
    issued = json.loads(out)
    secret, key_id = issued["secret"], issued["key"]["id"]
    assert issued["key"]["scopes"] == ["read", "send"]
    assert authenticate(url, secret) is not None

    code, out = run("keys", "list", "--tenant", "acme", "--url", url, "--json")
    assert code == 0
    listed = json.loads(out)
    assert [k["id"] for k in listed] == [key_id]
    assert secret.split("_", 2)[2] not in out

    code, out = run("keys", "rotate", key_id, "--tenant", "acme", "--url", url, "--json")
    assert code == 0, out
    rotated = json.loads(out)
    assert authenticate(url, secret) is None
    assert authenticate(url, rotated["secret"]) is not None

    code, out = run("keys", "revoke", rotated["key"]["id"], "--tenant", "acme", "--url", url)
    assert code == 0, out
    assert "revoked" in out
    assert authenticate(url, rotated["secret"]) is None


def test_create_prints_the_secret_once_in_text_mode(url: str) -> None:
    code, out = run("keys", "create", "--staff", "-s", "reviewer", "--url", url)
    assert code == 0, out
    secret = next(line for line in out.splitlines() if line.startswith("aupg_"))
    actor = authenticate(url, secret)
    assert actor is not None
    code, listed = run("keys", "list", "--staff", "--url", url)
    assert code == 0
    assert secret not in listed
    assert "reviewer" in listed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["keys", "create", "--tenant", "acme", "-s", "root"], "unknown scope 'root'"),
        (["keys", "create", "-s", "send"], "--tenant"),
        (["keys", "create", "--tenant", "a", "--staff", "-s", "send"], "not both"),
        (["keys", "create", "--staff", "-s", "send"], "unknown staff role"),
        (["keys", "revoke", "0123456789abcdef", "--tenant", "acme"], "no key"),
        (["keys", "rotate", "0123456789abcdef", "--tenant", "acme"], "no key"),
    ],
)
def test_bad_input_exits_2_naming_it(url: str, args: list[str], message: str) -> None:
    code, out = run(*args, "--url", url)
    assert code == 2
    assert message in out
    assert "Traceback" not in out


def test_another_tenants_key_cannot_be_revoked_by_naming_the_wrong_tenant(url: str) -> None:
    code, out = run("keys", "create", "--tenant", "globex", "-s", "send", "--url", url, "--json")
    issued = json.loads(out)
    code, out = run("keys", "revoke", issued["key"]["id"], "--tenant", "acme", "--url", url)
    assert code == 2
    assert authenticate(url, issued["secret"]) is not None


def test_a_bad_database_url_exits_2(tmp_path: Path) -> None:
    code, out = run("keys", "list", "--tenant", "acme", "--url", "nosuchdb://x")
    assert code == 2
    assert "database" in out
