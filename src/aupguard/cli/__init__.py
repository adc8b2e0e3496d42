"""The `aupguard` command line."""

from __future__ import annotations

from aupguard.cli import db, demo, eval, feeds, policy, screen
from aupguard.cli.app import app

__all__ = ["app", "db", "demo", "eval", "feeds", "main", "policy", "screen"]


def main() -> None:
    app()
