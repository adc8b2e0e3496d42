"""`aupguard db upgrade|current`: the database schema."""

from __future__ import annotations

from typing import Annotated

import typer

from aupguard.cli.app import app, console, fail
from aupguard.config import Settings
from aupguard.store.db import Database
from aupguard.store.migrate import current_heads, upgrade

db_app = typer.Typer(help="Create and migrate the database.", no_args_is_help=True)
app.add_typer(db_app, name="db")

UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="Database URL (default: AUPGUARD_DATABASE_URL or SQLite)."),
]


def _database(url: str | None) -> Database:
    try:
        return Database(url or Settings().database_url)
    except Exception as exc:  # the URL itself is bad: say so instead of a traceback
        fail(f"database URL: {exc}")


@db_app.command("upgrade")
def upgrade_command(url: UrlOption = None) -> None:
    """Create the tables, or migrate them to the newest revision."""
    db = _database(url)
    upgrade(db)
    console.print(f"database at {', '.join(sorted(current_heads(db)))}")


@db_app.command("current")
def current_command(url: UrlOption = None) -> None:
    """Show the revisions the database is at."""
    heads = current_heads(_database(url))
    console.print(", ".join(sorted(heads)) if heads else "empty (run: aupguard db upgrade)")
