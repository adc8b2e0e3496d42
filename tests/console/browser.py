"""Browser fixtures for the console's Playwright tests: a real `aupguard serve` on a
temporary SQLite database (one per test module), Debian's chromium (never a download),
users made with the real CLI, and screenshots.

Screenshots go to a temporary folder, or to the folder named by AUPGUARD_SCREENSHOTS
(`AUPGUARD_SCREENSHOTS=docs/screenshots pytest tests/console/test_browser.py
tests/console/test_walk.py` refreshes the ones docs/console.md shows).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError

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
    """Save a screenshot for the docs. Chromium sometimes fails to capture under heavy
    load ("Unable to capture screenshot"); one more try after a pause, as the picture
    is documentation, not what the test checks."""
    path = str(server.shots / f"{name}.png")
    try:
        page.screenshot(path=path)
    except PlaywrightError:
        time.sleep(1.0)
        page.screenshot(path=path)


def password_step(page: Page, server: Server, name: str, password: str = PASSWORD) -> None:
    page.goto(f"{server.base}/console/")
    assert page.url == f"{server.base}/console/sign-in"
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("#submit")
