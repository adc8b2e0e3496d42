"""`aupguard account contact` and `aupguard notifications deliver`: telling customers.

An account's admin (or staff) names the webhook URL and e-mail address where
the account is told of enforcement actions, incidents and report steps;
`notifications deliver` POSTs the signed webhooks that are due (see
`aupguard.enforcement.notify`). Bad input exits 2 naming the option; a refused
actor exits 3 and the attempt is audited.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated

import httpx
import typer
from pydantic import ValidationError

from aupguard.cli.app import app, console, fail
from aupguard.cli.enforce import AsOption, AtOption, UrlOption, _context, _handled, account_app
from aupguard.enforcement import notify

__all__ = ["notifications_app"]

notifications_app = typer.Typer(
    help="Customer notifications: deliver the signed webhooks that are due.",
    no_args_is_help=True,
)
app.add_typer(notifications_app, name="notifications")

_FIELDS = {"webhook_url": "--webhook", "email": "--email"}


@account_app.command("contact")
def account_contact(
    account: str,
    webhook: Annotated[
        str | None, typer.Option("--webhook", help="http(s) URL the signed webhooks go to.")
    ] = None,
    email: Annotated[str | None, typer.Option("--email", help="Address for e-mails.")] = None,
    clear: Annotated[
        bool, typer.Option("--clear", help="Remove the webhook URL and e-mail address.")
    ] = False,
    url: UrlOption = None,
    as_: AsOption = None,
    at: AtOption = None,
) -> None:
    """Show, or with --webhook/--email/--clear set, where the account is told of actions."""
    ctx = _context(url, as_, at)
    with _handled():
        current = notify.contact(ctx.svc, ctx.actor, account)
        if webhook is None and email is None and not clear:
            shown = current.model_dump(mode="json") if current else {"tenant": account}
            console.print_json(json.dumps(shown))
            return
        keep_hook = None if clear or current is None else current.webhook_url
        keep_mail = None if clear or current is None else current.email
        try:
            made = notify.set_contact(
                ctx.svc,
                ctx.actor,
                account,
                webhook_url=webhook if webhook is not None else keep_hook,
                email=email if email is not None else keep_mail,
                now=ctx.now,
            )
        except ValidationError as exc:
            problem = exc.errors()[0]
            field = _FIELDS.get(str(problem["loc"][0]), str(problem["loc"][0]))
            fail(f"{field}: {problem['msg']}")
    console.print_json(json.dumps(made.model_dump(mode="json")))


@notifications_app.command("deliver")
def notifications_deliver(
    once: Annotated[bool, typer.Option("--once", help="One round, then exit.")] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=0.5, help="Seconds between rounds.")
    ] = 5.0,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Webhooks per round.")] = 100,
    url: UrlOption = None,
    at: AtOption = None,
) -> None:
    """POST the due webhooks to their accounts (retries with backoff; dead letters after 8)."""
    ctx = _context(url, "notifier:admin", at)
    with httpx.Client() as client:
        while True:
            now = ctx.now if at else datetime.now(UTC)  # the clock moves between rounds
            done = notify.deliver(ctx.svc, client, limit=limit, now=now)
            console.print_json(json.dumps(asdict(done)))
            if once:
                return
            time.sleep(interval)
