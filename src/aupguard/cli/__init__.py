"""The `aupguard` command line."""

from __future__ import annotations

from aupguard.cli import demo, policy, screen
from aupguard.cli.app import app

__all__ = ["app", "demo", "main", "policy", "screen"]


def main() -> None:
    app()
