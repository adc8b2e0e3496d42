"""The `aupguard` command line."""

from __future__ import annotations

from aupguard.cli import (
    audit,
    consent,
    console_users,
    db,
    demo,
    enforce,
    eval,
    feeds,
    identity,
    incidents,
    keys,
    notify,
    policy,
    screen,
    serve,
    traffic,
)
from aupguard.cli.app import app

__all__ = [
    "app",
    "audit",
    "consent",
    "console_users",
    "db",
    "demo",
    "enforce",
    "eval",
    "feeds",
    "identity",
    "incidents",
    "keys",
    "main",
    "notify",
    "policy",
    "screen",
    "serve",
    "traffic",
]


def main() -> None:
    app()
