"""`aupguard consent import|export|show|history`, `aupguard dnc import` and
`aupguard inbound`: the consent ledger from the command line."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from aupguard.cli.app import app, console, errors, fail
from aupguard.cli.common import load_engine
from aupguard.config import Settings
from aupguard.consent.csvio import BadLine, FileProblem, parse_consent_csv, parse_dnc_csv
from aupguard.consent.csvio import write_consent_csv as _write_csv
from aupguard.consent.keywords import KeywordIndex
from aupguard.consent.model import ConsentEvent
from aupguard.consent.quiet_hours import QuietIndex
from aupguard.consent.service import record_inbound
from aupguard.consent.source import recipient_key
from aupguard.consent.sql import SqlConsentStore, SqlDncStore
from aupguard.consent.status import honour_terms, revocations, scope_states
from aupguard.consent.store import PLATFORM_LIST
from aupguard.engine.events import InboundMessage
from aupguard.identity.numbering import e164
from aupguard.store.db import Database
from aupguard.store.migrate import upgrade

consent_app = typer.Typer(
    help="The consent ledger: import, export, show, history.", no_args_is_help=True
)
dnc_app = typer.Typer(help="Do-not-call lists.", no_args_is_help=True)
app.add_typer(consent_app, name="consent")
app.add_typer(dnc_app, name="dnc")

UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="Database URL (default: AUPGUARD_DATABASE_URL or SQLite)."),
]
AccountOption = Annotated[str, typer.Option("--account", "-a", help="The account (tenant).")]
RegionOption = Annotated[
    str, typer.Option("--region", help="Region of numbers given without +country code.")
]
CountryOption = Annotated[
    str | None,
    typer.Option("--country", help="Refuse numbers of any other country (e.g. US)."),
]
BatchOption = Annotated[
    int, typer.Option("--batch", min=1, max=1_000_000, help="Rows per transaction.")
]


def _database(url: str | None) -> Database:
    try:
        db = Database(url or Settings().database_url)
        upgrade(db)
    except Exception as exc:  # a bad URL or unreachable server: say so, no traceback
        fail(f"database: {type(exc).__name__}: {str(exc)[:200]}")
    return db


def _moment(value: str | None, option: str) -> datetime:
    if value is None:
        return datetime.now(UTC)
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        fail(
            f"{option}: {value!r} is not an ISO date or time (e.g. 2026-03-01 or 2026-03-01T12:00Z)"
        )
    if moment.tzinfo is None:
        if len(text) == 10:  # a date: the end of that day
            moment = moment.replace(hour=23, minute=59, second=59)
        moment = moment.replace(tzinfo=UTC)
    return moment


def _read(path: Path) -> bytes:
    if str(path) == "-":
        return sys.stdin.buffer.read()
    if not path.is_file():
        fail(f"{path}: no such file")
    return path.read_bytes()


def _report(bad: list[BadLine], name: str) -> None:
    for item in bad:
        errors.print(f"{escape(name)}:{item.line}: {escape(item.reason)}", soft_wrap=True)


def _recipient(number: str, region: str) -> str:
    value = e164(number, region)
    if value is None:
        fail(f"NUMBER: {number!r} is not a telephone number")
    return value


@consent_app.command("import")
def consent_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV: recipient,kind[,at,scope,channel,method,source,wording,expires]; - for stdin."
        ),
    ],
    account: AccountOption = "default",
    url: UrlOption = None,
    region: RegionOption = "US",
    country: CountryOption = None,
    batch: BatchOption = 1000,
) -> None:
    """Import consent records (opt-ins with evidence, opt-outs) from CSV."""
    data = _read(file)
    try:
        parsed = parse_consent_csv(
            data, account, now=datetime.now(UTC), region=region, country=country
        )
    except FileProblem as exc:
        fail(f"{file}: {exc}; nothing imported")
    _report(parsed.bad, str(file))
    ledger = SqlConsentStore(_database(url))
    written = 0
    try:
        for start in range(0, len(parsed.good), batch):
            chunk = parsed.good[start : start + batch]
            ledger.append(chunk)
            written += len(chunk)
    except Exception as exc:
        fail(
            f"database: {type(exc).__name__}: {str(exc)[:200]}; "
            f"{written} record(s) were imported before it (in whole batches of {batch})"
        )
    console.print(f"imported {written}, bad lines {len(parsed.bad)}")
    if parsed.bad:
        raise typer.Exit(2)


@consent_app.command("export")
def consent_export(
    account: AccountOption = "default",
    url: UrlOption = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File (default: stdout).")
    ] = None,
) -> None:
    """Export the account's ledger as CSV (the format `consent import` reads)."""
    ledger = SqlConsentStore(_database(url))
    if output is None:
        count = _write_csv(ledger.export(account), sys.stdout)
    else:
        with output.open("w", encoding="utf-8", newline="") as handle:
            count = _write_csv(ledger.export(account), handle)
    errors.print(f"exported {count} record(s)")


def _by_scope(events: list[ConsentEvent], at: datetime) -> Table:
    """The state in effect per scope and channel (a ``*`` channel event covers them all)."""
    table = Table("scope", "channel", "status", "since", "method", "source", "wording")
    for state in scope_states(events, at):
        view = state.view
        e = view.event
        table.add_row(
            state.scope,
            state.channel,
            view.status.value,
            view.since.isoformat() if view.since else "",
            view.method or "",
            escape(e.source) if e else "",
            escape(e.wording[:60]) if e else "",
        )
    return table


def _deadlines(events: list[ConsentEvent], at: datetime, pack: str) -> None:
    """For each scope whose opt-out is in effect: when it came and the outer limit for
    honouring it (it is honoured at once: the ledger is read at every send)."""
    days, holidays = honour_terms(load_engine(pack).pack.data, "US")
    for r in revocations(events, at, days, holidays):
        state = "passed" if r.honour_by <= at else "open"
        console.print(
            f"opt-out {r.scope}: received {r.received.isoformat()}, in effect at once; "
            f"outer limit {r.honour_by.isoformat()} ({days} business days, {state})",
            soft_wrap=True,
        )


@consent_app.command("show")
def consent_show(
    number: Annotated[str, typer.Argument(help="The recipient's number.")],
    account: AccountOption = "default",
    url: UrlOption = None,
    region: RegionOption = "US",
    pack: Annotated[
        str, typer.Option("--pack", help="Policy pack (revocation deadline, holidays).")
    ] = "default",
) -> None:
    """Current consent of a recipient, per scope and channel, the deadline for honouring
    each opt-out (FCC: 10 business days), and do-not-call listing."""
    recipient = _recipient(number, region)
    db = _database(url)
    now = datetime.now(UTC)
    events = SqlConsentStore(db).history(account, recipient)
    dnc = SqlDncStore(db)
    console.print(
        f"{recipient} for account {escape(account)} at {now.isoformat(timespec='seconds')}"
    )
    if events:
        console.print(_by_scope(events, now))
        _deadlines(events, now, pack)
    else:
        console.print("no consent on record (unknown)")
    listed = dnc.listed(account, recipient) or dnc.listed(PLATFORM_LIST, recipient)
    console.print(f"do-not-call: {'listed' if listed else 'not listed'}")


@consent_app.command("history")
def consent_history(
    number: Annotated[str, typer.Argument(help="The recipient's number.")],
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Show the ledger as it stood then (a date means its end)."),
    ] = None,
    account: AccountOption = "default",
    url: UrlOption = None,
    region: RegionOption = "US",
) -> None:
    """Every ledger event of a recipient up to --as-of, and the state they add up to."""
    recipient = _recipient(number, region)
    when = _moment(as_of, "--as-of")
    events = SqlConsentStore(_database(url)).history(account, recipient, until=when)
    table = Table("at", "kind", "scope", "channel", "method", "source", "wording", "expires")
    for e in events:
        table.add_row(
            e.at.isoformat(),
            e.kind.value,
            e.scope,
            e.channel,
            e.method.value,
            escape(e.source),
            escape(e.wording[:60]),
            e.expires.isoformat() if e.expires else "",
        )
    console.print(f"{recipient} for account {escape(account)} as of {when.isoformat()}")
    console.print(table if events else "no events")
    if events:
        console.print(_by_scope(events, when))


@dnc_app.command("import")
def dnc_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV with a number column (number, phone...) or one number per line; - for stdin."
        ),
    ],
    account: AccountOption = "default",
    platform: Annotated[
        bool,
        typer.Option("--platform", help="A list for every account (e.g. a national registry)."),
    ] = False,
    url: UrlOption = None,
    region: RegionOption = "US",
    country: CountryOption = None,
    batch: BatchOption = 10_000,
) -> None:
    """Import a do-not-call list: numbers in any common formatting, stored as E.164."""
    data = _read(file)
    try:
        parsed = parse_dnc_csv(data, region=region, country=country)
    except FileProblem as exc:
        fail(f"{file}: {exc}; nothing imported")
    _report(parsed.bad, str(file))
    store = SqlDncStore(_database(url))
    tenant = PLATFORM_LIST if platform else account
    added = 0
    done = 0
    now = datetime.now(UTC)
    try:
        for start in range(0, len(parsed.good), batch):
            chunk = parsed.good[start : start + batch]
            added += store.add(tenant, chunk, file.name, now)
            done += len(chunk)
    except Exception as exc:
        fail(
            f"database: {type(exc).__name__}: {str(exc)[:200]}; "
            f"{done} number(s) were imported before it (in whole batches of {batch})"
        )
    console.print(
        f"imported {done} ({added} new, {done - added} already listed), bad lines {len(parsed.bad)}"
    )
    if parsed.bad:
        raise typer.Exit(2)


@app.command("inbound")
def inbound(
    body: Annotated[str, typer.Argument(help="The reply's text, e.g. STOP.")],
    sender: Annotated[str, typer.Option("--from", help="Who replied (the recipient).")],
    to: Annotated[str, typer.Option("--to", help="The account's number the reply went to.")],
    brand: Annotated[
        str | None,
        typer.Option("--brand", help="The brand the number sends for (the opt-out's scope)."),
    ] = None,
    account: AccountOption = "default",
    at: Annotated[str | None, typer.Option("--at", help="When it arrived (default: now).")] = None,
    channel: Annotated[str, typer.Option("--channel", help="sms, mms, whatsapp, rcs...")] = "sms",
    url: UrlOption = None,
    region: RegionOption = "US",
    pack: Annotated[
        str, typer.Option("--pack", help="Policy pack (keywords and replies).")
    ] = "default",
) -> None:
    """Process an inbound reply: update the ledger, print the change and the auto-reply."""
    moment = _moment(at, "--at")
    if channel not in {"sms", "mms", "whatsapp", "rcs", "chat"}:
        fail(f"--channel: {channel!r} is not one of sms, mms, whatsapp, rcs, chat")
    event = InboundMessage.model_validate(
        {
            "from": _recipient(sender, region),
            "to": recipient_key(to),
            "body": body,
            "account": account,
            "channel": channel,
            "at": moment,
        }
    )
    data = load_engine(pack).pack.data
    keywords = data.get("consent_keywords")
    if not isinstance(keywords, KeywordIndex):
        fail(f"pack {pack!r} has no consent_keywords dataset")
    quiet = data.get("quiet_hours")
    holidays = quiet.holidays_of("US") if isinstance(quiet, QuietIndex) else frozenset()
    outcome = record_inbound(
        SqlConsentStore(_database(url)), keywords, event, moment, brand=brand, holidays=holidays
    )
    intent = outcome.intent
    console.print(
        f"intent: {intent.kind.value} (confidence {intent.confidence:.2f}"
        + (f", matched {intent.matched!r} by {intent.how}" if intent.matched else "")
        + ")"
    )
    console.print(f"ledger: {outcome.before.status.value} -> {outcome.after.status.value}")
    if outcome.recorded is not None:
        r = outcome.recorded
        console.print(
            f"recorded: {r.kind.value} scope={r.scope} channel={r.channel} "
            f"recipient={r.recipient} at={r.at.isoformat()}"
        )
    if outcome.honour_by is not None:
        console.print(f"honour by: {outcome.honour_by.isoformat()} (in effect now)")
    if outcome.reply is not None:
        console.print(f"auto-reply: {escape(outcome.reply)}")
        if outcome.reply_by is not None:
            console.print(f"send by: {outcome.reply_by.isoformat()}")
    else:
        repeated = outcome.recorded is not None and outcome.before.status is outcome.after.status
        note = " (no change: the confirmation was sent the first time)" if repeated else ""
        console.print(f"auto-reply: none{note}")
