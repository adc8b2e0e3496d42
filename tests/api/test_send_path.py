"""The send path over HTTP: /v1/messages and Twilio's Create Message consume the
traffic limits (shared through Redis by several workers), check the sender registry
when the settings say so, and queue rule hits as case candidates; /v1/screen
consumes nothing."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from aupguard.api import Services, create_app
from aupguard.api.routes.enforcement import enforcement
from aupguard.api.send_path import send_path
from aupguard.enforcement.records import Candidate
from aupguard.engine.facade import Engine
from tests.api.conftest import OPERATOR, AsgiClient, Keys, make_services
from tests.api.test_http import PHISH, error_of
from tests.services import REDIS_URL, redis_prefix

MESSAGE = {"from": "+12025550143", "to": "+14155550123", "body": "see you at 7"}
LONG = ("see you at 7 " * 200)[:1530]
"""10 GSM-7 segments: on a long code (1 segment/s) it holds the sender back 10 s, so
the next message is refused however slowly the test runs."""
ACCOUNT = "AC" + "3" * 32


def send(client: AsgiClient, key: str, body: dict[str, Any] | None = None) -> httpx.Response:
    return client.post("/v1/messages", json=body or MESSAGE, headers=Keys.header(key))


def test_a_long_code_over_its_rate_is_throttled_with_retry_after(
    client: AsgiClient, keys: Keys
) -> None:
    assert send(client, keys.acme_send, {**MESSAGE, "body": LONG}).status_code == 202
    r = send(client, keys.acme_send)
    assert r.status_code == 429
    error = error_of(r)
    assert error["code"] == "throttled"
    assert 1 <= int(r.headers["retry-after"]) <= 10
    # another sender, and the same sender of another tenant, have their own limits
    assert send(client, keys.acme_send, {**MESSAGE, "from": "+12025550144"}).status_code == 202
    assert send(client, keys.globex_admin).status_code == 202
    # the throttle is recorded as a decision, not as a message
    decisions = client.get(
        "/v1/decisions?verdict=throttle", headers=keys.header(keys.acme_read)
    ).json()["decisions"]
    assert [d["rules"] for d in decisions] == [["traffic.channel_limit"]]
    assert decisions[0]["message_id"] is None


def test_screening_consumes_no_limit(client: AsgiClient, keys: Keys) -> None:
    for _ in range(3):
        screened = client.post(
            "/v1/screen", json={**MESSAGE, "body": LONG}, headers=Keys.header(keys.acme_send)
        )
        assert screened.json()["verdict"] == "allow"
    assert send(client, keys.acme_send).status_code == 202


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{ACCOUNT}:{key}".encode()).decode()}


def test_the_twilio_endpoint_answers_20429_with_retry_after(client: AsgiClient, keys: Keys) -> None:
    path = f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    form = {"To": MESSAGE["to"], "From": MESSAGE["from"], "Body": LONG}
    assert client.post(path, data=form, headers=basic(keys.acme_send)).status_code == 201
    r = client.post(path, data={**form, "Body": "see you at 7"}, headers=basic(keys.acme_send))
    assert r.status_code == 429
    assert r.json()["code"] == 20429
    assert int(r.headers["retry-after"]) >= 1


@pytest.fixture
def two_workers(tmp_path: Path, engine: Engine) -> Iterator[tuple[AsgiClient, AsgiClient, str]]:
    """Two apps on one database and one Redis prefix, as two worker processes are."""
    with redis_prefix() as (_, prefix):
        settings = {"access_log": False, "redis_url": REDIS_URL, "redis_prefix": prefix}
        first = make_services(tmp_path, engine, **settings)
        second = make_services(tmp_path, engine, **settings)
        key = first.keys.issue(OPERATOR, "acme", ["send"], "sender").secret
        a, b = AsgiClient(create_app(services=first)), AsgiClient(create_app(services=second))
        yield a, b, key
        a.close()
        b.close()
        first.close()
        second.close()


def test_two_workers_share_the_limits_through_redis(
    two_workers: tuple[AsgiClient, AsgiClient, str],
) -> None:
    a, b, key = two_workers
    assert send(a, key, {**MESSAGE, "body": LONG}).status_code == 202
    r = send(b, key)
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) >= 1


def test_the_sender_registry_is_checked_when_the_settings_say_so(
    tmp_path: Path, engine: Engine
) -> None:
    services = make_services(tmp_path, engine, access_log=False, sender_registry="enforce")
    key = services.keys.issue(OPERATOR, "acme", ["send"], "sender").secret
    client = AsgiClient(create_app(services=services))
    try:
        r = send(client, key)
        assert r.status_code == 403
        assert "sender.unregistered" in error_of(r)["message"]
        screened = client.post("/v1/screen", json=MESSAGE, headers=Keys.header(key)).json()
        assert screened["verdict"] == "allow"  # /v1/screen reads the state every endpoint reads
    finally:
        client.close()
        services.close()


def test_rule_hits_are_queued_as_case_candidates(
    client: AsgiClient, keys: Keys, services: Services
) -> None:
    assert send(client, keys.acme_send, {**MESSAGE, "body": PHISH}).status_code == 403
    assert send(client, keys.acme_send, {**MESSAGE, "from": "+12025550145"}).status_code == 202
    path = services.component(send_path)
    assert len(path.candidates) == 1  # the blocked one; the allowed one is no candidate
    written = path.candidates.flush()
    assert [c.tenant for c in written] == ["acme"]
    store = services.component(enforcement).store
    queued = store.find_any(Candidate, status="queued", limit=10)
    assert [c.id for c in queued] == [c.id for c in written]
