"""`aupguard incident open|list|show|update`: the incident register (V2 S5 O2).

Staff record, list and move incidents on; a tenant's admin (``--as
ID@TENANT:tenant_admin``) reports and sees its own account's. ``--account
_platform`` is a platform-wide incident (staff only). Bad input exits 2 naming
the field; a refused actor exits 3 and the attempt is audited.
"""

from __future__ import annotations

from typing import Annotated, Literal, cast, get_args

import typer
from pydantic import ValidationError

from aupguard.audit.chain import PLATFORM
from aupguard.cli.app import app, console, errors, fail
from aupguard.cli.enforce import (
    AsOption,
    AtOption,
    JsonOption,
    UrlOption,
    _context,
    _handled,
    _print,
    print_records,
)
from aupguard.enforcement import incidents as register
from aupguard.enforcement.records import Incident, IncidentKind, IncidentStatus

__all__ = ["incident_app"]

incident_app = typer.Typer(
    help="Security incidents: report, list, show, contain and resolve.", no_args_is_help=True
)
app.add_typer(incident_app, name="incident")

AccountArg = Annotated[
    str,
    typer.Option("--account", "-a", help=f"The account (tenant); {PLATFORM} for the platform."),
]
Severity = Literal["low", "medium", "high", "critical"]
_OPTIONS = {
    "kind": "--kind",
    "severity": "--severity",
    "description": "--description",
    "detected_at": "--detected",
    "keys": "--key",
    "users": "--user",
}


def _row(i: Incident) -> list[str]:
    return [
        i.tenant,
        i.id,
        i.kind,
        i.severity,
        i.status,
        i.source,
        i.detected_at.isoformat(),
        ",".join(i.keys),
        i.description[:60],
    ]


@incident_app.command("open")
def incident_open(
    account: AccountArg,
    kind: Annotated[str, typer.Option("--kind", help=", ".join(get_args(IncidentKind)))],
    severity: Annotated[str, typer.Option("--severity", help="low, medium, high, critical.")],
    description: Annotated[str, typer.Option("--description", help="What happened.")],
    detected: Annotated[
        str | None,
        typer.Option("--detected", help="When it was found (ISO 8601; default: now)."),
    ] = None,
    key: Annotated[
        list[str] | None, typer.Option("--key", help="An affected API key id (repeatable).")
    ] = None,
    user: Annotated[
        list[str] | None, typer.Option("--user", help="An affected user (repeatable).")
    ] = None,
    url: UrlOption = None,
    as_: AsOption = None,
    at: AtOption = None,
) -> None:
    """Record an incident; the account is notified (e-mail and signed webhook in the
    outbox), and a compromised key is held or revoked as the pack says."""
    ctx = _context(url, as_, at)
    try:
        report = register.IncidentReport.model_validate(
            {
                "kind": kind,
                "severity": severity,
                "description": description,
                "detected_at": detected.replace("Z", "+00:00") if detected else ctx.now,
                "keys": key or (),
                "users": user or (),
            }
        )
    except ValidationError as exc:
        for problem in exc.errors():
            field = str(problem["loc"][0]) if problem["loc"] else "incident"
            errors.print(f"[bold red]error:[/] {_OPTIONS.get(field, field)}: {problem['msg']}")
        raise typer.Exit(2) from None
    with _handled():
        found = register.open_incident(ctx.svc, ctx.actor, account, report)
    held = f"; held keys: {', '.join(found.held_keys)}" if found.held_keys else ""
    revoked = f"; revoked keys: {', '.join(found.revoked_keys)}" if found.revoked_keys else ""
    console.print(f"{found.id} open ({found.kind}, {found.severity}){held}{revoked}")


@incident_app.command("list")
def incident_list(
    account: Annotated[
        str | None,
        typer.Option("--account", "-a", help="One account (default: all, staff only)."),
    ] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="open, contained, resolved.")
    ] = None,
    url: UrlOption = None,
    as_: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    ctx = _context(url, as_, None)
    with _handled():
        found = register.incidents(ctx.svc, ctx.actor, account, status)
    columns = (
        "account", "id", "kind", "severity", "status", "source", "detected", "keys", "description"
    )  # fmt: skip
    print_records(found, as_json, columns, _row)


@incident_app.command("show")
def incident_show(
    incident_id: str, account: AccountArg, url: UrlOption = None, as_: AsOption = None
) -> None:
    ctx = _context(url, as_, None)
    with _handled():
        found = register.incident(ctx.svc, ctx.actor, account, incident_id)
    _print(found.model_dump(mode="json"), True)


@incident_app.command("update")
def incident_update(
    incident_id: str,
    account: AccountArg,
    note: Annotated[str, typer.Option("--note", help="What was done or found.")],
    status: Annotated[str | None, typer.Option("--status", help="contained or resolved.")] = None,
    severity: Annotated[str | None, typer.Option("--severity", help="A new severity.")] = None,
    url: UrlOption = None,
    as_: AsOption = None,
    at: AtOption = None,
) -> None:
    """Add a note; move the incident on (contained, resolved) or change its severity.
    Containing it releases the keys it held."""
    ctx = _context(url, as_, at)
    if status is not None and status not in ("contained", "resolved"):
        fail("--status: contained or resolved")
    if severity is not None and severity not in get_args(Severity):
        fail("--severity: low, medium, high or critical")
    with _handled():
        found = register.update_incident(
            ctx.svc,
            ctx.actor,
            account,
            incident_id,
            note,
            status=cast(IncidentStatus | None, status),
            severity=cast(Severity | None, severity),
        )
    console.print(f"{found.id} {found.status} ({found.severity})")
