"""Server time of console pages against a trivial Starlette endpoint in the same run.

The whole HTTP app (API + console mounted at /console, SQLite embedded database)
is called in-process through ASGI, no network: each sample is one request from
the first byte in to the last byte out. Pages: the sign-in page (writes an
anonymous session for its CSRF token), home and the test-a-message form (a
signed-in session is read and the user fetched), and a test-a-message POST that
screens a phishing SMS with the default pack. Baseline: a Starlette app with one
route returning "ok", called the same way. Interleaved passes.

    .venv/bin/python -m bench.console_pages
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message

from aupguard.actors import Actor, Role
from aupguard.api.app import create_app
from aupguard.api.services import build_services
from aupguard.config import Settings
from aupguard.console.app import COOKIE, console_accounts, console_sessions
from aupguard.console.store import Stage
from aupguard.store.migrate import upgrade
from bench.common import interleaved, report, summary

PHISH = "Your parcel is held, pay the fee at hxxp://dhl-track[.]top/pay"


class Caller:
    """Calls an ASGI app with one request and waits for the whole answer."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def __call__(
        self, app: ASGIApp, method: str, path: str, cookie: str = "", body: bytes = b""
    ) -> int:
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
            "query_string": b"",
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


def main() -> None:
    call = Caller()

    async def ok(_: Request) -> Response:
        return PlainTextResponse("ok")

    trivial = Starlette(routes=[Route("/ok", ok)])
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite:///{Path(tmp) / 'bench.sqlite'}", access_log=False
        )
        services = build_services(settings)
        assert services.database is not None
        upgrade(services.database)
        app = create_app(services=services)
        accounts = services.component(console_accounts)
        sessions = services.component(console_sessions)
        admin = Actor("bench", frozenset({Role.ADMIN}))
        user = accounts.create(
            admin, "bench", None, ["reviewer"], "a long and unusual password"
        ).user
        session = sessions.start(Stage.SIGNED_IN, user)
        cookie = f"{COOKIE}={session.id}"
        form = urlencode(
            {"csrf": session.csrf, "sender": "+12025550143", "to": "+14155550123", "body": PHISH}
        ).encode()
        checks = {
            "sign-in page": call(app, "GET", "/console/sign-in"),
            "home": call(app, "GET", "/console/", cookie),
            "test-a-message form": call(app, "GET", "/console/test-message", cookie),
            "test-a-message POST": call(app, "POST", "/console/test-message", cookie, form),
        }
        assert set(checks.values()) == {200}, checks
        items = [0] * 300
        samples = interleaved(
            {
                "trivial Starlette endpoint (baseline)": (
                    lambda _: call(trivial, "GET", "/ok"),
                    items,
                ),
                "sign-in page": (lambda _: call(app, "GET", "/console/sign-in"), items),
                "home": (lambda _: call(app, "GET", "/console/", cookie), items),
                "test-a-message form": (
                    lambda _: call(app, "GET", "/console/test-message", cookie),
                    items,
                ),
                "test-a-message POST": (
                    lambda _: call(app, "POST", "/console/test-message", cookie, form),
                    items,
                ),
            },
            passes=3,
        )
        services.close()
    results = {name: summary(values) for name, values in samples.items()}
    base = results["trivial Starlette endpoint (baseline)"]["mean_us"]
    for row in results.values():
        row["ratio_to_baseline"] = round(row["mean_us"] / base, 1)
    report(
        "console_pages",
        {
            "what": "server time of one console request in-process over ASGI "
            "(SQLite embedded database; the whole app with the API middleware)",
            "baseline": "a Starlette app with one route returning 'ok', called the same way",
            "results": {k: {m: round(v, 2) for m, v in row.items()} for k, row in results.items()},
        },
    )


if __name__ == "__main__":
    main()
