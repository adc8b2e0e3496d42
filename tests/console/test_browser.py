"""The console in a real browser: Debian's chromium driven by Playwright against a real
`aupguard serve` on a temporary SQLite database, users made with the real CLI.

Never downloads a browser: it launches /usr/bin/chromium (scripts/debian-packages.txt).
Screenshots go to a temporary folder, or to the folder named by AUPGUARD_SCREENSHOTS
(`AUPGUARD_SCREENSHOTS=docs/screenshots pytest tests/console/test_browser.py` refreshes
the ones docs/console.md shows).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from playwright.sync_api import Browser, Dialog, Page, sync_playwright

from aupguard.console.store_sql import SqlUserStore
from aupguard.store.db import Database
from tests.services import aupguard_command, free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct horse battery staple"
XSS_SCRIPT = "<script>window.__pwned = 1; alert('pwned')</script> claim your prize"
XSS_ATTRIBUTE = '"onmouseover="window.__pwned = 2" autofocus onfocus="window.__pwned = 3" x="'


@dataclass
class Server:
    base: str
    env: dict[str, str]
    url: str
    shots: Path

    def user(self, name: str, *args: str) -> dict[str, str]:
        made = subprocess.run(
            [*aupguard_command(), "console", "user-create", name, *args, "--json"],
            env={**self.env, "AUPGUARD_CONSOLE_PASSWORD": PASSWORD},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        shown: dict[str, str] = json.loads(made.stdout)
        return shown

    def change_staff_user(self, user_id: str, **changes: Any) -> None:
        """Rewrite a stored staff user as time would have (an old sign-in, an old password)."""
        db = Database(self.url)
        store = SqlUserStore(db)
        old = store.find(None, user_id)
        assert old is not None
        store.save(replace(old, **changes))
        db.dispose()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install the Debian package chromium (make does)")
    tmp = tmp_path_factory.mktemp("console")
    url = f"sqlite:///{tmp / 'console.sqlite'}"
    env = {**os.environ, "AUPGUARD_DATABASE_URL": url}
    shots = Path(os.environ.get("AUPGUARD_SCREENSHOTS") or tmp / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = (tmp / "server.log").open("wb")
    process = subprocess.Popen(
        [*aupguard_command(), "serve", "--port", str(port), "--no-access-log"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp,
    )
    base = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, (tmp / "server.log").read_text()
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.2)
        yield Server(base, env, url, shots)
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1000, "height": 640})
    context.set_default_timeout(120_000)  # the machine may be busy; no timing is asserted
    opened = context.new_page()
    yield opened
    context.close()


def shot(page: Page, server: Server, name: str) -> None:
    page.screenshot(path=str(server.shots / f"{name}.png"))


def password_step(page: Page, server: Server, name: str, password: str = PASSWORD) -> None:
    page.goto(f"{server.base}/console/")
    assert page.url == f"{server.base}/console/sign-in"
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("#submit")


def test_sign_in_screen_a_hostile_message_and_sign_out(page: Page, server: Server) -> None:
    made = server.user("adam", "--staff", "--role", "admin")
    secret = made["totp_secret"]
    # an old colleague who has not signed in for four months
    olga = server.user("olga", "--staff", "--role", "reviewer")
    server.change_staff_user(olga["id"], last_sign_in_at=datetime.now(UTC) - timedelta(days=120))

    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)

    page.goto(f"{server.base}/console/sign-in")
    shot(page, server, "sign-in")
    password_step(page, server, "adam")
    # first sign-in: enrol the authenticator shown on the page
    assert page.url.endswith("/console/enrol")
    assert page.inner_text("#secret") == secret
    assert page.locator("#qr svg").count() == 1
    shot(page, server, "enrol")
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("#submit")
    assert page.locator("#codes li").count() == 10
    page.click("#continue")
    assert page.inner_text("h1") == "Welcome, adam"
    page.click("#sign-out")
    assert page.url.endswith("/console/sign-in")

    # the usual sign-in: password, then a TOTP code
    password_step(page, server, "adam")
    assert page.url.endswith("/console/second-factor")
    shot(page, server, "second-factor")
    # the code of the next time step (the current one was spent enrolling)
    page.fill("#code", pyotp.TOTP(secret).at(datetime.now(UTC) + timedelta(seconds=30)))
    page.click("#submit")
    assert page.url == f"{server.base}/console/"
    shot(page, server, "home")
    cookie = next(c for c in page.context.cookies() if c["name"] == "__Host-aupguard-console")
    assert cookie["httpOnly"]
    assert cookie["secure"]
    assert cookie["sameSite"] == "Strict"

    # hostile bodies are shown as text; nothing runs
    page.click("text=Test a message")
    for body in (XSS_ATTRIBUTE, XSS_SCRIPT):
        page.fill("#body", body)
        page.click("#submit")
        assert page.inner_text("#screened") == body
        page.hover("#screened")
        page.hover("#verdict")
        assert page.locator("#result script").count() == 0
        assert page.locator("[onmouseover], [onfocus]").count() == 0
        assert page.evaluate("window.__pwned") is None
    assert dialogs == []
    page.fill("#body", "Your parcel is held, pay the fee at hxxp://dhl-track[.]top/pay")
    page.click("#submit")
    assert page.text_content("#verdict") == "block"
    assert "V1" in page.inner_text("#clauses")
    page.screenshot(path=str(server.shots / "test-message.png"), full_page=True)

    page.click("text=Users")
    assert "olga" in page.inner_text("#users")
    shot(page, server, "users")
    page.click("text=Membership review")
    assert "olga" in page.inner_text("#inactive")
    shot(page, server, "membership-review")
    page.click("#inactive button")
    assert "was revoked" in page.inner_text("#note")
    assert page.locator("#inactive").count() == 0

    page.click("#sign-out")
    assert page.url.endswith("/console/sign-in")
    page.goto(f"{server.base}/console/")
    assert page.url.endswith("/console/sign-in")


def test_a_form_with_a_wrong_csrf_token_is_refused(page: Page, server: Server) -> None:
    server.user("cora", "--staff", "--role", "reviewer")
    page.goto(f"{server.base}/console/sign-in")
    page.fill("#name", "cora")
    page.fill("#password", PASSWORD)
    page.locator("input[name=csrf]").evaluate("e => { e.value = 'forged' }")
    with page.expect_response(f"{server.base}/console/sign-in") as answer:
        page.click("#submit")
    assert answer.value.status == 403
    assert "CSRF" in page.inner_text("#error")


def test_repeated_failures_lock_the_account(page: Page, server: Server) -> None:
    server.user("lena", "--staff", "--role", "legal")
    for _ in range(5):
        password_step(page, server, "lena", "not the password at all")
        assert "wrong" in page.inner_text("#error") or "locked" in page.inner_text("#error")
    password_step(page, server, "lena")  # the right password, too late
    assert "locked" in page.inner_text("#error")
    assert page.url.endswith("/console/sign-in")


def test_an_expired_password_is_changed_before_anything_else(page: Page, server: Server) -> None:
    made = server.user("pia", "--staff", "--role", "reviewer")
    server.change_staff_user(
        made["id"], password_changed_at=datetime.now(UTC) - timedelta(days=200)
    )
    password_step(page, server, "pia")
    page.fill("#code", pyotp.TOTP(made["totp_secret"]).now())
    page.click("#submit")
    page.click("#continue")
    assert page.url == f"{server.base}/console/password"
    assert "more than 180 days old" in page.inner_text("#expired")
    assert page.locator("text=Test a message").count() == 0
    new = "blue harbour lantern at dusk"
    page.fill("#current", PASSWORD)
    page.fill("#new", new)
    page.fill("#confirm", new)
    page.click("#submit")
    assert "was changed" in page.inner_text("#note")
    page.goto(f"{server.base}/console/")
    assert page.inner_text("h1") == "Welcome, pia"
