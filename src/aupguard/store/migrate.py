"""Alembic migrations, run from code (`aupguard db upgrade`).

Each domain (consent, enforcement, identity, gateway...) keeps its own branch
of revisions, starting from the common base revision with a `branch_labels`
of its own; `upgrade` brings every branch to its head. A table that needs
another domain's table names that revision in `depends_on`.
"""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from aupguard.store.db import Database

__all__ = ["alembic_config", "current_heads", "script_heads", "upgrade"]


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("aupguard.store").joinpath("migrations"))
    )
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(db: Database, target: str = "heads") -> None:
    """Bring the schema up to date (every branch to its head)."""
    config = alembic_config(db.url)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, target)


def current_heads(db: Database) -> set[str]:
    """The revisions the database is at."""
    if "alembic_version" not in inspect(db.engine).get_table_names():
        return set()
    with db.engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version")
        return {str(r[0]) for r in rows}


def script_heads() -> set[str]:
    """The newest revision of every branch shipped with this version of aupguard."""
    return set(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())
