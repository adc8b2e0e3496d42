"""`aupguard keys create|list|rotate|revoke`: API keys for tenants and staff.

The command acts as platform staff with the admin role: whoever runs it on the
server can reach the database anyway. Tenants' admins can manage their own
keys over HTTP (`/v1/keys`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table

from aupguard.actors import Actor, Role
from aupguard.api.keys import ApiKey, IssuedKey, KeyManager, KeyNotFound
from aupguard.api.keys_sql import SqlKeyStore
from aupguard.cli.app import app, console, errors, fail
from aupguard.config import Settings
from aupguard.store.db import Database
from aupguard.store.migrate import upgrade

keys_app = typer.Typer(help="Issue, list, rotate and revoke API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")

OPERATOR = Actor(id="cli", roles=frozenset({Role.ADMIN}))

UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="Database URL (default: AUPGUARD_DATABASE_URL or SQLite)."),
]
TenantOption = Annotated[
    str | None, typer.Option("--tenant", "-t", help="The tenant the key acts for.")
]
StaffOption = Annotated[bool, typer.Option("--staff", help="A staff key (no tenant; staff roles).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _manager(url: str | None) -> KeyManager:
    settings = Settings()
    try:
        db = Database(url or settings.database_url)
        upgrade(db)
    except Exception as exc:  # a wrong URL or an unreachable server: say so, no traceback
        fail(f"database: {type(exc).__name__}: {exc}".splitlines()[0])
    pepper = settings.key_pepper.get_secret_value().encode() if settings.key_pepper else b""
    return KeyManager(SqlKeyStore(db), pepper, cache_seconds=0)


def _owner(tenant: str | None, staff: bool) -> str | None:
    if staff and tenant:
        fail("give either --tenant or --staff, not both")
    if not staff and not tenant:
        fail("give --tenant TENANT (a tenant's key) or --staff (a staff key)")
    return None if staff else tenant


def _key_dict(key: ApiKey) -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "id": key.id,
        "tenant": key.tenant,
        "name": key.name,
        "scopes": list(key.scopes),
        "state": key.state(now),
        "created_at": key.created_at.isoformat(),
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
    }


def _show_issued(issued: IssuedKey, as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps({"key": _key_dict(issued.key), "secret": issued.secret}))
        return
    key = issued.key
    owner = f"tenant {key.tenant}" if key.tenant else "staff"
    console.print(f"key {key.id} for {owner}, scopes {', '.join(key.scopes)}", markup=False)
    console.print(issued.secret, markup=False, soft_wrap=True)
    errors.print("This is the only time the key is shown: store it now.")


@keys_app.command("create")
def create(
    tenant: TenantOption = None,
    staff: StaffOption = False,
    scope: Annotated[
        list[str] | None,
        typer.Option(
            "--scope",
            "-s",
            help="read, send, admin (tenant keys); reviewer, admin, legal (staff keys). Repeat or comma-separate.",
        ),
    ] = None,
    name: Annotated[str, typer.Option(help="What the key is for.")] = "",
    url: UrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Issue a key; its secret is printed this once and stored only as a digest."""
    owner = _owner(tenant, staff)
    scopes = [s for item in (scope or []) for s in item.split(",")]
    manager = _manager(url)
    try:
        issued = manager.issue(OPERATOR, owner, scopes, name)
    except ValueError as exc:
        fail(f"--scope/--tenant: {exc}")
    _show_issued(issued, as_json)


@keys_app.command("list")
def list_command(
    tenant: TenantOption = None,
    staff: StaffOption = False,
    url: UrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """The keys of a tenant (or the staff keys), never their secrets."""
    owner = _owner(tenant, staff)
    keys = _manager(url).list(OPERATOR, owner)
    if as_json:
        console.print_json(json.dumps([_key_dict(k) for k in keys]))
        return
    table = Table(
        title=f"API keys of {'staff' if owner is None else 'tenant ' + owner}", title_justify="left"
    )
    for column in ("id", "name", "scopes", "state", "created", "expires/revoked"):
        table.add_column(column, overflow="fold")
    for key in keys:
        data = _key_dict(key)
        table.add_row(
            key.id,
            key.name,
            ", ".join(key.scopes),
            str(data["state"]),
            str(data["created_at"])[:19],
            str(data["revoked_at"] or data["expires_at"] or "")[:19],
        )
    console.print(table)


@keys_app.command("rotate")
def rotate(
    key_id: Annotated[str, typer.Argument(help="The key id (the part after aupg_).")],
    tenant: TenantOption = None,
    staff: StaffOption = False,
    grace: Annotated[int, typer.Option(help="Seconds the old key keeps working.")] = 0,
    url: UrlOption = None,
    as_json: JsonOption = False,
) -> None:
    """Issue a replacement (same tenant, scopes and name); the old key stops now or after --grace."""
    owner = _owner(tenant, staff)
    try:
        issued = _manager(url).rotate(OPERATOR, owner, key_id, timedelta(seconds=grace))
    except KeyNotFound:
        fail(f"no key {key_id!r} for {'staff' if owner is None else 'tenant ' + repr(owner)}")
    except (ValueError, OverflowError) as exc:
        fail(f"--grace: {exc}")
    _show_issued(issued, as_json)


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (the part after aupg_).")],
    tenant: TenantOption = None,
    staff: StaffOption = False,
    url: UrlOption = None,
) -> None:
    """Stop a key from working (every server worker within AUPGUARD_KEY_CACHE_SECONDS)."""
    owner = _owner(tenant, staff)
    try:
        key = _manager(url).revoke(OPERATOR, owner, key_id)
    except KeyNotFound:
        fail(f"no key {key_id!r} for {'staff' if owner is None else 'tenant ' + repr(owner)}")
    console.print(f"key {key.id} revoked", markup=False)
