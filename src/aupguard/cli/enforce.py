"""`aupguard enforce|case|report|account|legal|penalty|traceback|policy versions`.

Every command acts as an actor given by ``--as ID:ROLE[,ROLE]`` (a staff member)
or ``--as ID@TENANT:ROLE`` (a tenant's user); the default is
``AUPGUARD_ACTOR``, else ``operator:admin`` (whoever runs the command on the
server). An actor without the role is refused with exit status 3, and the
attempt is in the audit log. Bad input exits 2 naming the field.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.table import Table

from aupguard.actors import Actor, Forbidden, Role
from aupguard.api.keys import KeyManager
from aupguard.api.keys_sql import SqlKeyStore
from aupguard.audit.keys import AuditKeyError, load_signer
from aupguard.audit.sql import SqlAuditLog
from aupguard.cli.app import app, console, errors, fail, policy_app
from aupguard.config import Settings
from aupguard.enforcement import legal, lifecycle, penalties, reports, traceback, versions
from aupguard.enforcement.datasets import STEPS
from aupguard.enforcement.records import Case
from aupguard.enforcement.service import Enforcement, EnforcementError
from aupguard.enforcement.sources import CandidateStep, StandingSource
from aupguard.enforcement.sql import SqlRecordStore
from aupguard.engine.events import OutboundMessage
from aupguard.engine.facade import Engine
from aupguard.service import Screener
from aupguard.store.db import Database
from aupguard.store.migrate import upgrade

__all__ = ["EXIT_REFUSED", "parse_actor", "print_records"]

EXIT_REFUSED = 3
"""Exit status when the acting actor lacks the role (the attempt is audited)."""

enforce_app = typer.Typer(
    help="Screen with enforcement, run the worker, act and reinstate.", no_args_is_help=True
)
case_app = typer.Typer(
    help="Cases: list, open, assign, note, decide, appeal, overdue.", no_args_is_help=True
)
report_app = typer.Typer(
    help="Abuse reports: file one, see a reporter's record.", no_args_is_help=True
)
account_app = typer.Typer(
    help="Account standing: billing events, lifecycle job, content, export, scrub.",
    no_args_is_help=True,
)
legal_app = typer.Typer(
    help="The register of legal requests and disclosures.", no_args_is_help=True
)
penalty_app = typer.Typer(help="Operator fines passed on to accounts.", no_args_is_help=True)
versions_app = typer.Typer(
    help="Policy versions, change notices and acceptance.", no_args_is_help=True
)
app.add_typer(enforce_app, name="enforce")
app.add_typer(case_app, name="case")
app.add_typer(report_app, name="report")
app.add_typer(account_app, name="account")
app.add_typer(legal_app, name="legal")
app.add_typer(penalty_app, name="penalty")
policy_app.add_typer(versions_app, name="versions")

UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="Database URL (default: AUPGUARD_DATABASE_URL or SQLite)."),
]
AsOption = Annotated[
    str | None,
    typer.Option(
        "--as",
        help="Act as ID:ROLE[,ROLE] (staff) or ID@TENANT:ROLE (default: AUPGUARD_ACTOR or operator:admin).",
    ),
]
AtOption = Annotated[
    str | None, typer.Option("--at", help="The time (ISO 8601 or epoch seconds; default: now).")
]
AccountOption = Annotated[str, typer.Option("--account", "-a", help="The account (tenant).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def parse_actor(text: str | None) -> Actor:
    value = text or os.environ.get("AUPGUARD_ACTOR") or "operator:admin"
    who, sep, roles_text = value.partition(":")
    if not sep or not who or not roles_text:
        fail(f"--as: {value!r} is not ID:ROLE[,ROLE] or ID@TENANT:ROLE")
    ident, _, tenant = who.partition("@")
    try:
        roles = frozenset(Role(r.strip()) for r in roles_text.split(",") if r.strip())
        return Actor(ident, roles, tenant or None)
    except ValueError as exc:
        known = ", ".join(r.value for r in Role)
        fail(f"--as: {exc} (roles: {known}; tenant roles need ID@TENANT)")


def parse_time(text: str | None, option: str = "--at") -> datetime:
    if text is None:
        return datetime.now(UTC)
    value = text.strip()
    if value.isdigit():
        return datetime.fromtimestamp(int(value), UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{option}: {text!r} is neither an ISO time nor seconds since the epoch")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@lru_cache(maxsize=4)
def _engine(pack: str) -> Engine:
    """The compiled pack, once per process (a test runs many commands in one)."""
    return Engine.from_pack(pack)


@dataclass
class Context:
    svc: Enforcement
    engine: Engine
    actor: Actor
    now: datetime
    keys: KeyManager


def _context(url: str | None, as_: str | None, at: str | None) -> Context:
    actor = parse_actor(as_)
    now = parse_time(at)
    settings = Settings()
    try:
        signer = load_signer()
    except AuditKeyError as exc:
        fail(f"audit key: {exc}")
    try:
        db = Database(url or settings.database_url)
        upgrade(db)
    except Exception as exc:  # a bad URL or unreachable server: say so, no traceback
        fail(f"database: {type(exc).__name__}: {str(exc)[:200]}")
    every = int(os.environ.get("AUPGUARD_AUDIT_CHECKPOINT_EVERY", "1000"))
    audit = SqlAuditLog(db, signer, checkpoint_every=every)
    engine = _engine(settings.pack)
    svc = Enforcement(SqlRecordStore(db, audit), engine.pack.data, signer=signer, clock=lambda: now)
    pepper = settings.key_pepper.get_secret_value().encode() if settings.key_pepper else b""
    keys = KeyManager(SqlKeyStore(db), pepper, cache_seconds=0)
    svc.revoke_key = keys.revoke_compromised
    return Context(svc, engine, actor, now, keys)


@contextmanager
def _handled() -> Iterator[None]:
    try:
        yield
    except Forbidden as exc:
        errors.print(f"[bold red]refused:[/] {exc} (the attempt is recorded in the audit log)")
        raise typer.Exit(EXIT_REFUSED) from None
    except reports.ReportInvalid as exc:
        for field, why in exc.problems.items():
            errors.print(f"[bold red]error:[/] {field}: {why}")
        raise typer.Exit(2) from None
    except EnforcementError as exc:
        fail(f"{exc.field}: {exc}" if exc.field else str(exc))


def _print(data: Any, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    else:
        console.print(data)


def print_records(
    found: Sequence[BaseModel],
    as_json: bool,
    columns: Sequence[str],
    row: Callable[[Any], list[str]],
) -> None:
    """Records as JSON, or as a table with one row each."""
    if as_json:
        _print([r.model_dump(mode="json") for r in found], True)
        return
    table = Table(*columns)
    for record in found:
        table.add_row(*row(record))
    console.print(table)


# -- enforce ---------------------------------------------------------------------------------


@enforce_app.command("screen")
def screen_command(
    body: Annotated[str, typer.Argument(help="Message text.")],
    account: AccountOption = "default",
    sender: Annotated[
        str, typer.Option("--from", help="Sending number or sender id.")
    ] = "+12025550143",
    to: Annotated[str, typer.Option("--to", help="Recipient.")] = "+14155550123",
    channel: Annotated[str, typer.Option("--channel", help="sms, mms, whatsapp...")] = "sms",
    event_id: Annotated[str | None, typer.Option("--id", help="Message id.")] = None,
    url: UrlOption = None,
    as_: AsOption = None,
    at: AtOption = None,
    as_json: JsonOption = False,
) -> None:
    """Screen one message with the account's standing, then run the enforcement worker."""
    ctx = _context(url, as_, at)
    try:
        event = OutboundMessage.model_validate(
            {
                "id": event_id,
                "account": account,
                "from": sender,
                "to": to,
                "channel": channel,
                "body": body,
                "at": ctx.now,
            }
        )
    except ValueError as exc:
        fail(f"message: {str(exc).splitlines()[0]}")
    step = CandidateStep(ctx.svc, key_owner=ctx.keys.owner)
    screener = Screener(
        ctx.engine, sources=[StandingSource(ctx.svc)], after=[step], clock=lambda: ctx.now
    )
    decision = screener.screen(event, ctx.now)
    with _handled():
        step.flush()
        done = ctx.svc.drain(ctx.now)
        versions.record_use(ctx.svc, step.senders, ctx.now)
    rules = [h.rule for h in decision.hits]
    result = {
        "verdict": decision.verdict.value,
        "rules": rules,
        "clauses": list(decision.clauses),
        "code": decision.code,
        "retry_after": decision.retry_after,
        "enforcement": done,
    }
    if as_json:
        _print(result, True)
        return
    console.print(f"{decision.verdict.value} {' '.join(rules)}".rstrip())
    for line in done:
        console.print(f"  enforcement: {line}")


@enforce_app.command("drain")
def drain_command(url: UrlOption = None, at: AtOption = None) -> None:
    """Process queued rule hits: open cases, take immediate actions."""
    ctx = _context(url, None, at)
    with _handled():
        for line in ctx.svc.drain(ctx.now):
            console.print(line)


@enforce_app.command("act")
def act_command(
    account: Annotated[str, typer.Argument(help="The account.")],
    step: Annotated[str, typer.Argument(help=f"One of {', '.join(STEPS)}.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (shown to the customer).")],
    target: Annotated[
        str, typer.Option("--target", help="channel:<name> or sender:<id> for suspend_channel.")
    ] = "",
    case: Annotated[str | None, typer.Option("--case", help="The case that caused it.")] = None,
    url: UrlOption = None,
    as_: AsOption = None,
    at: AtOption = None,
) -> None:
    """Take a ladder step against an account by hand."""
    ctx = _context(url, as_, at)
    if step not in STEPS:
        fail(f"step: {step!r} is not one of {', '.join(STEPS)}")
    with _handled():
        action = ctx.svc.act(ctx.actor, account, step, reason, target=target, case=case)
    console.print(f"{action.id} {action.step} {action.target}".rstrip())


@enforce_app.command("reinstate")
def reinstate_command(
    account: Annotated[str, typer.Argument(help="The account.")],
    action: Annotated[str, typer.Argument(help="The action id to reverse.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it is reversed.")],
    url: UrlOption = None,
    as_: AsOption = None,
    at: AtOption = None,
) -> None:
    """Reverse an enforcement action."""
    ctx = _context(url, as_, at)
    with _handled():
        ctx.svc.reinstate(ctx.actor, account, action, reason)
        standing = ctx.svc.standing(account)
    console.print(f"reversed {action}; {account} is {standing.status}")


@enforce_app.command("actions")
def actions_command(
    account: Annotated[str, typer.Argument(help="The account.")],
    url: UrlOption = None,
    as_: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """The account's enforcement actions, with their causes."""
    ctx = _context(url, as_, None)
    with _handled():
        ctx.svc.guard(
            ctx.actor,
            Role.REVIEWER,
            Role.ADMIN,
            Role.TENANT_ADMIN,
            action="see actions",
            tenant=account,
        )
        found = ctx.svc.actions(account)
    if as_json:
        _print([a.model_dump(mode="json") for a in found], True)
        return
    table = Table("id", "step", "target", "status", "by", "reason", "case")
    for a in found:
        table.add_row(a.id, a.step, a.target, a.status, a.by, a.reason, a.case or "")
    console.print(table)


# -- cases -----------------------------------------------------------------------------------


def _case_row(case: Case) -> list[str]:
    return [
        case.id,
        case.type,
        case.status,
        case.outcome or "",
        case.assignee or "",
        case.due.isoformat(),
        case.subject,
    ]


@case_app.command("list")
def case_list(
    account: AccountOption,
    status: Annotated[
        str | None, typer.Option("--status", help="open, needs_info, decided, appealed.")
    ] = None,
    url: UrlOption = None,
    as_: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    ctx = _context(url, as_, None)
    with _handled():
        found = ctx.svc.cases(ctx.actor, account, status)
    columns = ("id", "type", "status", "outcome", "assignee", "due", "subject")
    print_records(found, as_json, columns, _case_row)


@case_app.command("show")
def case_show(
    case_id: str, account: AccountOption, url: UrlOption = None, as_: AsOption = None
) -> None:
    ctx = _context(url, as_, None)
    with _handled():
        found = ctx.svc.case(ctx.actor, account, case_id)
    _print(found.model_dump(mode="json"), True)


@case_app.command("open")
def case_open(
    account: AccountOption,
    type_: Annotated[
        str,
        typer.Option(
            "--type",
            help="carrier_complaint, robocall_complaint, traceback, legal, rule_hits, abuse_report.",
        ),
    ],
    subject: Annotated[str, typer.Option("--subject", help="What the case is about.")],
    url: UrlOption = None,
    as_: AsOption = None,
    at: AtOption = None,
) -> None:
    """Open a case by hand (a carrier or robocall complaint, a traceback request...)."""
    ctx = _context(url, as_, at)
    with _handled():
        case, _ = ctx.svc.open_case(ctx.actor, account, type_, subject)
    console.print(f"{case.id} due {case.due.isoformat()}")


@case_app.command("assign")
def case_assign(
    case_id: str,
    assignee: str,
    account: AccountOption,
    url: UrlOption = None,
    as_: AsOption = None,
    at: AtOption = None,
) -> None:
    ctx = _context(url, as_, at)
    with _handled():
        ctx.svc.assign(ctx.actor, account, case_id, assignee)
    console.print(f"{case_id} assigned to {assignee}")


@case_app.command("note")
def case_note(
    case_id: str,
    text: str,
    account: AccountOption,
    url: UrlOption = None,
    as_: AsOption = None,
    at: AtOption = None,
) -> None:
    ctx = _context(url, as_, at)
    with _handled():
        ctx.svc.note(ctx.actor, account, case_id, text)
    console.print(f"note added to {case_id}")


@case_app.command("request-info")
def case_request_info(
    case_id: str,
    question: str,
    account: AccountOption,
    url: UrlOption = None,
    as_: AsOption = None,
    at: AtOption = None,
) -> None:
    """Ask the reporters for more information; the case waits."""
    ctx = _context(url, as_, at)
    with _handled():
        ctx.svc.request_info(ctx.actor, account, case_id, question)
    console.print(f"{case_id} waits for information")


@case_app.command("decide")
def case_decide(
    case_id: str,
    account: AccountOption,
    outcome: Annotated[
        str,
        typer.Option("--outcome", help="violation, no_violation; for an appeal: upheld, reversed."),
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why.")],
    url: UrlOption = None,
    as_: AsOption = None,
    at: AtOption = None,
) -> None:
    ctx = _context(url, as_, at)
    with _handled():
        case = ctx.svc.decide(ctx.actor, account, case_id, outcome, reason)
        standing = ctx.svc.standing(account)
    console.print(f"{case.id} decided {case.outcome}; {account} is {standing.status}")


@case_app.command("appeal")
def case_appeal(
    case_id: str,
    account: AccountOption,
    reason: Annotated[str, typer.Option("--reason", help="Why the decision is wrong.")],
    url: UrlOption = None,
    as_: AsOption = None,
    at: AtOption = None,
) -> None:
    """Appeal a decision: the case reopens for a different reviewer."""
    ctx = _context(url, as_, at)
    with _handled():
        case = ctx.svc.appeal(ctx.actor, account, case_id, reason)
    console.print(f"{case.id} appealed; due {case.due.isoformat()}")


@case_app.command("overdue")
def case_overdue(
    url: UrlOption = None, as_: AsOption = None, at: AtOption = None, as_json: JsonOption = False
) -> None:
    """Cases past their SLA clock, across accounts."""
    ctx = _context(url, as_, at)
    with _handled():
        found = ctx.svc.overdue(ctx.actor)
    columns = ("account", "id", "type", "status", "outcome", "assignee", "due", "subject")
    print_records(found, as_json, columns, lambda c: [c.tenant, *_case_row(c)])


# -- abuse reports -----------------------------------------------------------------------------


@report_app.command("file")
def report_file(
    url_: Annotated[str | None, typer.Option("--reported-url", help="The URL reported.")] = None,
    number: Annotated[
        str | None, typer.Option("--number", help="The number reported (+E.164).")
    ] = None,
    workspace: Annotated[
        str | None, typer.Option("--workspace", help="The workspace id reported.")
    ] = None,
    account: Annotated[
        str | None, typer.Option("--account", "-a", help="The account, if known.")
    ] = None,
    timestamp: Annotated[
        str | None, typer.Option("--timestamp", help="When it was seen (ISO 8601).")
    ] = None,
    description: Annotated[str | None, typer.Option("--description", help="What happened.")] = None,
    contact: Annotated[
        str | None, typer.Option("--contact", help="How to reach the reporter.")
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="The report as a JSON object.")
    ] = None,
    url: UrlOption = None,
    at: AtOption = None,
) -> None:
    """File an abuse report (every missing field is named)."""
    ctx = _context(url, None, at)
    data: dict[str, Any]
    if file is not None:
        try:
            loaded = json.loads(file.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            fail(f"--file: {file}: {exc}")
        if not isinstance(loaded, dict):
            fail(f"--file: {file}: a JSON object is needed")
        data = loaded
    else:
        given = {
            "url": url_,
            "number": number,
            "workspace": workspace,
            "account": account,
            "timestamp": timestamp,
            "description": description,
            "contact": contact,
        }
        data = {k: v for k, v in given.items() if v is not None}
    with _handled():
        report = reports.file_report(ctx.svc, data)
    console.print(f"{report.id} in case {report.case} ({report.tenant})")


@report_app.command("reporter")
def report_reporter(contact: str, url: UrlOption = None, as_: AsOption = None) -> None:
    """A reporter's record: reports, confirmed, rejected, flagged."""
    ctx = _context(url, as_, None)
    with _handled():
        ctx.svc.guard(ctx.actor, Role.REVIEWER, Role.ADMIN, action="see a reporter's record")
        found = reports.reporter(ctx.svc, contact)
    if found is None:
        fail(f"contact: no reports from {contact}")
    _print(
        found.model_dump(
            mode="json", include={"id", "reports", "confirmed", "rejected", "flagged", "account"}
        ),
        True,
    )


# -- accounts ---------------------------------------------------------------------------------


@account_app.command("show")
def account_show(
    account: str, url: UrlOption = None, as_: AsOption = None, at: AtOption = None
) -> None:
    ctx = _context(url, as_, at)
    with _handled():
        standing = ctx.svc.show_standing(ctx.actor, account)
    _print(standing.model_dump(mode="json"), True)


@account_app.command("billing-event")
def account_billing_event(
    account: str,
    type_: Annotated[
        str,
        typer.Argument(
            metavar="TYPE",
            help="trial_started, subscribed, plan_changed, invoice_issued, invoice_paid, invoice_disputed, dispute_resolved.",
        ),
    ],
    invoice: Annotated[str | None, typer.Option("--invoice", help="Invoice id.")] = None,
    amount: Annotated[float | None, typer.Option("--amount", help="Invoice amount.")] = None,
    plan: Annotated[str | None, typer.Option("--plan", help="Plan name.")] = None,
    upheld: Annotated[
        bool | None, typer.Option("--upheld/--rejected", help="Outcome of a dispute.")
    ] = None,
    url: UrlOption = None,
    as_: AsOption = None,
    at: AtOption = None,
) -> None:
    """Apply an event from the billing system to the account's standing."""
    ctx = _context(url, as_, at)
    try:
        event = lifecycle.BillingEvent.model_validate(
            {
                "type": type_,
                "at": ctx.now,
                "invoice": invoice,
                "amount": amount,
                "plan": plan,
                "upheld": upheld,
            }
        )
    except ValueError as exc:
        fail(
            f"billing event: {str(exc).splitlines()[1] if len(str(exc).splitlines()) > 1 else exc}: {type_!r}"
        )
    with _handled():
        standing = lifecycle.billing_event(ctx.svc, ctx.actor, account, event)
    console.print(f"{account} is {standing.status}")


@account_app.command("advance")
def account_advance(url: UrlOption = None, as_: AsOption = None, at: AtOption = None) -> None:
    """Run the lifecycle job at --at: trial expiry, past due, termination, scrubs."""
    ctx = _context(url, as_, at)
    with _handled():
        for line in lifecycle.run_lifecycle(ctx.svc, ctx.actor):
            console.print(line)


@account_app.command("store")
def account_store(
    account: str,
    name: str,
    text: Annotated[str, typer.Option("--text", help="The content.")],
    url: UrlOption = None,
    as_: AsOption = None,
    at: AtOption = None,
) -> None:
    """Keep content for an account (within its plan's storage quota)."""
    ctx = _context(url, as_, at)
    with _handled():
        item = lifecycle.store_content(ctx.svc, ctx.actor, account, name, text)
    console.print(f"{item.id} {item.bytes} bytes")


@account_app.command("export")
def account_export(
    account: str,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the bundle here (default: stdout).")
    ] = None,
    url: UrlOption = None,
    as_: AsOption = None,
    at: AtOption = None,
) -> None:
    """Export the account's content with a manifest (after termination: within the window)."""
    ctx = _context(url, as_, at)
    with _handled():
        bundle = lifecycle.export_content(ctx.svc, ctx.actor, account)
    text = json.dumps(bundle, indent=2)
    if out is None:
        sys.stdout.write(text + "\n")
    else:
        out.write_text(text, "utf-8")
        console.print(f"{len(bundle['items'])} item(s) to {out}")


@account_app.command("scrub")
def account_scrub(
    account: str, url: UrlOption = None, as_: AsOption = None, at: AtOption = None
) -> None:
    """Delete a terminated account's content after its export window (resumes if interrupted)."""
    ctx = _context(url, as_, at)
    with _handled():
        job = lifecycle.scrub(ctx.svc, ctx.actor, account)
    console.print(
        f"scrubbed {job.deleted} item(s); kept {', '.join(job.kept)}; signed: {job.signature is not None}"
    )


@account_app.command("retention")
def account_retention(url: UrlOption = None, as_: AsOption = None, at: AtOption = None) -> None:
    """Delete content older than its data class's retention period."""
    ctx = _context(url, as_, at)
    with _handled():
        gone = lifecycle.retention_sweep(ctx.svc, ctx.actor)
    console.print(f"deleted {gone} item(s) past retention")


# -- legal ------------------------------------------------------------------------------------


@legal_app.command("register")
def legal_register(
    account: str,
    authority: Annotated[str, typer.Option("--authority", help="Who asks.")],
    basis: Annotated[
        str,
        typer.Option("--basis", help="The legal basis (warrant, subpoena, emergency request...)."),
    ],
    scope: Annotated[str, typer.Option("--scope", help="What is asked for.")],
    deadline: Annotated[str, typer.Option("--deadline", help="Answer due (ISO 8601).")],
    emergency: Annotated[
        bool, typer.Option("--emergency", help="An emergency disclosure request.")
    ] = False,
    url: UrlOption = None,
    as_: AsOption = None,
    at: AtOption = None,
) -> None:
    ctx = _context(url, as_, at)
    due = parse_time(deadline, "--deadline")
    with _handled():
        request = legal.register_request(
            ctx.svc,
            ctx.actor,
            account,
            authority=authority,
            basis=basis,
            scope=scope,
            deadline=due,
            emergency=emergency,
        )
    console.print(f"{request.id} due {request.deadline.isoformat()}")


@legal_app.command("disclose")
def legal_disclose(
    account: str,
    request: str,
    files: Annotated[list[Path], typer.Argument(help="The files disclosed.")],
    url: UrlOption = None,
    as_: AsOption = None,
    at: AtOption = None,
) -> None:
    """Record a disclosure with a manifest of SHA-256 hashes."""
    ctx = _context(url, as_, at)
    with _handled():
        updated = legal.disclose(ctx.svc, ctx.actor, account, request, files)
    last = updated.disclosures[-1]
    for entry in last.manifest:
        console.print(f"{entry['sha256']}  {entry['bytes']:>9}  {entry['name']}")
    console.print(f"manifest {last.bundle_sha256}")


@legal_app.command("list")
def legal_list(
    account: str, url: UrlOption = None, as_: AsOption = None, as_json: JsonOption = False
) -> None:
    ctx = _context(url, as_, None)
    with _handled():
        found = legal.legal_requests(ctx.svc, ctx.actor, account)
    _print([r.model_dump(mode="json") for r in found], True) if as_json else _legal_table(found)


def _legal_table(found: list[Any]) -> None:
    table = Table("id", "authority", "basis", "status", "deadline", "emergency")
    for r in found:
        table.add_row(
            r.id,
            r.authority,
            r.basis,
            r.status,
            r.deadline.isoformat(),
            "yes" if r.emergency else "",
        )
    console.print(table)


@legal_app.command("overdue")
def legal_overdue(url: UrlOption = None, as_: AsOption = None, at: AtOption = None) -> None:
    ctx = _context(url, as_, at)
    with _handled():
        _legal_table(legal.overdue_requests(ctx.svc, ctx.actor))


# -- penalties --------------------------------------------------------------------------------


@penalty_app.command("record")
def penalty_record(
    account: str,
    operator: Annotated[
        str, typer.Option("--operator", help="The operator that fined (e.g. t-mobile).")
    ],
    incurred: Annotated[
        str, typer.Option("--incurred", help="When the violation happened (ISO 8601).")
    ],
    category: Annotated[
        str | None, typer.Option("--category", help="phishing, illegal_content, shaft...")
    ] = None,
    rule: Annotated[
        str | None, typer.Option("--rule", help="Or: the rule whose hit was fined.")
    ] = None,
    case: Annotated[str | None, typer.Option("--case", help="The case it belongs to.")] = None,
    reference: Annotated[str, typer.Option("--reference", help="The operator's reference.")] = "",
    url: UrlOption = None,
    as_: AsOption = None,
    at: AtOption = None,
) -> None:
    ctx = _context(url, as_, at)
    when = parse_time(incurred, "--incurred")
    with _handled():
        penalty = penalties.record_penalty(
            ctx.svc,
            ctx.actor,
            account,
            operator=operator,
            category=category,
            rule=rule,
            incurred=when,
            case=case,
            reference=reference,
        )
    console.print(f"{penalty.id} {penalty.category} {penalty.amount} {penalty.currency}")


@penalty_app.command("report")
def penalty_report(
    account: str,
    month: Annotated[
        str | None, typer.Option("--month", help="YYYY-MM (default: every month).")
    ] = None,
    url: UrlOption = None,
    as_: AsOption = None,
) -> None:
    """Fines passed on to the account, per month and category."""
    ctx = _context(url, as_, None)
    if month is not None:
        try:
            datetime.strptime(month, "%Y-%m")
        except ValueError:
            fail(f"--month: {month!r} is not YYYY-MM")
    with _handled():
        totals = penalties.monthly_report(ctx.svc, ctx.actor, account, month)
    _print(totals, True)


# -- policy versions --------------------------------------------------------------------------


@versions_app.command("schedule")
def versions_schedule(
    version: str,
    effective: Annotated[str, typer.Option("--effective", help="Effective date (YYYY-MM-DD).")],
    summary: Annotated[str, typer.Option("--summary", help="What changes.")],
    url: UrlOption = None,
    as_: AsOption = None,
    at: AtOption = None,
) -> None:
    ctx = _context(url, as_, at)
    try:
        day = date.fromisoformat(effective)
    except ValueError:
        fail(f"--effective: {effective!r} is not YYYY-MM-DD")
    with _handled():
        record = versions.schedule_version(
            ctx.svc, ctx.actor, version, day, summary, ctx.engine.pack.id
        )
    console.print(f"{record.id} effective {record.effective.isoformat()}")


@versions_app.command("list")
def versions_list(url: UrlOption = None, at: AtOption = None) -> None:
    ctx = _context(url, None, at)
    current = versions.in_force(ctx.svc, ctx.now.date())
    table = Table("version", "effective", "status", "in force", "summary")
    for v in versions.versions(ctx.svc):
        table.add_row(
            v.id,
            v.effective.isoformat(),
            v.status,
            "yes" if current and current.id == v.id else "",
            v.summary,
        )
    console.print(table)


@versions_app.command("notify")
def versions_notify(
    version: str,
    account: Annotated[
        list[str] | None, typer.Option("--account", "-a", help="Also notify this account.")
    ] = None,
    url: UrlOption = None,
    as_: AsOption = None,
    at: AtOption = None,
) -> None:
    """Send change notices to every account before the effective date."""
    ctx = _context(url, as_, at)
    with _handled():
        sent = versions.send_notices(ctx.svc, ctx.actor, version, account or ())
    console.print(f"{len(sent)} notice(s) sent")


@versions_app.command("accept")
def versions_accept(
    version: str,
    account: AccountOption,
    url: UrlOption = None,
    as_: AsOption = None,
    at: AtOption = None,
) -> None:
    """Accept a version for the account (click-through)."""
    ctx = _context(url, as_, at)
    with _handled():
        record = versions.accept(ctx.svc, ctx.actor, account, version)
    console.print(f"{account} accepted {record.version} ({record.method})")


@versions_app.command("acceptances")
def versions_acceptances(
    account: AccountOption, url: UrlOption = None, as_: AsOption = None
) -> None:
    ctx = _context(url, as_, None)
    with _handled():
        found = versions.acceptances(ctx.svc, ctx.actor, account)
    for a in found:
        console.print(f"{a.version} {a.method} {a.at.isoformat()} notice={a.notice or '-'}")


# -- traceback --------------------------------------------------------------------------------


@app.command("traceback")
def traceback_command(
    number: Annotated[
        str | None, typer.Option("--number", help="Calling or called number.")
    ] = None,
    event: Annotated[str | None, typer.Option("--event", help="Message or call id.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Start of the time range.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="End of the time range.")] = None,
    request: Annotated[
        str, typer.Option("--request", help="The traceback request's reference.")
    ] = "",
    csv_out: Annotated[
        bool, typer.Option("--csv", help="CSV rows instead of the signed JSON bundle.")
    ] = False,
    url: UrlOption = None,
    as_: AsOption = None,
    at: AtOption = None,
) -> None:
    """Export who sent what (account, sender, API key, source IP, upstream, decisions), signed."""
    ctx = _context(url, as_, at)
    start = parse_time(since, "--since") if since else None
    end = parse_time(until, "--until") if until else None
    with _handled():
        bundle = traceback.traceback_bundle(
            ctx.svc, ctx.actor, number=number, event=event, start=start, end=end, request=request
        )
    sys.stdout.write(
        traceback.traceback_csv(bundle) if csv_out else json.dumps(bundle, indent=2) + "\n"
    )
