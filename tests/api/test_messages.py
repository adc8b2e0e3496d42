"""POST /v1/messages, GET /v1/messages/{id}, GET /v1/decisions as a client sees them
(httpx over the ASGI app, the SQL store on SQLite)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from aupguard.api import Services
from aupguard.api.delivery import gateway_for
from aupguard.service.gateway import OptedOutRecipients
from aupguard.service.screening import Screener
from tests.api.conftest import AsgiClient, Keys
from tests.api.test_http import PHISH, error_of

MESSAGE = {"from": "+12025550143", "to": "+14155550123", "body": "see you at 7"}


def send(client: AsgiClient, key: str, body: Any = None, **headers: str) -> Any:
    return client.post(
        "/v1/messages", json=body or MESSAGE, headers={"Authorization": f"Bearer {key}", **headers}
    )


def test_an_allowed_message_is_queued_recorded_and_enqueued(
    client: AsgiClient, keys: Keys, services: Services
) -> None:
    r = send(client, keys.acme_send)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "queued"
    assert body["verdict"] == "allow"
    assert body["id"].startswith("SM") and len(body["id"]) == 34
    assert r.headers["x-message-id"] == body["id"]
    store = services.component(gateway_for).store
    assert store.pending() == 1
    got = client.get(f"/v1/messages/{body['id']}", headers=keys.header(keys.acme_read))
    assert got.status_code == 200
    assert got.json()["status"] == "queued"
    assert got.json()["to"] == MESSAGE["to"]


def test_a_blocked_message_is_refused_with_its_rules_and_recorded_not_enqueued(
    client: AsgiClient, keys: Keys, services: Services
) -> None:
    r = send(client, keys.acme_send, {**MESSAGE, "body": PHISH})
    assert r.status_code == 403
    error = error_of(r)
    assert error["code"] == "message_blocked"
    assert "will not be sent" in error["message"]
    message_id = r.headers["x-message-id"]
    got = client.get(f"/v1/messages/{message_id}", headers=keys.header(keys.acme_read)).json()
    assert got["status"] == "blocked"
    assert got["clauses"]
    assert services.component(gateway_for).store.pending() == 0


def test_an_opted_out_recipient_is_blocked_with_21610(
    client: AsgiClient, keys: Keys, services: Services
) -> None:
    services.screener = Screener(
        services.engine, sources=[OptedOutRecipients({("acme", MESSAGE["to"])})]
    )
    r = send(client, keys.acme_send)
    assert r.status_code == 403
    got = client.get(
        f"/v1/messages/{r.headers['x-message-id']}", headers=keys.header(keys.acme_read)
    ).json()
    assert got["code"] == 21610
    assert "consent.opted_out" in got["rules"]
    other = send(client, keys.globex_admin)  # the same number opted out of acme only
    assert other.status_code == 202


def test_another_tenants_message_is_not_found(client: AsgiClient, keys: Keys) -> None:
    sent = send(client, keys.acme_send).json()
    r = client.get(f"/v1/messages/{sent['id']}", headers=keys.header(keys.globex_admin))
    assert r.status_code == 404
    assert error_of(r)["code"] == "not_found"
    staff = client.get(
        f"/v1/messages/{sent['id']}?tenant=acme", headers=keys.header(keys.staff_admin)
    )
    assert staff.status_code == 200
    assert (
        client.get(f"/v1/messages/{sent['id']}", headers=keys.header(keys.staff_admin)).status_code
        == 403
    )


def test_the_same_idempotency_key_and_body_get_the_same_answer_once(
    client: AsgiClient, keys: Keys, services: Services
) -> None:
    first = send(client, keys.acme_send, None, **{"Idempotency-Key": "order-1"})
    again = send(client, keys.acme_send, None, **{"Idempotency-Key": "order-1"})
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert services.component(gateway_for).store.pending() == 1  # enqueued once
    # the key is the tenant's own: another tenant may use the same one
    assert (
        send(client, keys.globex_admin, None, **{"Idempotency-Key": "order-1"}).json()["id"]
        != first.json()["id"]
    )


def test_an_idempotency_key_with_another_body_is_409(client: AsgiClient, keys: Keys) -> None:
    send(client, keys.acme_send, None, **{"Idempotency-Key": "k2"})
    r = send(client, keys.acme_send, {**MESSAGE, "body": "other"}, **{"Idempotency-Key": "k2"})
    assert r.status_code == 409
    error = error_of(r)
    assert error["code"] == "idempotency_key_reused"
    assert "different body" in error["message"]


def test_a_malformed_idempotency_key_is_400(client: AsgiClient, keys: Keys) -> None:
    r = send(client, keys.acme_send, None, **{"Idempotency-Key": "x" * 256})
    assert r.status_code == 400
    assert error_of(r)["code"] == "bad_idempotency_key"


def test_concurrent_sends_are_committed_in_groups(keys: Keys, services: Services, app: Any) -> None:
    import httpx

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as c:
            return await asyncio.gather(
                *(
                    c.post(
                        "/v1/messages",
                        json={**MESSAGE, "from": f"+1202555{i:04d}", "body": f"hello {i}"},
                        headers=keys.header(keys.acme_send),
                    )
                    for i in range(60)
                )
            )

    answers = asyncio.run(burst())
    assert all(a.status_code == 202 for a in answers)
    writer = services.component(gateway_for).writer
    assert writer.written == 60
    assert writer.batches < 60  # several sends shared a commit
    assert services.component(gateway_for).store.pending() == 60


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (b"{not json", {"Content-Type": "application/json"}, 400, "malformed_json"),
        (b"", {"Content-Type": "application/json"}, 400, "empty_body"),
        (
            json.dumps(MESSAGE).encode(),
            {"Content-Type": "text/plain"},
            415,
            "unsupported_media_type",
        ),
        (
            json.dumps({**MESSAGE, "bodyy": "x"}).encode(),
            {"Content-Type": "application/json"},
            422,
            "validation_failed",
        ),
        (
            json.dumps({**MESSAGE, "status_callback": "not a url"}).encode(),
            {"Content-Type": "application/json"},
            422,
            "validation_failed",
        ),
        (
            json.dumps({**MESSAGE, "body": "x" * 1_048_576}).encode(),
            {"Content-Type": "application/json"},
            413,
            "body_too_large",
        ),
    ],
)
def test_bad_sends_are_refused_precisely(
    client: AsgiClient, keys: Keys, body: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    r = client.post(
        "/v1/messages", content=body, headers={**keys.header(keys.acme_send), **headers}
    )
    assert r.status_code == status
    assert error_of(r)["code"] == code


def test_sending_needs_a_key_with_the_send_scope(client: AsgiClient, keys: Keys) -> None:
    assert error_of(client.post("/v1/messages", json=MESSAGE))["code"] == "missing_api_key"
    r = send(client, keys.acme_read)
    assert r.status_code == 403
    r = send(client, keys.acme_send, {**MESSAGE, "account": "globex"})
    assert r.status_code == 403


def test_decisions_are_listed_newest_first_with_filters_and_pages(
    client: AsgiClient, keys: Keys
) -> None:
    for i in range(3):
        send(client, keys.acme_send, {**MESSAGE, "body": f"hello {i}"})
    send(client, keys.acme_send, {**MESSAGE, "body": PHISH})
    send(client, keys.globex_admin)
    h = keys.header(keys.acme_read)
    all_ = client.get("/v1/decisions", headers=h).json()
    assert len(all_["decisions"]) == 4
    assert all_["next_cursor"] is None
    blocked = client.get("/v1/decisions?verdict=block", headers=h).json()["decisions"]
    assert [d["verdict"] for d in blocked] == ["block"]
    rule = blocked[0]["rules"][0]
    clause = blocked[0]["clauses"][0]
    assert client.get(f"/v1/decisions?rule={rule}", headers=h).json()["decisions"] == blocked
    assert client.get(f"/v1/decisions?clause={clause}", headers=h).json()["decisions"] == blocked
    page1 = client.get("/v1/decisions?limit=3", headers=h).json()
    assert len(page1["decisions"]) == 3
    page2 = client.get(f"/v1/decisions?limit=3&cursor={page1['next_cursor']}", headers=h).json()
    assert len(page2["decisions"]) == 1
    seen = {d["id"] for d in page1["decisions"] + page2["decisions"]}
    assert len(seen) == 4
    assert (
        client.get("/v1/decisions?since=2999-01-01T00:00:00Z", headers=h).json()["decisions"] == []
    )
    assert (
        len(client.get("/v1/decisions?until=2999-01-01T00:00:00Z", headers=h).json()["decisions"])
        == 4
    )
    globex = client.get("/v1/decisions", headers=keys.header(keys.globex_admin)).json()
    assert len(globex["decisions"]) == 1


@pytest.mark.parametrize(
    "query",
    ["verdict=maybe", "limit=0", "limit=5000", "cursor=zzzz", "since=yesterday", "colour=red"],
)
def test_bad_decision_queries_are_422(client: AsgiClient, keys: Keys, query: str) -> None:
    r = client.get(f"/v1/decisions?{query}", headers=keys.header(keys.acme_read))
    assert r.status_code == 422
    error = error_of(r)
    assert error["code"] == "validation_failed"
    assert error["fields"][0]["field"] == query.split("=", maxsplit=1)[0]
