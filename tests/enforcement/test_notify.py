"""Customer notifications: contacts, signed webhooks delivered to a real HTTP receiver,
retries with backoff, dead letters, and the CLI."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import asdict
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from aupguard.actors import Actor, Forbidden, Role
from aupguard.audit.keys import load_public_key, verify_signature
from aupguard.enforcement import notify
from aupguard.enforcement.records import OutboxMessage
from aupguard.enforcement.service import Enforcement
from tests.enforcement.conftest import T0, Cli, Clock
from tests.enforcement.test_service import violation_case

KIM = Actor("kim", frozenset({Role.TENANT_ADMIN}), "acme")
EVE = Actor("eve", frozenset({Role.TENANT_ADMIN}), "globex")


class Receiver:
    """A webhook endpoint on 127.0.0.1 that records what it is sent and answers `status`."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = 204
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/aupguard"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client() as made:
        yield made


def hooks(svc: Enforcement, status: str | None = None) -> list[OutboxMessage]:
    found = svc.store.find(OutboxMessage, "acme", status=status)
    return [m for m in found if m.channel == "webhook"]


def test_webhooks_reach_the_account_signed_and_only_once(
    svc: Enforcement, receiver: Receiver, client: httpx.Client
) -> None:
    notify.set_contact(svc, KIM, "acme", webhook_url=receiver.url, email="ops@acme.example")
    violation_case(svc)  # a warning on the ladder: the customer is told
    (pending,) = hooks(svc, "pending")
    done = notify.deliver(svc, client)
    assert asdict(done) == {"sent": 1, "retrying": 0, "failed": 0, "waiting": 0}
    ((headers, body),) = receiver.received
    assert headers["X-Aupguard-Topic"] == "enforcement.warn"
    assert headers["X-Aupguard-Delivery"] == pending.id
    assert svc.signer is not None
    public = load_public_key(svc.signer.public_key)
    assert verify_signature(public, headers["X-Aupguard-Signature"], body)
    assert not verify_signature(public, headers["X-Aupguard-Signature"], body + b" ")
    assert json.loads(body)["tenant"] == "acme"
    assert [m.status for m in hooks(svc)] == ["sent"]
    assert notify.deliver(svc, client).sent == 0  # nothing twice
    assert len(receiver.received) == 1


def test_a_failing_receiver_is_retried_with_backoff_then_dead_lettered(
    svc: Enforcement, receiver: Receiver, client: httpx.Client, clock: Clock
) -> None:
    notify.set_contact(svc, KIM, "acme", webhook_url=receiver.url, email=None)
    violation_case(svc)
    receiver.status = 503
    start = clock.now
    assert notify.deliver(svc, client, attempts=3).retrying == 1
    (waiting,) = hooks(svc, "pending")
    assert waiting.attempts == 1 and waiting.last_error == "HTTP 503"
    assert waiting.next_attempt == start + timedelta(seconds=30)
    clock.now = start + timedelta(seconds=29)  # not due yet: nothing is sent
    assert notify.deliver(svc, client, attempts=3).retrying == 0
    clock.now = start + timedelta(seconds=31)
    assert notify.deliver(svc, client, attempts=3).retrying == 1
    assert hooks(svc, "pending")[0].next_attempt == clock.now + timedelta(seconds=60)
    clock.now += timedelta(seconds=61)
    assert notify.deliver(svc, client, attempts=3).failed == 1
    (dead,) = hooks(svc, "failed")
    assert dead.attempts == 3
    assert len(receiver.received) == 3
    entries = svc.store.audit.entries("acme", kind="notification.failed")
    assert [e.subject for e in entries] == [dead.id]


def test_a_refused_connection_is_retried_like_an_error_status(
    svc: Enforcement, client: httpx.Client
) -> None:
    notify.set_contact(svc, KIM, "acme", webhook_url="http://127.0.0.1:1/hook", email=None)
    violation_case(svc)
    assert notify.deliver(svc, client).retrying == 1
    assert "ConnectError" in (hooks(svc, "pending")[0].last_error or "")


def test_an_account_without_a_url_waits_and_is_looked_at_hourly(
    svc: Enforcement, client: httpx.Client, clock: Clock
) -> None:
    violation_case(svc)
    assert notify.deliver(svc, client).waiting == 1
    (waiting,) = hooks(svc, "pending")
    assert waiting.attempts == 0 and waiting.next_attempt == clock.now + timedelta(hours=1)
    assert notify.deliver(svc, client).waiting == 0  # not due again before the hour


def test_the_backoff_doubles_up_to_an_hour() -> None:
    waits = [notify.backoff(n).total_seconds() for n in range(1, 10)]
    assert waits == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_contacts_are_the_accounts_own_and_checked(svc: Enforcement) -> None:
    with pytest.raises(Forbidden):
        notify.set_contact(svc, EVE, "acme", webhook_url="https://evil.example/", email=None)
    assert svc.store.audit.entries("acme", kind="access.denied")
    for bad in ("ftp://acme.example/hook", "https://", "not a url"):
        with pytest.raises(ValidationError):
            notify.set_contact(svc, KIM, "acme", webhook_url=bad, email=None)
    with pytest.raises(ValidationError):
        notify.set_contact(svc, KIM, "acme", webhook_url=None, email="ops at acme")
    assert notify.contact(svc, KIM, "acme") is None  # nothing half-written
    made = notify.set_contact(svc, KIM, "acme", webhook_url="https://acme.example/h", email=None)
    assert notify.contact(svc, KIM, "acme") == made
    assert svc.store.audit.entries("acme", kind="contact.set")


def test_cli_contact_then_deliver(cli: Cli, receiver: Receiver) -> None:
    bad = cli("account", "contact", "acme", "--webhook", "gopher://x", who="kim@acme:tenant_admin")
    assert bad.exit_code == 2 and "--webhook" in bad.output
    refused = cli(
        "account", "contact", "acme", "--webhook", receiver.url, who="eve@globex:tenant_admin"
    )
    assert refused.exit_code == 3
    cli.ok("account", "contact", "acme", "--webhook", receiver.url, who="kim@acme:tenant_admin")
    shown = json.loads(cli.ok("account", "contact", "acme", who="kim@acme:tenant_admin"))
    assert shown["webhook_url"] == receiver.url
    args = ("--kind", "other", "--severity", "low", "--description", "phishing kit found")
    cli.ok("incident", "open", "-a", "acme", *args, at=T0, who="kim@acme:tenant_admin")
    done = json.loads(cli.ok("notifications", "deliver", "--once", at=T0 + timedelta(seconds=1)))
    assert done == {"sent": 1, "retrying": 0, "failed": 0, "waiting": 0}
    ((headers, body),) = receiver.received
    assert headers["X-Aupguard-Topic"] == "incident.opened"
    public = load_public_key(cli.public_key)
    assert verify_signature(public, headers["X-Aupguard-Signature"], body)
    again = json.loads(cli.ok("notifications", "deliver", "--once", at=T0 + timedelta(seconds=2)))
    assert again["sent"] == 0


def test_waiting_e_mails_never_crowd_out_the_webhooks(
    svc: Enforcement, receiver: Receiver, client: httpx.Client, clock: Clock
) -> None:
    notify.set_contact(svc, KIM, "acme", webhook_url=receiver.url, email=None)
    for _ in range(3):  # three actions: three e-mails and three webhooks
        violation_case(svc)
    assert notify.deliver(svc, client).sent == 3
    clock.now += timedelta(minutes=5)
    violation_case(svc)  # one more webhook, newer than the three e-mails still waiting
    assert notify.deliver(svc, client, limit=1).sent == 1
    assert len(receiver.received) == 4
    mails = [m for m in svc.store.find(OutboxMessage, "acme") if m.channel == "email"]
    assert len(mails) == 4 and all(m.status == "pending" for m in mails)
