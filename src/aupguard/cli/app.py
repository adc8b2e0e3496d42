"""The typer applications the command modules attach to."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer
from rich.console import Console

app = typer.Typer(
    name="aupguard",
    help="Acceptable-use-policy enforcement for messages, calls and API traffic.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
policy_app = typer.Typer(help="Check, test, cover and compare policy packs.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)

EXIT_BAD_INPUT = 2
"""Exit status for input the command cannot use (a bad pack, file, field or line)."""


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    errors.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(code)


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()
