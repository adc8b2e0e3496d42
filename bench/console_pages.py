"""Server time of console pages over a loaded database, against a trivial Starlette
endpoint in the same run.

The whole HTTP app (API + console mounted at /console) is called in-process through
ASGI, no network: each sample is one request from the first byte in to the last
byte out. The database (PostgreSQL by default, a database of its own that is
dropped afterwards; or SQLite) is loaded first with, by default:

- 100,000 decisions over 30 days across 200 tenants, each with its message
  (80 % allowed, 10 % blocked, 10 % held with their held deliveries),
- held messages up to 1,000,000 in all (the queue),
- 10,000 cases (a third of them past their SLA clock) with their audit entries,
  and 100 legal requests,
- 5 % of the decisions with a shadow rule that fired (on the allowed ones it
  would have changed the verdict), for the policy page's shadow results,
- 200,000 consent events across the tenants (1,000 each: opt-ins and opt-outs
  by several methods and channels) and 20 registered senders for the account
  page's tenant.

Pages: the queue (first page, and a page by keyset deep in the million), a held
message, the case list (all, overdue, one tenant's), a case, the audit log (all,
one tenant's), a tenant's blocked and held messages, the legal register, the
public report form, the policy page (and its hit counts and shadow results
without the one-minute cache), an account (senders, limits read from the
counter store, consent figures; and the consent figures' grouped query alone)
and one of its senders. Interleaved passes. The counters are the server's
memory ones, or Redis with --redis-url (results in console_pages_<database>_redis.json).

    .venv/bin/python -m bench.console_pages [--database postgresql|sqlite]
        [--decisions 100000] [--cases 10000] [--held 1000000] [--samples 40]
        [--consent 200000] [--redis-url redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message

from aupguard.actors import Actor, Role
from aupguard.api.app import create_app
from aupguard.api.routes.enforcement import enforcement
from aupguard.api.services import build_services
from aupguard.audit.chain import AuditDraft
from aupguard.config import Settings
from aupguard.console.app import (
    COOKIE,
    consent_ledger,
    console_accounts,
    console_sessions,
    review_queue,
)
from aupguard.console.insight import HitChart, ShadowResults
from aupguard.console.store import Stage
from aupguard.console.usage import consent_statistics
from aupguard.enforcement.records import Case, LegalRequest, new_id
from aupguard.outbox import sql as gw
from aupguard.outbox.model import cursor_of
from aupguard.store.db import Database
from aupguard.store.migrate import upgrade
from bench.common import interleaved, report, summary

NOW = datetime.now(UTC).replace(microsecond=0)
TENANTS = [f"t{i:03d}" for i in range(200)]
BATCH = 20_000
SHADOW_RULE = "impersonation.brand_link_any"
SENDERS = 20
HELD_PAYLOAD = (
    '{"body":"Pay up or I will kill you.","hits":[{"rule":"content.threat",'
    '"title":"Threat of violence","action":"hold","clauses":["W3"],"severity":"high",'
    '"evidence":[{"field":"body","start":11,"end":26,"excerpt":"I will kill you",'
    '"label":"threat"}]}]}'
)


class Caller:
    """Calls an ASGI app with one request and waits for the whole answer."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def __call__(
        self, app: ASGIApp, method: str, target: str, cookie: str = "", body: bytes = b""
    ) -> int:
        path, _, query = target.partition("?")
        headers = [(b"host", b"bench")]
        if cookie:
            headers.append((b"cookie", cookie.encode()))
        if body:
            headers.append((b"content-type", b"application/x-www-form-urlencoded"))
            headers.append((b"content-length", str(len(body)).encode()))
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "https",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": query.encode(),
            "headers": headers,
            "client": ("127.0.0.1", 40000),
            "server": ("bench", 443),
        }
        status = 0
        sent = False

        async def receive() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        self.loop.run_until_complete(app(scope, receive, send))
        return status


@contextlib.contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "postgresql":
        from tests.services import postgres_database

        with postgres_database() as url:
            yield url
        return
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.sqlite'}"


def _message(i: int, tenant: str, at: datetime, status: str, verdict: str) -> dict[str, Any]:
    rules = {"held": ",content.threat,", "blocked": ",phishing.url,"}.get(status, "")
    clauses = {"held": ",W3,P1,", "blocked": ",V1,P18,"}.get(status, "")
    return {
        "id": f"SM{i:032x}",
        "tenant": tenant,
        "created_at": at,
        "updated_at": at,
        "status": status,
        "channel": "sms",
        "sender": f"+1202555{i % 10_000:04d}",
        "recipient": "+14155550123",
        "verdict": verdict,
        "code": None,
        "error_code": None,
        "rules": rules,
        "clauses": clauses,
        "body_sha256": None,
        "num_media": 0,
        "status_callback": None,
        "api": "native",
        "account_sid": None,
    }


def load_messages(db: Database, decisions: int, held: int) -> dict[str, float]:
    """Decisions with their messages, then held messages up to `held` in all."""
    rng = random.Random(9)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    held_so_far = 0
    rows_m: list[dict[str, Any]] = []
    rows_d: list[dict[str, Any]] = []
    rows_o: list[dict[str, Any]] = []

    def flush() -> None:
        with db.engine.begin() as conn:
            for table, rows in ((gw.messages, rows_m), (gw.decisions, rows_d), (gw.outbox, rows_o)):
                if rows:
                    conn.execute(insert(table), rows)
        rows_m.clear()
        rows_d.clear()
        rows_o.clear()

    for i in range(decisions):
        tenant = TENANTS[i % len(TENANTS)]
        at = NOW - timedelta(seconds=rng.randrange(30 * 86_400))
        roll = rng.random()
        status, verdict = (
            ("queued", "allow")
            if roll < 0.8
            else ("blocked", "block")
            if roll < 0.9
            else ("held", "hold")
        )
        message = _message(i, tenant, at, status, verdict)
        rows_m.append(message)
        shadow = f",{SHADOW_RULE}," if rng.random() < 0.05 else ""
        rows_d.append(
            {
                "shadow": shadow,
                "shadow_changes": shadow if verdict == "allow" else "",
                "id": f"DC{i:032x}",
                "tenant": tenant,
                "at": at,
                "kind": "message",
                "verdict": verdict,
                "code": None,
                "rules": message["rules"],
                "clauses": message["clauses"],
                "message_id": message["id"],
                "event_id": None,
                "pack_version": "aupguard-default@bench",
                "degraded": False,
            }
        )
        if status == "held":
            held_so_far += 1
            rows_o.append(
                {
                    "id": f"OB{i:032x}",
                    "tenant": tenant,
                    "message_id": message["id"],
                    "kind": "deliver",
                    "payload": HELD_PAYLOAD,
                    "created_at": at,
                    "next_attempt_at": at,
                    "attempts": 0,
                    "state": "held",
                    "last_error": None,
                }
            )
        if len(rows_m) >= BATCH:
            flush()
    flush()
    timings["decisions_s"] = time.perf_counter() - start
    start = time.perf_counter()
    for j in range(max(0, held - held_so_far)):
        i = decisions + j
        at = NOW - timedelta(seconds=rng.randrange(30 * 86_400))
        rows_m.append(_message(i, TENANTS[i % len(TENANTS)], at, "held", "hold"))
        if len(rows_m) >= BATCH:
            flush()
    flush()
    timings["held_s"] = time.perf_counter() - start
    if db.dialect == "postgresql":
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    return timings


def load_cases(services: Any, cases: int) -> float:
    """Cases (a third past their clock) with their audit entries, and legal requests."""
    svc = services.component(enforcement)
    rng = random.Random(7)
    start = time.perf_counter()
    docs: list[Any] = []
    drafts: list[AuditDraft] = []
    for i in range(cases):
        tenant = TENANTS[i % len(TENANTS)]
        opened = NOW - timedelta(hours=rng.randrange(1, 24 * 30))
        due = opened + timedelta(hours=72)
        if i % 3 == 0:
            due = NOW - timedelta(hours=rng.randrange(1, 48))
        case = Case(
            tenant=tenant,
            id=new_id("case"),
            created=opened,
            updated=opened,
            type="rule_hits" if i % 2 else "abuse_report",
            subject=f"hits of family{i % 7}.* rules",
            opened=opened,
            due=due,
            status="open" if i % 5 else "decided",
            evidence=tuple(
                {
                    "message": f"SM{i:032x}",
                    "rule": "content.threat",
                    "clauses": ["W3"],
                    "at": opened.isoformat(),
                    "excerpts": ["I will kill you"],
                }
                for _ in range(3)
            ),
            hits=3,
        )
        docs.append(case)
        drafts.append(AuditDraft(tenant, "system", "case.opened", case.id, {"type": case.type}))
        if len(docs) >= 500:
            svc.store.put(docs, drafts)
            docs, drafts = [], []
    for i in range(100):
        tenant = TENANTS[i % len(TENANTS)]
        docs.append(
            LegalRequest(
                tenant=tenant,
                id=new_id("legal"),
                created=NOW,
                updated=NOW,
                authority="District Court",
                basis=f"subpoena {i}",
                scope="records",
                deadline=NOW + timedelta(days=i % 10 - 3),
                received=NOW,
                by="user:lena",
            )
        )
    svc.store.put(docs, drafts)
    return time.perf_counter() - start


def load_consent(db: Database, events: int) -> float:
    """Opt-ins and opt-outs across the tenants, 90 days back, several methods and channels."""
    from aupguard.consent.sql import ConsentEventRow

    rng = random.Random(5)
    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for i in range(events):
        rows.append(
            {
                "tenant": TENANTS[i % len(TENANTS)],
                "scope": "*",
                "recipient": f"+1415{rng.randrange(10_000_000):07d}",
                "channel": rng.choice(("sms", "sms", "whatsapp", "*")),
                "kind": "opt_in" if rng.random() < 0.7 else "opt_out",
                "at": NOW - timedelta(seconds=rng.randrange(90 * 86_400)),
                "method": rng.choice(("keyword", "web_form", "api", "import")),
                "source": "bench",
                "wording": "",
                "expires": None,
                "age_verified": False,
            }
        )
        if len(rows) >= BATCH:
            with db.engine.begin() as conn:
                conn.execute(insert(ConsentEventRow), rows)
            rows.clear()
    if rows:
        with db.engine.begin() as conn:
            conn.execute(insert(ConsentEventRow), rows)
    return time.perf_counter() - start


def load_senders(services: Any, tenant: str) -> str:
    """Registered senders of one tenant (long codes, toll-free, 10DLC); one of them."""
    from aupguard.console.usage import sender_registry
    from aupguard.engine.events import SenderType
    from aupguard.identity.registry import EvidenceKind
    from aupguard.identity.service import record_evidence, register_sender

    registry = services.component(sender_registry)
    kinds = (SenderType.LONG_CODE, SenderType.TOLL_FREE, SenderType.TEN_DLC)
    for i in range(SENDERS):
        number = f"+1202555{1000 + i:04d}"
        register_sender(registry, tenant, number, NOW, kind=kinds[i % 3], brand="b", campaign="C")
        if i % 2 == 0:
            record_evidence(registry, tenant, number, EvidenceKind.CARRIER_LOA, NOW, reference="L")
    return "+12025551000"


def signed_in(services: Any, name: str, tenant: str | None, role: str) -> str:
    accounts = services.component(console_accounts)
    sessions = services.component(console_sessions)
    admin = Actor("bench", frozenset({Role.ADMIN}))
    user = accounts.create(admin, name, tenant, [role], "a long and unusual password").user
    return f"{COOKIE}={sessions.start(Stage.SIGNED_IN, user).id}"


def load(services: Any, args: argparse.Namespace) -> tuple[dict[str, float], str]:
    """The whole load; the seconds each part took, and a sender of t001."""
    db = services.database
    upgrade(db)
    loaded = load_messages(db, args.decisions, args.held)
    loaded["cases_s"] = load_cases(services, args.cases)
    loaded["consent_s"] = load_consent(db, args.consent)
    sender = load_senders(services, "t001")
    if db.dialect == "postgresql":
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    return loaded, sender


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--held", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=40, help="per page and pass (3 passes)")
    parser.add_argument("--consent", type=int, default=200_000)
    parser.add_argument("--redis-url", default="", help="counters in Redis (default: memory)")
    args = parser.parse_args()
    call = Caller()

    async def ok(_: Request) -> Response:
        return PlainTextResponse("ok")

    trivial = Starlette(routes=[Route("/ok", ok)])
    with database(args.database) as url:
        settings = Settings(database_url=url, access_log=False, redis_url=args.redis_url or None)
        services = build_services(settings)
        assert services.database is not None
        db = services.database
        loaded, sender = load(services, args)
        app = create_app(services=services)
        reviewer = signed_in(services, "rita", None, "reviewer")
        legal = signed_in(services, "lena", None, "legal")
        tenant_user = signed_in(services, "ann", "t001", "tenant_admin")
        m = gw.messages.c
        with db.engine.connect() as conn:
            held_count = conn.execute(
                select(func.count()).select_from(gw.messages).where(m.status == "held")
            ).scalar_one()
            middle = conn.execute(
                select(m.created_at, m.id)
                .where(m.status == "held")
                .order_by(m.created_at, m.id)
                .offset(held_count // 2)  # once, to find a cursor deep in the queue
                .limit(1)
            ).one()
            item = conn.execute(
                select(gw.outbox.c.tenant, gw.outbox.c.message_id)
                .where(gw.outbox.c.state == "held")
                .limit(1)
            ).one()
        case = services.component(enforcement).store.find(Case, "t001")[0]
        pages = {
            "queue, first page": ("/console/queue", reviewer),
            "queue, a page by keyset half-way through": (
                f"/console/queue?after={cursor_of(middle.created_at, middle.id)}",
                reviewer,
            ),
            "queue, one tenant": ("/console/queue?tenant=t001", reviewer),
            "held message": (f"/console/queue/{item.tenant}/{item.message_id}", reviewer),
            "cases, all": ("/console/cases", reviewer),
            "cases, overdue": ("/console/cases?overdue=1", reviewer),
            "cases, one tenant": ("/console/cases?tenant=t001", reviewer),
            "case": (f"/console/cases/t001/{case.id}", reviewer),
            "audit log": ("/console/audit", reviewer),
            "audit log, one tenant": ("/console/audit?tenant=t001", reviewer),
            "customer view": ("/console/my-messages", tenant_user),
            "legal register": ("/console/legal", legal),
            "report form (no sign-in)": ("/console/report", ""),
            "policy (hit counts cached for a minute)": ("/console/policy", reviewer),
            "account": ("/console/accounts?tenant=t001", reviewer),
            "a sender of the account": (f"/console/accounts/t001/senders/{sender}", reviewer),
        }
        checks = {name: call(app, "GET", path, cookie) for name, (path, cookie) in pages.items()}
        assert set(checks.values()) == {200}, checks
        items = [0] * args.samples

        def page_fn(path: str, cookie: str) -> Any:
            return lambda _: call(app, "GET", path, cookie)

        fns: dict[str, Any] = {
            "trivial Starlette endpoint (baseline)": (lambda _: call(trivial, "GET", "/ok"), items)
        }
        fns.update({name: (page_fn(path, cookie), items) for name, (path, cookie) in pages.items()})
        uncached = HitChart(services.component(review_queue).store, lambda: NOW, ttl=0)
        fns["policy hit counts, uncached (grouped query, 14 days)"] = (
            lambda _: uncached.counts(),
            items,
        )
        shadow = ShadowResults(services.component(review_queue).store, lambda: NOW, ttl=0)
        fns["policy shadow results, uncached (grouped query and examples, 14 days)"] = (
            lambda _: shadow.results(),
            items,
        )
        ledger = services.component(consent_ledger)
        fns["account consent figures (one grouped statement, 30 days)"] = (
            lambda _: consent_statistics(ledger, "t001", NOW),
            items,
        )
        samples = interleaved(fns, passes=3)
        services.close()
    results = {name: summary(values) for name, values in samples.items()}
    base = results["trivial Starlette endpoint (baseline)"]["mean_us"]
    for row in results.values():
        row["ratio_to_baseline"] = round(row["mean_us"] / base, 1)
    report(
        f"console_pages_{args.database}" + ("_redis" if args.redis_url else ""),
        {
            "what": "server time of one console request in-process over ASGI (the whole app "
            "with the API middleware) over a loaded database",
            "database": args.database,
            "counters": "redis" if args.redis_url else "memory",
            "loaded": {
                "decisions": args.decisions,
                "held_messages": int(held_count),
                "cases": args.cases,
                "legal_requests": 100,
                "consent_events": args.consent,
                "senders_of_t001": SENDERS,
                **{k: round(v, 1) for k, v in loaded.items()},
            },
            "baseline": "a Starlette app with one route returning 'ok', called the same way",
            "results": {k: {n: round(v, 2) for n, v in row.items()} for k, row in results.items()},
        },
    )


if __name__ == "__main__":
    main()
