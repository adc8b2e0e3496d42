"""The console: a Starlette application of server-rendered pages, mounted at /console.

Every handler goes through `_page` (or `_form` for POSTs): it loads the
server-side session from the cookie, checks the CSRF token of every form
(403 when missing or wrong), resolves the signed-in user to an `Actor`, and
turns `Forbidden` into 403 and `UserNotFound` into 404. Templates autoescape
everything; pages carry a Content-Security-Policy that allows no script at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import jinja2
import segno
from markupsafe import Markup
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aupguard.actors import Actor, Forbidden, Role
from aupguard.api.logs import get_logger
from aupguard.audit.chain import PLATFORM, AuditDraft
from aupguard.console import cases as case_views
from aupguard.console import insight, usage
from aupguard.console.accounts import Accounts, UserNotFound, WrongPassword
from aupguard.console.insight import HitChart, ShadowResults
from aupguard.console.pages import PAGES, PageInfo
from aupguard.console.passwords import WeakPassword
from aupguard.console.ratelimit import RateLimit
from aupguard.console.review import (
    ACTIONS,
    BULK_LIMIT,
    QUEUE_ROLES,
    AlreadyReviewed,
    ItemNotFound,
    ReviewQueue,
)
from aupguard.console.sessions import Session, Sessions
from aupguard.console.store import (
    ConsoleUser,
    DuplicateUser,
    MemorySessionStore,
    MemoryUserStore,
    Stage,
    UserStore,
)
from aupguard.enforcement.datasets import STEPS
from aupguard.enforcement.service import EnforcementError, NotFound
from aupguard.engine.events import OutboundMessage
from aupguard.identity.registry import SenderRecord
from aupguard.outbox.model import MessageRecord, cursor_of, decode_cursor
from aupguard.service.screening import utc_now
from aupguard.traffic.limits import ChannelLimits

if TYPE_CHECKING:
    from aupguard.api.services import Services
    from aupguard.consent.store import ConsentStore
    from aupguard.enforcement.service import Enforcement

__all__ = [
    "COOKIE",
    "console_accounts",
    "console_sessions",
    "create_console",
    "review_queue",
]

COOKIE = "__Host-aupguard-console"
"""__Host-: the browser keeps it only if Secure, Path=/ and without Domain."""
MAX_FORM_BYTES = 65_536
MAX_TEST_BODY = 10_000

SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        b"frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]

NOTES = {
    "created": "The user was created. They enrol their second factor at their first sign-in.",
    "roles": "The roles were changed.",
    "reset": "The second factor was reset. The user enrols a new one at their next sign-in.",
    "revoked": "The user was revoked and signed out everywhere.",
}


def console_accounts(services: Services) -> Accounts:
    """The console's account service on the configured database (memory without one)."""
    if services.database is not None:
        from aupguard.console.store_sql import SqlUserStore

        users: UserStore = SqlUserStore(services.database)
    else:
        users = MemoryUserStore()
    settings = services.settings
    return Accounts(
        users,
        password_max_age=timedelta(days=settings.console_password_max_age_days),
        password_history=settings.console_password_history,
    )


def console_sessions(services: Services) -> Sessions:
    if services.database is not None:
        from aupguard.console.store_sql import SqlSessionStore

        return Sessions(SqlSessionStore(services.database))
    return Sessions(MemorySessionStore())


def review_queue(services: Services) -> ReviewQueue:
    """The held-message queue on the gateway's message store and the enforcement service."""
    from aupguard.api.delivery import gateway_for
    from aupguard.api.routes.enforcement import enforcement

    return ReviewQueue(services.component(gateway_for).store, services.component(enforcement))


class _SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


@dataclass
class Visit:
    """One request as the handlers see it."""

    request: Request
    session: Session | None
    user: ConsoleUser | None
    form: FormData | None = None

    @property
    def actor(self) -> Actor:
        assert self.user is not None
        return self.user.actor()

    def field(self, name: str) -> str:
        value = self.form.get(name) if self.form is not None else None
        return value if isinstance(value, str) else ""


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


Handler = Callable[["Console", Visit], Awaitable[Response]]


class Console:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.templates = jinja2.Environment(
            loader=jinja2.PackageLoader("aupguard.console", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        self.log = get_logger("aupguard.console")
        self.css = resources.files("aupguard.console").joinpath("static/console.css").read_bytes()

    @property
    def accounts(self) -> Accounts:
        return self.services.component(console_accounts)

    @property
    def sessions(self) -> Sessions:
        return self.services.component(console_sessions)

    @property
    def review(self) -> ReviewQueue:
        return self.services.component(review_queue)

    @property
    def enforcement(self) -> Enforcement:
        return self.review.enforcement

    # -- plumbing ---------------------------------------------------------------------

    def render(
        self, visit: Visit, template: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        base = visit.request.scope.get("root_path", "")
        signed_in = visit.session is not None and visit.session.stage is Stage.SIGNED_IN
        actor = visit.user.actor() if visit.user is not None and signed_in else None
        nav = [p for p in PAGES if p.built and actor is not None and p.visible_to(actor)]
        html = self.templates.get_template(template).render(
            base=base,
            user=visit.user,
            csrf=visit.session.csrf if visit.session is not None else "",
            nav=nav,
            path=visit.request.url.path[len(base) :] or "/",
            **context,
        )
        return HTMLResponse(html, status_code=status)

    def redirect(self, visit: Visit, path: str, session: Session | None = None) -> Response:
        base = visit.request.scope.get("root_path", "")
        response = RedirectResponse(base + path, status_code=303)
        if session is not None:
            self.set_cookie(response, session)
        return response

    def set_cookie(self, response: Response, session: Session) -> None:
        response.set_cookie(
            COOKIE,
            session.id,
            path="/",
            secure=True,
            httponly=True,
            samesite="strict",
        )

    def _load(self, request: Request) -> tuple[Session | None, ConsoleUser | None]:
        session = self.sessions.load(request.cookies.get(COOKIE))
        user = None
        if session is not None and session.record.user_id is not None:
            user = self.accounts.fresh(
                session.record.tenant,
                session.record.user_id,
                signed_in=session.stage is Stage.SIGNED_IN,
            )
            if user is None:  # revoked (or locked halfway through sign-in): the session is over
                self.sessions.end(session)
                session = None
        return session, user

    def page(
        self, handler: Handler, *, stage: Stage | tuple[Stage, ...] | None = Stage.SIGNED_IN
    ) -> Callable[[Request], Awaitable[Response]]:
        """An endpoint: session, CSRF on POST, stage check, errors as pages. A session whose
        password expired reaches only the password page."""
        stages = (stage,) if isinstance(stage, Stage) else stage

        async def endpoint(request: Request) -> Response:
            session, user = self._load(request)
            visit = Visit(request, session, user)
            try:
                if request.method == "POST":
                    visit.form = await self._read_form(request)
                    if not self.sessions.check_csrf(session, visit.field("csrf")):
                        raise Refused(
                            403,
                            "This form has expired or did not come from this console "
                            "(missing or wrong CSRF token). Open the page again and resubmit.",
                        )
                if stages is not None and (session is None or session.stage not in stages):
                    expired = session is not None and session.stage is Stage.EXPIRED
                    return self.redirect(visit, "/password" if expired else "/sign-in")
                return await handler(self, visit)
            except Refused as exc:
                return self.render(visit, "error.html", exc.status, message=exc.message)
            except Forbidden as exc:
                self._refused(visit, 403, exc.needed, audit=isinstance(exc, PageForbidden))
                return self.render(
                    visit, "error.html", 403, message="Your roles do not allow this page."
                )
            except UserNotFound:
                self._refused(visit, 404, "reach a user outside its tenant", audit=True)
                return self.render(visit, "error.html", 404, message="There is no such user.")
            except EnforcementError as exc:
                if isinstance(exc, NotFound):
                    self._refused(visit, 404, "reach a record outside the tenant named")
                    return self.render(visit, "error.html", 404, message=_sentence(str(exc)))
                return self.render(visit, "error.html", 400, message=_sentence(str(exc)))
            except ItemNotFound:
                self._refused(visit, 404, "reach a message outside the tenant named")
                return self.render(
                    visit, "error.html", 404, message="There is no such message for this tenant."
                )

        return endpoint

    def _refused(self, visit: Visit, status: int, what: str, *, audit: bool = False) -> None:
        """A log line for every refusal; with `audit`, an `access.denied` entry in the audit
        chain too (refusals by the enforcement service are audited by it)."""
        if audit and visit.user is not None:
            actor = visit.actor
            self.enforcement.store.audit.append(
                [
                    AuditDraft(
                        actor.tenant or PLATFORM,
                        actor.id,
                        "access.denied",
                        visit.request.url.path[:256],
                        {"action": what, "status": status},
                    )
                ]
            )
        self.log.warning(
            "console_refused",
            status=status,
            actor=visit.actor.id if visit.user is not None else None,
            tenant=visit.user.tenant if visit.user is not None else None,
            path=visit.request.url.path,
            needed=what,
            request_id=visit.request.scope.get("state", {}).get("request_id"),
        )

    async def _read_form(self, request: Request) -> FormData:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_FORM_BYTES):
            raise Refused(413, f"A console form is at most {MAX_FORM_BYTES} bytes.")
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/x-www-form-urlencoded":
            if length in (None, "0") and not kind:
                return FormData()  # an empty POST: no fields, so no CSRF token either
            raise Refused(415, "Console forms are sent as application/x-www-form-urlencoded.")
        return await request.form(max_files=0, max_fields=100)


class PageForbidden(Forbidden):
    """A page the actor's roles do not open (audited by the console)."""


def _require_page(visit: Visit, path: str) -> PageInfo:
    page = next(p for p in PAGES if p.path == path)
    if not page.visible_to(visit.actor):
        raise PageForbidden(visit.actor, f"open {page.title}")
    return page


# -- sign-in --------------------------------------------------------------------------


async def sign_in_page(console: Console, visit: Visit) -> Response:
    if visit.session is not None and visit.session.stage is Stage.SIGNED_IN:
        return console.redirect(visit, "/")
    session = visit.session
    if session is None or session.stage is not Stage.ANONYMOUS:
        if session is not None:  # a sign-in begun and left halfway: start again
            console.sessions.end(session)
        session = console.sessions.start()
    visit.session = session
    response = console.render(visit, "sign_in.html", error="", name="")
    console.set_cookie(response, session)
    return response


async def sign_in(console: Console, visit: Visit) -> Response:
    name = visit.field("name")
    result = console.accounts.check_password(name, visit.field("password"))
    if result.user is None:
        if result.locked_until is not None:
            error = (
                "Too many failed attempts: this account is locked for a while. "
                "Try again later or ask an administrator."
            )
            return console.render(visit, "sign_in.html", 429, error=error, name=name)
        error = "The user name or the password is wrong."
        return console.render(visit, "sign_in.html", 401, error=error, name=name)
    stage = Stage.PASSWORD if result.user.totp_confirmed else Stage.ENROL
    session = console.sessions.advance(visit.session, stage, result.user)
    return console.redirect(
        visit, "/second-factor" if stage is Stage.PASSWORD else "/enrol", session
    )


def _finish(console: Console, visit: Visit, user: ConsoleUser) -> Session:
    """Sign-in complete: a signed-in session, or one that must change an expired password
    first. Sessions of the same user from several addresses at once are reported (O2)."""
    console.accounts.signed_in(user)
    ip = visit.request.client.host if visit.request.client is not None else None
    if console.accounts.password_expired(user):
        return console.sessions.advance(visit.session, Stage.EXPIRED, user, ip)
    session = console.sessions.advance(visit.session, Stage.SIGNED_IN, user, ip)
    _check_shared(console, user)
    return session


def _check_shared(console: Console, user: ConsoleUser) -> None:
    """An incident when the user's live sessions come from as many addresses as the pack's
    `credential_policy.console_session_ips` (one account shared by several people)."""
    from aupguard.api.routes.enforcement import enforcement
    from aupguard.enforcement.datasets import CredentialPolicy
    from aupguard.enforcement.incidents import report_compromise

    svc = console.services.component(enforcement)
    policy = svc.data.get("credential_policy")
    addresses = console.sessions.addresses(user)
    if not isinstance(policy, CredentialPolicy) or len(addresses) < policy.console_session_ips:
        return
    found, new = report_compromise(
        svc,
        user.tenant or PLATFORM,
        f"console user {user.name} is signed in from {len(addresses)} addresses at once",
        dedupe=f"console:{user.id}",
        users=[user.name],
        clauses=("O2", "S5"),
        response=policy.on_shared,
    )
    console.log.warning(
        "console_shared_account", user=user.name, tenant=user.tenant, incident=found.id, new=new
    )


def _locked(console: Console, visit: Visit) -> Response:
    if visit.session is not None:
        console.sessions.end(visit.session)
    return console.redirect(visit, "/sign-in")


async def second_factor_page(console: Console, visit: Visit) -> Response:
    return console.render(visit, "second_factor.html", error="")


def _second_step(
    console: Console, visit: Visit, accepted: bool, template: str, error: str
) -> Response:
    """After a TOTP or recovery code: signed in, locked out (the user is gone), or asked again."""
    assert visit.user is not None
    if accepted:
        return console.redirect(visit, "/", _finish(console, visit, visit.user))
    if console.accounts.fresh(visit.user.tenant, visit.user.id) is None:
        return _locked(console, visit)
    return console.render(visit, template, 401, error=error)


async def second_factor(console: Console, visit: Visit) -> Response:
    assert visit.user is not None
    accepted = console.accounts.check_totp(visit.user, visit.field("code"))
    return _second_step(
        console, visit, accepted, "second_factor.html", "That code is wrong or was used already."
    )


async def recovery_page(console: Console, visit: Visit) -> Response:
    return console.render(visit, "recovery.html", error="")


async def recovery(console: Console, visit: Visit) -> Response:
    assert visit.user is not None
    accepted = console.accounts.use_recovery_code(visit.user, visit.field("code"))
    return _second_step(
        console,
        visit,
        accepted,
        "recovery.html",
        "That recovery code is wrong or was used already.",
    )


def _enrolment(console: Console, user: ConsoleUser) -> dict[str, Any]:
    """The otpauth:// link, its QR code (inline SVG, made here from the link) and the secret."""
    uri = console.accounts.otpauth_uri(user)
    qr = segno.make(uri, error="m").svg_inline(scale=4, dark="#1d2430", light="#ffffff")
    return {"uri": uri, "qr": Markup(qr), "secret": user.totp_secret}


async def enrol_page(console: Console, visit: Visit) -> Response:
    assert visit.user is not None
    return console.render(visit, "enrol.html", error="", **_enrolment(console, visit.user))


async def enrol(console: Console, visit: Visit) -> Response:
    assert visit.user is not None
    codes = console.accounts.confirm_enrolment(visit.user, visit.field("code"))
    if codes is None:
        if console.accounts.fresh(visit.user.tenant, visit.user.id) is None:
            return _locked(console, visit)
        return console.render(
            visit,
            "enrol.html",
            401,
            error="That code is wrong: check the time on your device and try the next one.",
            **_enrolment(console, visit.user),
        )
    session = _finish(console, visit, visit.user)
    visit.session = session
    response = console.render(visit, "recovery_codes.html", codes=codes)
    console.set_cookie(response, session)
    return response


async def sign_out(console: Console, visit: Visit) -> Response:
    if visit.session is not None:
        console.sessions.end(visit.session)
    response = console.redirect(visit, "/sign-in")
    response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response


# -- pages ----------------------------------------------------------------------------


async def home(console: Console, visit: Visit) -> Response:
    actor = visit.actor
    planned = [p for p in PAGES if not p.built and (not p.roles or p.visible_to(actor))]
    return console.render(visit, "home.html", planned=planned)


async def test_message_page(console: Console, visit: Visit) -> Response:
    _require_page(visit, "/test-message")
    return console.render(
        visit,
        "test_message.html",
        form={"body": "", "sender": "+12025550143", "to": "+14155550123"},
        error="",
        decision=None,
    )


async def test_message(console: Console, visit: Visit) -> Response:
    _require_page(visit, "/test-message")
    form = {k: visit.field(k) for k in ("body", "sender", "to")}
    error, decision = "", None
    if len(form["body"]) > MAX_TEST_BODY:
        error = f"body: at most {MAX_TEST_BODY} characters"
    else:
        try:
            event = OutboundMessage.model_validate(
                {"from": form["sender"], "to": form["to"], "body": form["body"]}
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            where = {"sender": "from"}.get(str(first["loc"][0]), str(first["loc"][0]))
            error = f"{where}: {first['msg']}"
        else:
            decision = console.services.engine.screen(event)
    status = 400 if error else 200
    return console.render(
        visit, "test_message.html", status, form=form, error=error, decision=decision
    )


def _expiry_note(console: Console, visit: Visit) -> str:
    if visit.session is None or visit.session.stage is not Stage.EXPIRED:
        return ""
    days = console.accounts.password_max_age.days
    return f"Your password is more than {days} days old: choose a new one to continue."


async def password_page(console: Console, visit: Visit) -> Response:
    return console.render(
        visit, "password.html", error="", note="", expired=_expiry_note(console, visit)
    )


async def change_password(console: Console, visit: Visit) -> Response:
    assert visit.user is not None
    new = visit.field("new")
    error = ""
    if new != visit.field("confirm"):
        error = "The new password and its confirmation differ."
    else:
        try:
            user = console.accounts.change_password(visit.user, visit.field("current"), new)
        except WrongPassword:
            error = "The current password is wrong."
        except WeakPassword as exc:
            error = f"New password: {exc}."
    if error:
        if console.accounts.fresh(visit.user.tenant, visit.user.id) is None:
            return _locked(console, visit)
        expired = _expiry_note(console, visit)
        return console.render(visit, "password.html", 400, error=error, note="", expired=expired)
    # every other session of the user ends; this one goes on under a new id
    console.sessions.end_user(user)
    ip = visit.request.client.host if visit.request.client is not None else None
    session = console.sessions.start(Stage.SIGNED_IN, user, ip)
    visit.session = session
    note = "Your password was changed. You were signed out everywhere else."
    response = console.render(visit, "password.html", error="", note=note, expired="")
    console.set_cookie(response, session)
    return response


def _tenant_in_scope(visit: Visit, raw: str) -> str | None:
    """The tenant whose users the page shows: a tenant admin's own; staff pick one
    (empty: the staff users)."""
    actor = visit.actor
    if not actor.is_staff:
        return actor.tenant
    return raw.strip() or None


async def users_page(console: Console, visit: Visit) -> Response:
    _require_page(visit, "/users")
    tenant = _tenant_in_scope(visit, visit.request.query_params.get("tenant", ""))
    users = console.accounts.users_of(visit.actor, tenant)
    note = NOTES.get(visit.request.query_params.get("note", ""), "")
    return _users_view(console, visit, tenant, users, note=note, error="")


def _users_view(
    console: Console,
    visit: Visit,
    tenant: str | None,
    users: list[ConsoleUser],
    *,
    note: str,
    error: str,
    status: int = 200,
) -> Response:
    roles = sorted(
        r.value
        for r in (
            (Role.REVIEWER, Role.ADMIN, Role.LEGAL)
            if tenant is None
            else (Role.TENANT_ADMIN, Role.SENDER, Role.VIEWER)
        )
    )
    return console.render(
        visit,
        "users.html",
        status,
        tenant=tenant,
        users=users,
        roles=roles,
        note=note,
        error=error,
        now=console.accounts.clock(),
    )


def _users_path(tenant: str | None, note: str) -> str:
    query = f"?note={note}"
    if tenant is not None:
        query += f"&tenant={quote(tenant, safe='')}"
    return "/users" + query


async def create_user(console: Console, visit: Visit) -> Response:
    _require_page(visit, "/users")
    tenant = _tenant_in_scope(visit, visit.field("tenant"))
    roles = visit.form.getlist("roles") if visit.form is not None else []
    try:
        console.accounts.create(
            visit.actor,
            visit.field("name"),
            tenant,
            [r for r in roles if isinstance(r, str)],
            visit.field("password"),
        )
    except (WeakPassword, DuplicateUser, ValueError) as exc:
        users = console.accounts.users_of(visit.actor, tenant)
        return _users_view(console, visit, tenant, users, note="", error=str(exc), status=400)
    return console.redirect(visit, _users_path(tenant, "created"))


async def set_roles(console: Console, visit: Visit) -> Response:
    _require_page(visit, "/users")
    tenant = _tenant_in_scope(visit, visit.field("tenant"))
    roles = visit.form.getlist("roles") if visit.form is not None else []
    user_id = visit.request.path_params["user_id"]
    try:
        console.accounts.set_roles(
            visit.actor, tenant, user_id, [r for r in roles if isinstance(r, str)]
        )
    except ValueError as exc:
        users = console.accounts.users_of(visit.actor, tenant)
        return _users_view(console, visit, tenant, users, note="", error=str(exc), status=400)
    return console.redirect(visit, _users_path(tenant, "roles"))


async def reset_second_factor(console: Console, visit: Visit) -> Response:
    _require_page(visit, "/users")
    tenant = _tenant_in_scope(visit, visit.field("tenant"))
    user = console.accounts.get(visit.actor, tenant, visit.request.path_params["user_id"])
    console.accounts.reset_second_factor(visit.actor, tenant, user.id)
    console.sessions.end_user(user)
    return console.redirect(visit, _users_path(tenant, "reset"))


async def members_page(console: Console, visit: Visit) -> Response:
    _require_page(visit, "/members")
    inactive = console.accounts.inactive_staff(visit.actor)
    note = NOTES.get(visit.request.query_params.get("note", ""), "")
    return console.render(
        visit, "members.html", inactive=inactive, note=note, now=console.accounts.clock()
    )


async def revoke_member(console: Console, visit: Visit) -> Response:
    _require_page(visit, "/members")
    user = console.accounts.revoke(visit.actor, None, visit.request.path_params["user_id"])
    console.sessions.end_user(user)
    return console.redirect(visit, "/members?note=revoked")


# -- the held-message queue -------------------------------------------------------------

QUEUE_NOTES = {
    "release": "Released: the message is queued for delivery.",
    "block": "Blocked: the message will not be sent.",
    "escalate": "Escalated: the message stays held; the case has your note.",
    "empty": "The queue is empty.",
}
PAGE_SIZE = 50


def _cursor(raw: str) -> tuple[datetime, str] | None:
    if not raw:
        return None
    found = decode_cursor(raw)
    if found is None:
        raise Refused(400, "after: not a cursor this page gave (microseconds-id).")
    return found


def _next_cursor(rows: list[MessageRecord]) -> str:
    """The keyset cursor of the next page ("" when `rows`, read with one row more than a
    page, fit on this one)."""
    if len(rows) <= PAGE_SIZE:
        return ""
    last = rows[PAGE_SIZE - 1]
    return cursor_of(last.created_at, last.id)


def _tenant_filter(visit: Visit) -> str | None:
    return visit.request.query_params.get("tenant", "").strip() or None


async def queue_page(console: Console, visit: Visit) -> Response:
    _require_page(visit, "/queue")
    tenant = _tenant_filter(visit)
    rule = visit.request.query_params.get("rule", "").strip() or None
    after = _cursor(visit.request.query_params.get("after", ""))
    held = console.review.page(
        visit.actor, after=after, tenant=tenant, rule=rule, limit=PAGE_SIZE + 1
    )
    more = _next_cursor(held)
    params = visit.request.query_params
    note = QUEUE_NOTES.get(params.get("note", ""), "")
    if params.get("note") == "bulk" and params.get("done", "").isdigit():
        note = f"Done for {int(params['done'])} message(s)."
    return console.render(
        visit,
        "queue.html",
        held=held[:PAGE_SIZE],
        more=more,
        tenant=tenant,
        rule=rule,
        note=note,
        actions=ACTIONS,
        bulk_limit=BULK_LIMIT,
    )


async def queue_bulk(console: Console, visit: Visit) -> Response:
    """An action over a filter (a tenant, and a rule): a confirmation saying how many
    messages and what will happen, then the action on each."""
    _require_page(visit, "/queue")
    tenant = visit.field("tenant").strip()
    rule = visit.field("rule").strip() or None
    action = visit.field("action")
    if not tenant:
        raise Refused(400, "tenant: a bulk action is over one tenant's held messages.")
    if action not in ACTIONS:
        raise Refused(400, "action: one of release, block or escalate.")
    note = visit.field("note")[:2000]
    review = console.review
    query = f"?tenant={quote(tenant, safe='')}" + (f"&rule={quote(rule, safe='')}" if rule else "")
    if visit.field("confirmed") != "yes":
        count = len(review.page(visit.actor, tenant=tenant, rule=rule, limit=BULK_LIMIT))
        if not count:
            return console.redirect(visit, "/queue" + query + "&note=empty")
        return console.render(
            visit,
            "bulk_confirm.html",
            what=review.describe_bulk(count, tenant, rule, action),  # type: ignore[arg-type]
            tenant=tenant,
            rule=rule or "",
            action=action,
            label=ACTIONS[action],
            note=note,
            count=count,
        )
    done = review.bulk(visit.actor, tenant, rule, action, note)  # type: ignore[arg-type]
    return console.redirect(visit, "/queue" + query + f"&note=bulk&done={len(done)}")


async def queue_next(console: Console, visit: Visit) -> Response:
    _require_page(visit, "/queue")
    tenant = _tenant_filter(visit)
    found = console.review.next(visit.actor, tenant)
    note = visit.request.query_params.get("note", "")
    note = note if note in QUEUE_NOTES else ""
    if found is None:
        return console.redirect(visit, "/queue?note=" + (note or "empty"))
    path = f"/queue/{quote(found.tenant, safe='')}/{found.id}"
    return console.redirect(visit, path + (f"?note={note}" if note else ""))


def _item_path(visit: Visit) -> tuple[str, str]:
    return visit.request.path_params["tenant"], visit.request.path_params["message_id"]


async def held_page(console: Console, visit: Visit) -> Response:
    _require_page(visit, "/queue")
    tenant, message_id = _item_path(visit)
    item = console.review.item(visit.actor, tenant, message_id)
    note = QUEUE_NOTES.get(visit.request.query_params.get("note", ""), "")
    return console.render(visit, "held.html", item=item, note=note)


async def review_held(console: Console, visit: Visit) -> Response:
    _require_page(visit, "/queue")
    tenant, message_id = _item_path(visit)
    action = visit.field("action")
    if action not in ACTIONS:
        raise Refused(400, "action: one of release, block or escalate.")
    note = visit.field("note")[:2000]
    review = console.review
    if visit.field("confirmed") != "yes":
        item = review.item(visit.actor, tenant, message_id)
        if item.message.status != "held":
            raise Refused(409, f"Message {message_id} is {item.message.status} already.")
        return console.render(
            visit,
            "review_confirm.html",
            message=item.message,
            action=action,
            label=ACTIONS[action],
            what=review.describe(item, action),  # type: ignore[arg-type]
            note=note,
        )
    try:
        review.act(visit.actor, tenant, message_id, action, note)  # type: ignore[arg-type]
    except AlreadyReviewed as exc:
        raise Refused(409, f"Message {message_id} is {exc.message.status} already.") from exc
    return console.redirect(visit, f"/queue/next?note={action}")


# -- cases -----------------------------------------------------------------------------

CASE_NOTES = {
    "note": "The note was added.",
    "assign": "The case was assigned.",
    "decide": "The case was decided.",
    "act": "The enforcement action was taken.",
}


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _choice(raw: str, allowed: tuple[str, ...], name: str) -> str | None:
    raw = raw.strip()
    if not raw:
        return None
    if raw not in allowed:
        raise Refused(400, f"{name}: one of {', '.join(allowed)}.")
    return raw


async def cases_page(console: Console, visit: Visit) -> Response:
    _require_page(visit, "/cases")
    params = visit.request.query_params
    filters: dict[str, Any] = {
        "tenant": params.get("tenant", "").strip() or None,
        "status": _choice(params.get("status", ""), case_views.CASE_STATUSES, "status"),
        "type": _choice(params.get("type", ""), case_views.CASE_TYPES, "type"),
        "assignee": params.get("assignee", "").strip() or None,
        "overdue": params.get("overdue", "") == "1",
    }
    now = console.enforcement.clock()
    found = case_views.find_cases(
        console.enforcement,
        visit.actor,
        tenant=filters["tenant"],
        status=filters["status"],
        type_=filters["type"],
        overdue=bool(filters["overdue"]),
        assignee=filters["assignee"],
        now=now,
    )
    return console.render(
        visit,
        "cases.html",
        rows=case_views.case_rows(found, now),
        f=filters,
        statuses=case_views.CASE_STATUSES,
        types=case_views.CASE_TYPES,
        limit=case_views.LIST_LIMIT,
    )


def _case_of(console: Console, visit: Visit) -> Any:
    params = visit.request.path_params
    return case_views.open_case_page(
        console.enforcement, visit.actor, params["tenant"], params["case_id"]
    )


def _case_view(
    console: Console, visit: Visit, case: Any, *, note: str = "", error: str = "", status: int = 200
) -> Response:
    svc = console.enforcement
    actions = case_views.actions_of(svc, case)
    clock, overdue = case_views.clock_text(case, svc.clock())
    if case.status == "appealed":
        outcomes: tuple[str, ...] = ("upheld", "reversed")
    elif case.status in ("open", "needs_info"):
        outcomes = ("violation", "no_violation")
    else:
        outcomes = ()
    return console.render(
        visit,
        "case.html",
        status,
        case=case,
        moments=case_views.timeline(case, actions),
        actions=actions,
        clock=clock,
        overdue=overdue,
        outcomes=outcomes,
        steps=STEPS,
        can_act=visit.actor.has(Role.REVIEWER, Role.ADMIN),
        me=visit.actor.id,
        note=note,
        error=error,
    )


async def case_page(console: Console, visit: Visit) -> Response:
    _require_page(visit, "/cases")
    note = CASE_NOTES.get(visit.request.query_params.get("note", ""), "")
    return _case_view(console, visit, _case_of(console, visit), note=note)


async def case_change(console: Console, visit: Visit) -> Response:
    """Note, assign, decide or act: through the enforcement service, then back to the case."""
    _require_page(visit, "/cases")
    case = _case_of(console, visit)
    svc, actor = console.enforcement, visit.actor
    what = visit.request.path_params["what"]
    try:
        if what == "note":
            svc.note(actor, case.tenant, case.id, visit.field("text"))
        elif what == "assign":
            assignee = visit.field("assignee").strip()
            if not assignee:
                raise EnforcementError(
                    "missing_assignee", "say who to assign the case to", "assignee"
                )
            svc.assign(actor, case.tenant, case.id, assignee[:128])
        elif what == "decide":
            svc.decide(actor, case.tenant, case.id, visit.field("outcome"), visit.field("reason"))
        elif what == "act":
            case_views.take_action(
                svc, actor, case, visit.field("step"), visit.field("reason"), visit.field("target")
            )
        else:
            raise Refused(404, "There is no such page.")
    except EnforcementError as exc:
        if isinstance(exc, NotFound):
            raise
        return _case_view(
            console, visit, _case_of(console, visit), error=_sentence(str(exc)), status=400
        )
    path = f"/cases/{quote(case.tenant, safe='')}/{case.id}?note={what}"
    return console.redirect(visit, path)


# -- the legal register ----------------------------------------------------------------

LEGAL_FIELDS = ("tenant", "authority", "basis", "scope", "deadline")


def _legal_guard(console: Console, visit: Visit) -> None:
    """Legal staff only; anyone else is refused, and the attempt is in the audit log."""
    console.enforcement.guard(visit.actor, Role.LEGAL, action="open the legal-request register")


def _legal_view(
    console: Console,
    visit: Visit,
    *,
    form: dict[str, Any] | None = None,
    note: str = "",
    error: str = "",
    status: int = 200,
) -> Response:
    from aupguard.enforcement.legal import legal_requests
    from aupguard.enforcement.records import LegalRequest

    svc = console.enforcement
    tenant = visit.request.query_params.get("tenant", "").strip() or None
    if tenant is not None:
        requests = legal_requests(svc, visit.actor, tenant)
    else:
        requests = svc.store.find_any(LegalRequest, status="open", limit=200)
    blank: dict[str, Any] = dict.fromkeys(LEGAL_FIELDS, "") | {"emergency": False}
    return console.render(
        visit,
        "legal.html",
        status,
        requests=requests,
        tenant=tenant,
        form=form or blank,
        now=svc.clock(),
        note=note,
        error=error,
    )


async def legal_page(console: Console, visit: Visit) -> Response:
    _legal_guard(console, visit)
    note = "The request was registered." if visit.request.query_params.get("note") else ""
    return _legal_view(console, visit, note=note)


async def legal_register(console: Console, visit: Visit) -> Response:
    from aupguard.enforcement.legal import register_request

    _legal_guard(console, visit)
    form: dict[str, Any] = {name: visit.field(name).strip() for name in LEGAL_FIELDS}
    form["emergency"] = visit.field("emergency") == "1"
    error = ""
    if not form["tenant"]:
        error = "Tenant: name the account the request concerns."
    else:
        try:
            deadline = datetime.fromisoformat(form["deadline"])
        except ValueError:
            error = "Deadline: a date and time with its zone, e.g. 2026-12-01T17:00:00+00:00."
        else:
            try:
                register_request(
                    console.enforcement,
                    visit.actor,
                    form["tenant"],
                    authority=form["authority"],
                    basis=form["basis"],
                    scope=form["scope"],
                    deadline=deadline,
                    emergency=form["emergency"],
                )
            except EnforcementError as exc:
                error = f"{(exc.field or 'request').capitalize()}: {exc}."
    if error:
        return _legal_view(console, visit, form=form, error=error, status=400)
    return console.redirect(
        visit, f"/legal?note=registered&tenant={quote(form['tenant'], safe='')}"
    )


# -- the public abuse-report form --------------------------------------------------------

REPORT_FIELDS = ("url", "number", "workspace", "timestamp", "description", "contact")


def report_limiter(services: Services) -> RateLimit:
    """Public reports per client address: 5 in 10 minutes (per server process)."""
    return RateLimit(5, 600.0)


async def report_page(console: Console, visit: Visit) -> Response:
    session = visit.session
    if session is None:
        session = console.sessions.start()
    visit.session = session
    form = dict.fromkeys(REPORT_FIELDS, "")
    response = console.render(visit, "report.html", form=form, problems={}, done=False)
    console.set_cookie(response, session)
    return response


async def report_submit(console: Console, visit: Visit) -> Response:
    from aupguard.api.routes.enforcement import enforcement
    from aupguard.enforcement.reports import ReportInvalid, file_report

    form = {name: visit.field(name).strip() for name in REPORT_FIELDS}
    address = visit.request.client.host if visit.request.client else "unknown"
    if not console.services.component(report_limiter).allow(address):
        raise Refused(
            429, "Too many reports from your address: wait a few minutes and send it again."
        )
    if visit.field("website"):  # the honeypot: only robots fill a field nobody sees
        console.log.warning("console_report_trap", address=address)
        return console.render(visit, "report.html", form=form, problems={}, done=True, report="")
    data = {k: v for k, v in form.items() if v}
    try:
        report = file_report(console.services.component(enforcement), data)
    except ReportInvalid as exc:
        return console.render(
            visit, "report.html", 422, form=form, problems=exc.problems, done=False
        )
    return console.render(visit, "report.html", form=form, problems={}, done=True, report=report.id)


# -- the customer view ------------------------------------------------------------------

CUSTOMER_NOTES = {
    "appealed": "Your appeal was filed: a reviewer who did not decide the case looks at it."
}


def consent_ledger(services: Services) -> ConsentStore:
    """The consent ledger the send path reads (the screener's), else the database's."""
    from aupguard.consent.source import ConsentSource

    for source in services.screener.sources:
        if isinstance(source, ConsentSource):
            return source.ledger
    from aupguard.service.pipeline import consent_source

    return consent_source(services.database).ledger


def _pack_titles(console: Console) -> tuple[dict[str, str], dict[str, str]]:
    pack = console.services.engine.pack
    rules = {r.id: r.title for r in pack.rules}
    clauses = {c: f"{loc.value.policy}: {loc.value.text}" for c, loc in pack.clauses.items()}
    return rules, clauses


def _own_tenant(visit: Visit) -> str:
    tenant = visit.actor.tenant
    if tenant is None:
        raise Forbidden(visit.actor, "open a tenant's own messages (tenant users only)")
    return tenant


def _customer_view(
    console: Console, visit: Visit, *, error: str = "", status: int = 200
) -> Response:
    from aupguard.consent.source import recipient_key
    from aupguard.enforcement.records import Case
    from aupguard.outbox.model import MessageQuery

    _require_page(visit, "/my-messages")
    tenant = _own_tenant(visit)
    params = visit.request.query_params
    after = _cursor(params.get("after", ""))
    store = console.review.store
    found = store.find_messages(
        MessageQuery(tenant=tenant, statuses=("held", "blocked"), limit=PAGE_SIZE + 1, after=after)
    )
    more = _next_cursor(found)
    appealable: list[Case] | None = None
    appealed: list[Case] = []
    if visit.actor.has(Role.TENANT_ADMIN):
        cases = console.enforcement.cases(visit.actor, tenant)
        appealable = [
            c
            for c in cases
            if c.status == "decided"
            and c.outcome in ("violation", "upheld")
            and c.appealed_at is None
        ]
        appealed = [c for c in cases if c.status == "appealed"]
    number = params.get("number", "").strip()[:32]
    consent = (
        console.services.component(consent_ledger).history(tenant, recipient_key(number))
        if number
        else []
    )
    titles, _ = _pack_titles(console)
    note = CUSTOMER_NOTES.get(params.get("note", ""), "")
    return console.render(
        visit,
        "my_messages.html",
        status,
        messages=found[:PAGE_SIZE],
        more=more,
        titles=titles,
        appealable=appealable,
        appealed=appealed,
        number=number,
        consent=consent,
        note=note,
        error=error,
    )


async def my_messages_page(console: Console, visit: Visit) -> Response:
    return _customer_view(console, visit)


async def my_message_page(console: Console, visit: Visit) -> Response:

    _require_page(visit, "/my-messages")
    tenant = _own_tenant(visit)
    message_id = visit.request.path_params["message_id"]
    message = console.review.store.message(tenant, message_id)
    if message is None:  # another tenant's id, or none: refused, and recorded
        console.enforcement.store.audit.append(
            [
                console.enforcement.draft(
                    visit.actor,
                    tenant,
                    "access.denied",
                    message_id,
                    {"action": "open a message", "reason": "not in this tenant"},
                )
            ]
        )
        raise ItemNotFound(message_id)
    cases = []
    if visit.actor.has(Role.TENANT_ADMIN):
        cases = [
            c
            for c in console.enforcement.cases(visit.actor, tenant)
            if any(e.get("message") == message.id for e in c.evidence)
        ]
    titles, clause_titles = _pack_titles(console)
    return console.render(
        visit,
        "my_message.html",
        message=message,
        titles=titles,
        clause_titles=clause_titles,
        cases=cases,
    )


async def appeal(console: Console, visit: Visit) -> Response:
    _require_page(visit, "/my-messages")
    tenant = _own_tenant(visit)
    try:
        console.enforcement.appeal(visit.actor, tenant, visit.field("case"), visit.field("reason"))
    except EnforcementError as exc:
        if isinstance(exc, NotFound):
            raise
        return _customer_view(console, visit, error=_sentence(str(exc)), status=400)
    return console.redirect(visit, "/my-messages?note=appealed")


# -- policy and account pages --------------------------------------------------------------


def hit_chart(services: Services) -> HitChart:
    return HitChart(services.component(review_queue).store, utc_now)


def shadow_results(services: Services) -> ShadowResults:
    return ShadowResults(services.component(review_queue).store, utc_now)


async def policy_page(console: Console, visit: Visit) -> Response:
    _require_page(visit, "/policy")
    pack = console.services.engine.pack
    _, counts = console.services.component(hit_chart).counts()
    shadow = console.services.component(shadow_results).results()
    return console.render(
        visit,
        "policy.html",
        pack=pack,
        rows=insight.rule_rows(pack, counts),
        shadow=insight.shadow_rows(pack, shadow),
        can_review=visit.actor.has(*QUEUE_ROLES),
        coverage=insight.pack_coverage(pack),
        days=insight.DAYS,
        bars=insight.bars,
    )


def _limits(
    console: Console, tenant: str, plan: str, senders: list[SenderRecord], now: datetime
) -> list[usage.LimitRow]:
    data = console.services.engine.pack.data.get("channel_limits")
    return usage.limit_rows(
        data if isinstance(data, ChannelLimits) else None,
        console.services.component(usage.counter_store),
        tenant,
        plan,
        senders,
        now,
    )


async def account_page(console: Console, visit: Visit) -> Response:
    _require_page(visit, "/accounts")
    tenant = visit.request.query_params.get("tenant", "").strip()[:128]
    if not tenant:
        return console.render(visit, "account.html", tenant=tenant, view=None)
    now = utc_now()
    view = insight.account_view(console.enforcement, visit.actor, tenant, now)
    services = console.services
    senders = services.component(usage.sender_registry).list(tenant)
    limits = _limits(console, tenant, view.standing.plan, senders, now)
    return console.render(
        visit,
        "account.html",
        tenant=tenant,
        view=view,
        senders=usage.sender_rows(senders),
        limits=limits,
        consent=usage.consent_statistics(services.component(consent_ledger), tenant, now),
        consent_days=usage.CONSENT_DAYS,
    )


async def sender_page(console: Console, visit: Visit) -> Response:
    """One sender of an account: its registration, evidence and limits. A sender that
    is not the tenant's (a URL edited to another account's number) is a 404, audited."""
    from aupguard.enforcement.service import STAFF

    _require_page(visit, "/accounts")
    tenant = visit.request.path_params["tenant"]
    sender = visit.request.path_params["sender"]
    svc = console.enforcement
    svc.guard(visit.actor, *STAFF, Role.LEGAL, action="see an account", tenant=tenant)
    services = console.services
    record = services.component(usage.sender_registry).get(tenant, sender)
    if record is None:
        svc.store.audit.append(
            [
                svc.draft(
                    visit.actor,
                    tenant,
                    "access.denied",
                    sender[:128],
                    {"action": "open a sender", "reason": "not in this tenant"},
                )
            ]
        )
        console._refused(visit, 404, "reach a sender outside the tenant named")
        raise Refused(404, "There is no such sender for this tenant.")
    now = utc_now()
    limits = _limits(console, tenant, svc.standing(tenant, now).plan, [record], now)
    return console.render(
        visit,
        "sender.html",
        tenant=tenant,
        row=usage.sender_rows([record])[0],
        limits=[row for row in limits if row.scope != "the account"],
    )


# -- the audit log ---------------------------------------------------------------------


async def audit_page(console: Console, visit: Visit, result: Any = None) -> Response:
    _require_page(visit, "/audit")
    params = visit.request.query_params
    tenant = params.get("tenant", "").strip() or None
    kind = params.get("kind", "").strip() or None
    raw = params.get("before", "")
    if raw and not raw.isdigit():
        raise Refused(400, "before: a sequence number.")
    log = console.enforcement.store.audit
    entries = log.recent(tenant, kind=kind, before=int(raw) if raw else None, limit=PAGE_SIZE + 1)
    more = entries[PAGE_SIZE - 1].seq if len(entries) > PAGE_SIZE else ""
    return console.render(
        visit,
        "audit.html",
        entries=entries[:PAGE_SIZE],
        more=more,
        tenant=tenant,
        kind=kind,
        result=result,
    )


async def audit_verify(console: Console, visit: Visit) -> Response:
    _require_page(visit, "/audit")
    from aupguard.audit.keys import load_signer
    from aupguard.audit.verify import verify_log

    signer = load_signer()
    key = signer.key.public_key() if signer is not None else None
    log = console.enforcement.store.audit
    return await audit_page(console, visit, verify_log(log, key))


def _days(now: datetime, then: datetime) -> int:
    return (now - then).days


def create_console(services: Services) -> Starlette:
    console = Console(services)
    console.templates.globals["days_since"] = _days

    async def css(_: Request) -> Response:
        return Response(console.css, media_type="text/css")

    def route(path: str, get: Handler | None, post: Handler | None, **kw: Any) -> list[Route]:
        routes = []
        if get is not None:
            routes.append(Route(path, console.page(get, **kw), methods=["GET"]))
        if post is not None:
            routes.append(Route(path, console.page(post, **kw), methods=["POST"]))
        return routes

    routes = [
        Route("/static/console.css", css, methods=["GET"]),
        *route("/sign-in", sign_in_page, None, stage=None),
        *route("/sign-in", None, sign_in, stage=Stage.ANONYMOUS),
        *route("/second-factor", second_factor_page, second_factor, stage=Stage.PASSWORD),
        *route("/recovery", recovery_page, recovery, stage=Stage.PASSWORD),
        *route("/enrol", enrol_page, enrol, stage=Stage.ENROL),
        *route("/sign-out", None, sign_out, stage=None),
        *route("/", home, None),
        *route("/test-message", test_message_page, test_message),
        *route("/password", password_page, change_password, stage=(Stage.SIGNED_IN, Stage.EXPIRED)),
        *route("/users", users_page, create_user),
        *route("/users/{user_id}/roles", None, set_roles),
        *route("/users/{user_id}/reset-2fa", None, reset_second_factor),
        *route("/members", members_page, None),
        *route("/members/{user_id}/revoke", None, revoke_member),
        *route("/queue", queue_page, None),
        *route("/queue/next", queue_next, None),
        *route("/queue/bulk", None, queue_bulk),
        *route("/queue/{tenant}/{message_id}", held_page, None),
        *route("/queue/{tenant}/{message_id}/review", None, review_held),
        *route("/cases", cases_page, None),
        *route("/cases/{tenant}/{case_id}", case_page, None),
        *route("/cases/{tenant}/{case_id}/{what}", None, case_change),
        *route("/legal", legal_page, legal_register),
        *route("/report", report_page, None, stage=None),
        *route("/report", None, report_submit, stage=None),
        *route("/my-messages", my_messages_page, None),
        *route("/my-messages/appeal", None, appeal),
        *route("/my-messages/{message_id}", my_message_page, None),
        *route("/policy", policy_page, None),
        *route("/accounts", account_page, None),
        *route("/accounts/{tenant}/senders/{sender}", sender_page, None),
        *route("/audit", audit_page, None),
        *route("/audit/verify", None, audit_verify),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(_SecurityHeaders)])
    app.state.console = console
    return app
