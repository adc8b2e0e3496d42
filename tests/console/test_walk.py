"""The acceptance walk of the review console in a real browser (Debian's chromium, a
real `aupguard serve` on SQLite, messages sent through `POST /v1/messages` with a real
key): sign in with TOTP, open the queue, release one held message and block another,
the case shows both, the audit log shows both and the chain verifies; the tenant sees
its blocked message with the clause and appeals; the public report form refuses a
report with missing fields and accepts a complete one. Hostile bodies are shown as
text, and a URL edited to another tenant's message is a 404 and an audit entry. The
screenshots of the phase-2 pages are taken here (see tests/console/browser.py).
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta

import httpx
import pyotp
from playwright.sync_api import Dialog, Page

from tests.console.browser import Server, password_step, shot
from tests.services import aupguard_command

THREAT = "Pay up or I will kill you. I know where you live."
HOSTILE = THREAT + ' <script>window.__pwned = 1</script> "onmouseover="window.__pwned = 2'


SHADOWED = "Amazon deals this week at dealsite.shop"  # a shadow rule would hold it


def send(server: Server, key: str, body: str, status: str = "held") -> str:
    answer = httpx.post(
        f"{server.base}/v1/messages",
        json={"from": "+12025550143", "to": "+14155550123", "body": body},
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == status
    return str(answer.json()["id"])


def cli(server: Server, *args: str, stdin: str | None = None) -> None:
    subprocess.run(
        [*aupguard_command(), *args],
        env=server.env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def key_for(server: Server, tenant: str) -> str:
    made = subprocess.run(
        [*aupguard_command(), "keys", "create", "--tenant", tenant, "-s", "send", "--json"],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return str(json.loads(made.stdout)["secret"])


def enrol_and_sign_in(page: Page, server: Server, name: str, secret: str) -> None:
    """The first sign-in enrols the authenticator; then a usual sign-in with a TOTP code."""
    password_step(page, server, name)
    assert page.url.endswith("/console/enrol")
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("#submit")
    page.click("#continue")
    page.click("#sign-out")
    password_step(page, server, name)
    assert page.url.endswith("/console/second-factor")
    page.fill("#code", pyotp.TOTP(secret).at(datetime.now(UTC) + timedelta(seconds=30)))
    page.click("#submit")
    assert page.url == f"{server.base}/console/"


def review(page: Page, action: str) -> str:
    """On a held message's page: press the action, read the confirmation, confirm."""
    page.click(f"#{action}")
    what = page.inner_text("#what")
    page.click("#confirm")
    return what


def test_the_acceptance_walk(page: Page, server: Server) -> None:
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    reviewer = server.user("rev", "--staff", "--role", "reviewer")
    tenant_admin = server.user("ann", "--tenant", "acme", "--role", "tenant_admin")
    acme = key_for(server, "acme")
    first = send(server, acme, THREAT)
    second = send(server, acme, "I will kill you, I know where you live.")
    hostile = send(server, acme, HOSTILE)
    shadowed = send(server, acme, SHADOWED, status="queued")
    cli(
        server, "numbers", "verify", "+12025550143", "-a", "acme", "--evidence", "platform_assigned"
    )
    cli(server, "numbers", "verify", "+18005550199", "-a", "acme", "--send-code", "call")
    cli(
        server, "consent", "import", "-a", "acme", "-",
        stdin="recipient,kind,method\n+14155550123,opt_in,web_form\n"
        "+14155550124,opt_in,web_form\n+14155550124,opt_out,keyword\n",
    )  # fmt: skip

    # a reviewer signs in with TOTP and opens the queue
    enrol_and_sign_in(page, server, "rev", reviewer["totp_secret"])
    page.click("header nav >> text=Queue")
    rows = page.inner_text("#held")
    assert rows.index(first) < rows.index(second) < rows.index(hostile)
    shot(page, server, "queue")
    page.click("#next")
    assert page.url.endswith(f"/console/queue/acme/{first}")
    assert page.locator("#body mark").count() >= 1
    assert "W3" in page.inner_text("#clauses")
    page.screenshot(path=str(server.shots / "held-message.png"), full_page=True)

    # release the first: the confirmation says what it will do
    page.click("#release")
    assert "queued for delivery" in page.inner_text("#what")
    shot(page, server, "review-confirm")
    page.click("#confirm")
    # the next item opens: block it
    assert page.url.startswith(f"{server.base}/console/queue/acme/{second}")
    assert "Released" in page.inner_text("#note")
    assert "never sent" in review(page, "block")

    # the hostile body is shown as text; nothing runs
    assert page.url.startswith(f"{server.base}/console/queue/acme/{hostile}")
    shown = page.inner_text("#body")
    assert "<script>window.__pwned = 1</script>" in shown
    assert '"onmouseover="window.__pwned = 2' in shown
    page.hover("#body")
    assert page.locator("#body script").count() == 0
    assert page.locator("[onmouseover]").count() == 0
    assert page.evaluate("window.__pwned") is None

    # a URL edited to another tenant's message: 404
    edited = page.goto(f"{server.base}/console/queue/globex/{first}")
    assert edited is not None and edited.status == 404

    # the case shows both actions
    page.goto(f"{server.base}/console/cases")
    assert "hits of content.* rules" in page.inner_text("#cases")
    shot(page, server, "cases")
    page.click("#cases a")
    timeline = page.inner_text("#timeline")
    assert f"release of held message {first}" in timeline
    assert f"block of held message {second}" in timeline
    page.fill("#decide-reason", "threats of violence")
    page.select_option("#outcome-choice", "violation")
    page.click("#decide")
    assert page.inner_text("#outcome") == "violation"
    page.screenshot(path=str(server.shots / "case.png"), full_page=True)

    # the audit log shows both entries and the chain verifies
    page.click("text=Audit log")
    entries = page.inner_text("#entries")
    assert "review.release" in entries and first in entries
    assert "review.block" in entries and second in entries
    assert "access.denied" in entries  # the edited URL
    page.click("#verify")
    assert "The chain verifies" in page.inner_text("#chain")
    shot(page, server, "audit")

    # the policy page counts the hits and what the shadow rule would change; the account
    # page shows the case's effect, the numbers, the limits and the consent figures
    page.click("header nav >> text=Policy")
    assert "content.threat" in page.inner_text("#rules tr:nth-child(2)")
    shot(page, server, "policy")
    shadow = page.inner_text("#shadow")
    assert "impersonation.brand_link_any" in shadow and shadowed in shadow
    page.locator("#shadow").scroll_into_view_if_needed()
    shot(page, server, "policy-shadow")
    page.goto(f"{server.base}/console/accounts?tenant=acme")
    assert int(page.inner_text("#strikes")) > 0  # the violation decided above
    senders = page.inner_text("#senders")
    assert "+12025550143" in senders and "verified" in senders and "pending" in senders
    assert "segments per day" in page.inner_text("#limits")
    assert page.inner_text("#opted-out") == "1"
    page.screenshot(path=str(server.shots / "account.png"), full_page=True)
    page.click("#senders >> text=+12025550143")
    assert "platform_assigned" in page.inner_text("#evidence")
    shot(page, server, "sender")
    page.click("#sign-out")

    # the tenant's admin sees the blocked message with its clause, and appeals
    enrol_and_sign_in(page, server, "ann", tenant_admin["totp_secret"])
    page.click("text=Blocked and held messages")
    listed = page.inner_text("#messages")
    assert second in listed and "blocked" in listed and "W3" in listed
    page.click(f"text={second}")
    assert page.inner_text("#status") == "blocked"
    assert "W3" in page.inner_text("#clauses")
    page.go_back()
    page.fill("#appealable input[name=reason]", "a line from a film we quote to each other")
    page.click("#appealable button")
    assert "Your appeal was filed" in page.inner_text("#note")
    page.screenshot(path=str(server.shots / "my-messages.png"), full_page=True)
    page.click("#sign-out")

    # the public report form: missing fields refused, a complete report accepted
    page.goto(f"{server.base}/console/report")
    page.fill("#description", "spam spam spam spam")
    page.click("#send-report")
    problems = page.inner_text("#problems")
    assert "timestamp" in problems and "contact" in problems
    shot(page, server, "report-refused")
    page.fill("#url", "https://dhl-track.example/pay")
    page.fill("#timestamp", "2026-11-20T14:05:00Z")
    page.fill("#contact", "reporter@example.org")
    page.click("#send-report")
    assert "your report was received" in page.inner_text("#thanks")
    shot(page, server, "report")

    # the legal register: legal staff only
    legal = server.user("lea", "--staff", "--role", "legal")
    enrol_and_sign_in(page, server, "lea", legal["totp_secret"])
    page.click("text=Legal requests")
    page.fill("#r-tenant", "acme")
    page.fill("#authority", "District Court")
    page.fill("#basis", "subpoena 12-345")
    page.fill("#scope", "subscriber records of +12025550143")
    page.fill("#deadline", "2026-12-01T17:00:00+00:00")
    page.click("#register")
    assert "District Court" in page.inner_text("#requests")
    shot(page, server, "legal")
    assert dialogs == []
