"""`aupguard console user-create` and `aupguard console users`."""

from __future__ import annotations

import json
from pathlib import Path

import pyotp
from typer.testing import CliRunner

from aupguard.cli import app
from aupguard.console import Accounts
from aupguard.console.sessions import Sessions
from aupguard.console.store import Stage
from aupguard.console.store_sql import SqlSessionStore, SqlUserStore
from aupguard.store.db import Database

runner = CliRunner()
PASSWORD = "correct horse battery staple"


def test_user_create_prints_the_enrolment_secret(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    made = runner.invoke(
        app,
        ["console", "user-create", "--staff", "--role", "reviewer", "rita", "--url", url],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert made.exit_code == 0, made.output
    assert "console user rita (staff), roles reviewer" in made.output
    secret = made.output.split("TOTP secret: ")[1].split()[0]
    assert "otpauth://totp/aupguard:rita?secret=" + secret in made.output
    db = Database(url)
    accounts = Accounts(SqlUserStore(db))
    user = accounts.users.by_name("rita")
    assert user is not None
    assert user.totp_secret == secret
    assert accounts.check_password("rita", PASSWORD).ok
    assert pyotp.TOTP(secret).now().isdigit()
    db.dispose()


def test_user_create_for_a_tenant_and_listing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    made = runner.invoke(
        app,
        [
            "console",
            "user-create",
            "-t",
            "acme",
            "-r",
            "tenant_admin,viewer",
            "ann",
            "--url",
            url,
            "--json",
        ],
        env={"AUPGUARD_CONSOLE_PASSWORD": PASSWORD},
    )
    assert made.exit_code == 0, made.output
    shown = json.loads(made.output)
    assert shown["tenant"] == "acme"
    assert shown["roles"] == ["tenant_admin", "viewer"]
    assert shown["otpauth_uri"].startswith("otpauth://")
    listed = runner.invoke(app, ["console", "users", "-t", "acme", "--url", url, "--json"])
    assert listed.exit_code == 0, listed.output
    assert [u["name"] for u in json.loads(listed.output)] == ["ann"]
    assert "totp_secret" not in listed.output
    staff = runner.invoke(app, ["console", "users", "--staff", "--url", url])
    assert staff.exit_code == 0
    assert "ann" not in staff.output
    table = runner.invoke(app, ["console", "users", "-t", "acme", "--url", url])
    assert "not enrolled" in table.output


def test_bad_input_exits_2_naming_the_field(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"

    def create(*args: str, password: str = PASSWORD) -> tuple[int, str]:
        result = runner.invoke(
            app,
            ["console", "user-create", *args, "--url", url],
            env={"AUPGUARD_CONSOLE_PASSWORD": password},
        )
        return result.exit_code, result.output

    code, out = create("--staff", "-r", "reviewer", "rita", password="password123")
    assert code == 2
    assert "--password" in out
    code, out = create("--staff", "-r", "sender", "rita")
    assert code == 2
    assert "unknown role 'sender'" in out
    code, out = create("-r", "reviewer", "rita")
    assert code == 2
    assert "--tenant" in out
    code, out = create("--staff", "-t", "acme", "-r", "reviewer", "rita")
    assert code == 2
    assert create("--staff", "-r", "reviewer", "rita")[0] == 0
    code, out = create("--staff", "-r", "reviewer", "RITA")
    assert code == 2
    assert "exists already" in out
    code, out = create("--staff", "-r", "reviewer", "x")
    assert code == 2
    assert "user name" in out
    bad_db = runner.invoke(
        app,
        ["console", "users", "--staff", "--url", "postgresql://nobody@127.0.0.1:1/none"],
    )
    assert bad_db.exit_code == 2
    assert "database" in bad_db.output


def test_reset_2fa_and_revoke(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    made = runner.invoke(
        app,
        ["console", "user-create", "--staff", "-r", "admin", "adam", "--url", url, "--json"],
        env={"AUPGUARD_CONSOLE_PASSWORD": PASSWORD},
    )
    first = json.loads(made.output)["totp_secret"]
    db = Database(url)
    accounts = Accounts(SqlUserStore(db))
    sessions = Sessions(SqlSessionStore(db))
    user = accounts.users.by_name("adam")
    assert user is not None
    open_session = sessions.start(Stage.SIGNED_IN, user)

    reset = runner.invoke(app, ["console", "reset-2fa", "ADAM", "--url", url])
    assert reset.exit_code == 0, reset.output
    second = reset.output.split("TOTP secret: ")[1].split()[0]
    assert second != first
    after = accounts.users.by_name("adam")
    assert after is not None
    assert after.totp_secret == second
    assert not after.totp_confirmed
    assert sessions.load(open_session.id) is None

    again = sessions.start(Stage.SIGNED_IN, after)
    revoked = runner.invoke(app, ["console", "revoke", "adam", "--url", url])
    assert revoked.exit_code == 0, revoked.output
    assert "1 open session(s) ended" in revoked.output
    assert sessions.load(again.id) is None
    assert not accounts.check_password("adam", PASSWORD).ok
    missing = runner.invoke(app, ["console", "revoke", "nobody", "--url", url])
    assert missing.exit_code == 2
    assert "no console user 'nobody'" in missing.output
    db.dispose()
