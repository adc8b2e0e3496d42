"""`aupguard audit keygen|verify|checkpoint|list`: the tamper-evident audit log."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from aupguard.actors import Forbidden, Role, require, require_tenant
from aupguard.audit.keys import AuditKeyError, generate_key_file, load_public_key, load_signer
from aupguard.audit.sql import SqlAuditLog
from aupguard.audit.verify import verify_log
from aupguard.cli.app import app, console, errors, fail
from aupguard.cli.enforce import EXIT_REFUSED, parse_actor
from aupguard.config import Settings
from aupguard.store.db import Database
from aupguard.store.migrate import upgrade

audit_app = typer.Typer(
    help="Keys, verification and reading of the audit log.", no_args_is_help=True
)
app.add_typer(audit_app, name="audit")

UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="Database URL (default: AUPGUARD_DATABASE_URL or SQLite)."),
]
AsOption = Annotated[str | None, typer.Option("--as", help="Act as ID:ROLE or ID@TENANT:ROLE.")]


def _log(url: str | None, with_signer: bool = False) -> SqlAuditLog:
    signer = None
    if with_signer:
        try:
            signer = load_signer()
        except AuditKeyError as exc:
            fail(f"audit key: {exc}")
        if signer is None:
            fail("no signing key: set AUPGUARD_AUDIT_KEY_FILE (see: aupguard audit keygen)")
    try:
        db = Database(url or Settings().database_url)
        upgrade(db)
    except Exception as exc:  # a bad URL or unreachable server: say so, no traceback
        fail(f"database: {type(exc).__name__}: {str(exc)[:200]}")
    every = int(os.environ.get("AUPGUARD_AUDIT_CHECKPOINT_EVERY", "1000"))
    return SqlAuditLog(db, signer, checkpoint_every=every)


@audit_app.command("keygen")
def keygen(
    out: Annotated[
        Path, typer.Option("--out", help="Where to write the private key (PEM, mode 600).")
    ],
) -> None:
    """Make the Ed25519 key that signs checkpoints, scrub records and traceback bundles.

    Keep the file out of the repository and the database; point AUPGUARD_AUDIT_KEY_FILE
    at it. The public key printed here is what verifiers need."""
    try:
        signer = generate_key_file(out)
    except FileExistsError:
        fail(f"--out: {out} exists; a key is never overwritten")
    except OSError as exc:
        fail(f"--out: {out}: {exc.strerror}")
    console.print(f"private key: {out}")
    console.print(f"public key:  {signer.public_key}")


@audit_app.command("verify")
def verify(
    public_key: Annotated[
        str | None,
        typer.Option("--public-key", help="Base64 Ed25519 public key that signed the checkpoints."),
    ] = None,
    url: UrlOption = None,
) -> None:
    """Recompute the chain; exit 1 naming the first broken link."""
    key = None
    if public_key is not None:
        try:
            key = load_public_key(public_key)
        except AuditKeyError as exc:
            fail(f"--public-key: {exc}")
    else:
        try:
            signer = load_signer()
        except AuditKeyError as exc:
            fail(f"audit key: {exc}")
        if signer is not None:
            key = signer.key.public_key()
    result = verify_log(_log(url), key)
    if result.broken is not None:
        errors.print(
            f"[bold red]broken at seq {result.broken.seq}:[/] {result.broken.reason} "
            f"({result.entries} entries verified before it)"
        )
        raise typer.Exit(1)
    signed = f", {result.signatures_checked} signature(s) checked" if key else ""
    console.print(f"ok: {result.entries} entries, {result.checkpoints} checkpoint(s){signed}")
    for note in result.notes:
        console.print(f"note: {note}")


@audit_app.command("checkpoint")
def checkpoint(url: UrlOption = None) -> None:
    """Sign the head of the chain now."""
    point = _log(url, with_signer=True).checkpoint()
    if point is None:
        fail("the audit log is empty")
    console.print(f"checkpoint at seq {point.seq} {point.hash} by key {point.key_id}")


@audit_app.command("list")
def list_entries(
    account: Annotated[str, typer.Option("--account", "-a", help="The account (tenant).")],
    kind: Annotated[str | None, typer.Option("--kind", help="Only entries of this kind.")] = None,
    url: UrlOption = None,
    as_: AsOption = None,
) -> None:
    """One account's audit entries as JSON lines."""
    actor = parse_actor(as_)
    try:
        require(
            actor,
            Role.ADMIN,
            Role.REVIEWER,
            Role.LEGAL,
            Role.TENANT_ADMIN,
            action="read the audit log",
        )
        require_tenant(actor, account, action="read the audit log")
    except Forbidden as exc:
        errors.print(f"[bold red]refused:[/] {exc}")
        raise typer.Exit(EXIT_REFUSED) from None
    for entry in _log(url).entries(account, kind=kind):
        sys.stdout.write(json.dumps(entry.to_dict(), default=str) + "\n")
