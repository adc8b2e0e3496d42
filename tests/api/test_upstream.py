"""Delivery receipts from a Twilio-compatible upstream: a real aupguard server hands a
message to a real HTTP upstream (uvicorn on 127.0.0.1) with its own StatusCallback URL,
and the upstream's callbacks to that URL update the message."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from pydantic import ValidationError

from aupguard.actors import Actor, Role
from aupguard.api import create_app
from aupguard.api.delivery import delivery_settings
from aupguard.engine.facade import Engine
from aupguard.outbox.config import DeliverySettings
from aupguard.outbox.upstream import CALLBACK_PATH, token
from tests.api.conftest import make_services
from tests.api.test_http import error_of
from tests.outbox.downstream import downstream, serving
from tests.services import free_port

OPERATOR = Actor(id="test-operator", roles=frozenset({Role.ADMIN}))
SECRET = "upstream-callback-secret"


def test_the_upstream_s_receipts_reach_the_message(tmp_path: Path, engine: Engine) -> None:
    with downstream() as (upstream, received):
        port = free_port()
        services = make_services(tmp_path, engine, access_log=False)
        services.provide(
            delivery_settings,
            DeliverySettings(
                downstream=f"{upstream.url}/2010-04-01/Accounts/AC1/Messages.json",
                upstream_callback_url=f"http://127.0.0.1:{port}",
                upstream_callback_secret=SECRET,
                delivery_poll=0.05,
            ),
        )
        key = services.keys.issue(OPERATOR, "acme", ["send", "read"], "sender").secret
        auth = {"Authorization": f"Bearer {key}"}
        with serving(create_app(services=services), port) as server:
            sent = httpx.post(
                f"{server.url}/v1/messages",
                json={"from": "+12025550143", "to": "+14155550123", "body": "see you at 7"},
                headers=auth,
            )
            assert sent.status_code == 202, sent.text
            message_id = sent.json()["id"]
            deadline = time.monotonic() + 20
            while not received.messages and time.monotonic() < deadline:
                time.sleep(0.05)
            assert [m["_id"] for m in received.messages] == [message_id]
            callback = received.messages[0]["StatusCallback"]
            parts = urlsplit(callback)
            assert f"{parts.scheme}://{parts.netloc}" == server.url
            assert parts.path == CALLBACK_PATH
            query = dict(parse_qsl(parts.query))
            assert query["tenant"] == "acme" and query["message"] == message_id

            def report(url: str, status: str, **extra: str) -> httpx.Response:
                form = {"MessageSid": "SM" + "f" * 32, "MessageStatus": status, **extra}
                return httpx.post(url, data=form)

            def status() -> tuple[str, int | None]:
                got = httpx.get(f"{server.url}/v1/messages/{message_id}", headers=auth).json()
                return got["status"], got["error_code"]

            assert report(callback, "sending").json()["status"] == "sent"  # nothing changes
            answer = report(callback, "undelivered", ErrorCode="30003")
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"id": message_id, "status": "undelivered"}
            assert status() == ("undelivered", 30003)

            # a forged or altered URL writes nothing
            forged = callback.replace(query["token"], token(b"guess", "acme", message_id))
            refused = report(forged, "delivered")
            assert refused.status_code == 403
            assert error_of(refused)["code"] == "invalid_token"
            other = callback.replace("tenant=acme", "tenant=globex")
            assert report(other, "delivered").status_code == 403
            assert report(callback, "teleported").status_code == 422
            assert status() == ("undelivered", 30003)
    services.close()


def test_a_callback_url_needs_its_secret() -> None:
    with pytest.raises(ValidationError, match="UPSTREAM_CALLBACK_SECRET"):
        DeliverySettings(upstream_callback_url="https://aupguard.example.com")
    with pytest.raises(ValidationError):
        DeliverySettings(upstream_callback_url="ftp://x", upstream_callback_secret=SECRET)
