"""`aupguard serve`: the HTTP API under uvicorn, one or several worker processes.

Workers are separate processes that each build the app from the environment
(`AUPGUARD_*`), so the command writes its options into the environment before
it starts them. Every worker keeps its state in the database (SQLite embedded
by default, PostgreSQL with AUPGUARD_DATABASE_URL); N workers behave as one.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer
from pydantic import ValidationError

from aupguard.cli.app import app, console, fail
from aupguard.cli.common import load_engine
from aupguard.config import Settings


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on [default: 127.0.0.1].")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port [default: 8080; 0 picks a free one].")
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", "-w", help="Worker processes [default: 1].")
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="Database URL [default: AUPGUARD_DATABASE_URL or SQLite in the current folder].",
        ),
    ] = None,
    pack: Annotated[
        str | None, typer.Option("--pack", "-p", help="Policy pack [default: default].")
    ] = None,
    migrate: Annotated[
        bool | None,
        typer.Option("--migrate/--no-migrate", help="Bring the schema up to date first."),
    ] = None,
    access_log: Annotated[bool | None, typer.Option("--access-log/--no-access-log")] = None,
    log_level: Annotated[str | None, typer.Option(help="debug, info, warning, error.")] = None,
) -> None:
    """Run the HTTP API (POST /v1/screen, /healthz, /readyz, /openapi.json...)."""
    overrides = {
        "host": host,
        "port": port,
        "workers": workers,
        "database_url": database_url,
        "pack": pack,
        "migrate_on_start": migrate,
        "access_log": access_log,
        "log_level": log_level,
    }
    for name, value in overrides.items():
        if value is not None:
            os.environ[f"AUPGUARD_{name.upper()}"] = (
                str(value).lower() if isinstance(value, bool) else str(value)
            )
    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        fail(f"setting {'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
    if settings.log_level.lower() not in ("debug", "info", "warning", "error", "critical"):
        fail(f"--log-level: unknown level {settings.log_level!r}")
    engine = load_engine(settings.pack)  # a broken pack stops here, with its problems listed
    if settings.workers > 1 and engine.pack.lexicons.engine != "hyperscan":
        # compiled once here and cached, so that the workers read it instead of each
        # compiling it (see aupguard.engine.hsscan)
        console.print("compiling the pack's Hyperscan database for the workers", markup=False)
        engine.pack.lexicons.wait_for_hyperscan(300)
    if settings.migrate_on_start:
        from aupguard.store.db import Database
        from aupguard.store.migrate import upgrade

        try:
            db = Database(settings.database_url)
            upgrade(db)
            db.dispose()
        except Exception as exc:  # the database is unreachable or the URL is wrong
            fail(f"database {settings.database_url!r}: {type(exc).__name__}: {exc}".splitlines()[0])

    if settings.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        import tempfile

        # /metrics sums every worker's counters (aupguard.api.metrics)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="aupguard-metrics-")

    import uvicorn

    console.print(
        f"aupguard serving on http://{settings.host}:{settings.port} "
        f"with {settings.workers} worker(s), pack {settings.pack}",
        markup=False,
    )
    uvicorn.run(
        "aupguard.api:create_app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=10,
    )


@app.command("openapi")
def openapi_command() -> None:
    """Print the OpenAPI document of the HTTP API (the repository commits it as openapi.json)."""
    import json
    import sys

    from aupguard.api.openapi import build_openapi
    from aupguard.api.routes import ROUTERS

    sys.stdout.write(json.dumps(build_openapi(ROUTERS), indent=2, ensure_ascii=False) + "\n")
