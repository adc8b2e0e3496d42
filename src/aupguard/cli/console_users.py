"""`aupguard console user-create|users|reset-2fa|revoke|keygen|seal-secrets`: console users
from the server's shell.

The command acts as platform staff with the admin role (whoever runs it on the
server can reach the database anyway); it is how the first administrator is
made. Later users can be made in the console's Users page.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from aupguard.actors import Actor, Role
from aupguard.cli.app import app, console, errors, fail
from aupguard.config import Settings
from aupguard.console.accounts import Accounts
from aupguard.console.passwords import WeakPassword
from aupguard.console.secrets import ConsoleKeyError, new_key
from aupguard.console.sessions import Sessions
from aupguard.console.store import ConsoleUser, DuplicateUser
from aupguard.console.store_sql import SqlSessionStore, SqlUserStore
from aupguard.store.db import Database
from aupguard.store.migrate import upgrade

console_app = typer.Typer(help="Users of the review console.", no_args_is_help=True)
app.add_typer(console_app, name="console")

OPERATOR = Actor(id="cli", roles=frozenset({Role.ADMIN}))

UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="Database URL (default: AUPGUARD_DATABASE_URL or SQLite)."),
]
TenantOption = Annotated[
    str | None, typer.Option("--tenant", "-t", help="The tenant the user belongs to.")
]
StaffOption = Annotated[
    bool, typer.Option("--staff", help="A platform staff user (staff roles, no tenant).")
]


def _accounts(url: str | None) -> Accounts:
    try:
        db = Database(url or Settings().database_url)
        upgrade(db)
    except Exception as exc:  # a wrong URL or an unreachable server: say so, no traceback
        fail(f"database: {type(exc).__name__}: {exc}".splitlines()[0])
    try:
        return Accounts(SqlUserStore(db))
    except ConsoleKeyError as exc:
        fail(str(exc))


def _owner(tenant: str | None, staff: bool) -> str | None:
    if staff and tenant:
        fail("give either --tenant or --staff, not both")
    if not staff and not tenant:
        fail("give --tenant TENANT (a tenant's user) or --staff (a staff user)")
    return None if staff else tenant


@console_app.command("user-create")
def user_create(
    name: Annotated[str, typer.Argument(help="Sign-in name (letters, digits, . _ - @ +).")],
    role: Annotated[
        list[str],
        typer.Option(
            "--role",
            "-r",
            help="reviewer, admin, legal (staff); tenant_admin, sender, viewer (tenant). Repeat or comma-separate.",
        ),
    ],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="AUPGUARD_CONSOLE_PASSWORD",
            help="Initial password (prompted for; or AUPGUARD_CONSOLE_PASSWORD).",
        ),
    ],
    tenant: TenantOption = None,
    staff: StaffOption = False,
    url: UrlOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Make a console user; prints the TOTP secret to enrol in an authenticator app."""
    owner = _owner(tenant, staff)
    roles = [r for item in role for r in item.split(",")]
    accounts = _accounts(url)
    try:
        made = accounts.create(OPERATOR, name, owner, roles, password)
    except WeakPassword as exc:
        fail(f"--password: {exc}")
    except DuplicateUser as exc:
        fail(f"NAME: {exc}")
    except ValueError as exc:
        fail(f"NAME/--role/--tenant: {exc}")
    user = made.user
    if as_json:
        console.print_json(
            json.dumps(
                {
                    **_user_dict(user),
                    "totp_secret": user.totp_secret,
                    "otpauth_uri": made.otpauth_uri,
                }
            )
        )
        return
    owner_text = f"tenant {user.tenant}" if user.tenant else "staff"
    console.print(
        f"console user {user.name} ({owner_text}), roles {', '.join(sorted(user.roles))}",
        markup=False,
    )
    console.print(f"TOTP secret: {user.totp_secret}", markup=False)
    console.print(f"enrolment link: {made.otpauth_uri}", markup=False, soft_wrap=True)
    errors.print(
        "Add the secret or the link to an authenticator app; the first sign-in asks for a code."
    )


def _user_dict(user: ConsoleUser) -> dict[str, object]:
    now = datetime.now(UTC)
    state = "revoked" if user.revoked_at else "active"
    if state == "active" and user.locked_until is not None and user.locked_until > now:
        state = "locked"
    return {
        "id": user.id,
        "name": user.name,
        "tenant": user.tenant,
        "roles": sorted(r.value for r in user.roles),
        "second_factor": "enrolled" if user.totp_confirmed else "not enrolled",
        "state": state,
        "created_at": user.created_at.isoformat(),
        "last_sign_in_at": user.last_sign_in_at.isoformat() if user.last_sign_in_at else None,
    }


@console_app.command("users")
def users(
    tenant: TenantOption = None,
    staff: StaffOption = False,
    url: UrlOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The console users of a tenant, or the staff users."""
    owner = _owner(tenant, staff)
    found = [_user_dict(u) for u in _accounts(url).users_of(OPERATOR, owner)]
    if as_json:
        console.print_json(json.dumps(found))
        return
    table = Table("name", "roles", "second factor", "state", "last sign-in")
    for u in found:
        table.add_row(
            str(u["name"]),
            ", ".join(u["roles"]),  # type: ignore[arg-type]
            str(u["second_factor"]),
            str(u["state"]),
            str(u["last_sign_in_at"] or "never"),
        )
    console.print(table)


def _by_name(accounts: Accounts, name: str) -> ConsoleUser:
    user = accounts.users.by_name(name.strip().lower())
    if user is None:
        fail(f"NAME: there is no console user {name!r}")
    return user


@console_app.command("reset-2fa")
def reset_2fa(
    name: Annotated[str, typer.Argument(help="The user's sign-in name.")],
    url: UrlOption = None,
) -> None:
    """A new TOTP secret for a user who lost theirs; their recovery codes and sessions end."""
    accounts = _accounts(url)
    user = _by_name(accounts, name)
    made = accounts.reset_second_factor(OPERATOR, user.tenant, user.id)
    Sessions(SqlSessionStore(_database(accounts))).end_user(user)
    console.print(f"TOTP secret: {made.user.totp_secret}", markup=False)
    console.print(f"enrolment link: {made.otpauth_uri}", markup=False, soft_wrap=True)
    errors.print(f"{user.name} enrols the new secret at the next sign-in; open sessions ended.")


@console_app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="The user's sign-in name.")],
    url: UrlOption = None,
) -> None:
    """Stop a user from signing in and end their sessions (someone who left)."""
    accounts = _accounts(url)
    user = _by_name(accounts, name)
    accounts.revoke(OPERATOR, user.tenant, user.id)
    ended = Sessions(SqlSessionStore(_database(accounts))).end_user(user)
    console.print(f"{user.name} is revoked; {ended} open session(s) ended.", markup=False)


def _database(accounts: Accounts) -> Database:
    store = accounts.users
    assert isinstance(store, SqlUserStore)
    return store.db


@console_app.command("keygen")
def keygen(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the key to this file (mode 600); default: print it."),
    ] = None,
) -> None:
    """A new console key, which seals TOTP secrets at rest (AUPGUARD_CONSOLE_KEY or _FILE)."""
    key = new_key()
    if out is None:
        console.print(key, markup=False)
        return
    try:
        with os.fdopen(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write(key + "\n")
    except FileExistsError:
        fail(f"--out: {out} exists; a key is never overwritten")
    except OSError as exc:
        fail(f"--out: {exc}")
    errors.print(f"key written to {out}; set AUPGUARD_CONSOLE_KEY_FILE={out}")


@console_app.command("seal-secrets")
def seal_secrets(url: UrlOption = None) -> None:
    """Seal, with the console key, the TOTP secrets stored before the key was set."""
    store = _accounts(url).users
    assert isinstance(store, SqlUserStore)
    try:
        sealed = store.seal_all()
    except ConsoleKeyError as exc:
        fail(str(exc))
    console.print(f"{sealed} TOTP secret(s) sealed.", markup=False)
