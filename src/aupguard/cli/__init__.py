"""The `aupguard` command line."""

from __future__ import annotations

from aupguard.cli import db, demo, policy, screen, traffic
from aupguard.cli.app import app

__all__ = ["app", "db", "demo", "main", "policy", "screen", "traffic"]


def main() -> None:
    app()
