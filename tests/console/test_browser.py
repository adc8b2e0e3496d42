"""The console in a real browser: Debian's chromium driven by Playwright against a real
`aupguard serve` on a temporary SQLite database, users made with the real CLI.

Never downloads a browser: it launches /usr/bin/chromium (scripts/debian-packages.txt).
The fixtures (server, browser, page) and the screenshot folder are in
tests/console/browser.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
from playwright.sync_api import Dialog, Page

from tests.console.browser import PASSWORD, Server, password_step, shot

XSS_SCRIPT = "<script>window.__pwned = 1; alert('pwned')</script> claim your prize"
XSS_ATTRIBUTE = '"onmouseover="window.__pwned = 2" autofocus onfocus="window.__pwned = 3" x="'


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
