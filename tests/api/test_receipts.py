"""Delivery receipts: POST /v1/messages/{id}/status updates the stored status, never
backwards, calls the customer's status callback, and refuses messages never sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from aupguard.api import Services
from aupguard.api.delivery import gateway_for
from tests.api.conftest import AsgiClient, Keys
from tests.api.test_http import PHISH, error_of

MESSAGE = {"from": "+12025550143", "to": "+14155550123", "body": "see you at 7"}


def send(client: AsgiClient, key: str, **extra: Any) -> httpx.Response:
    return client.post("/v1/messages", json={**MESSAGE, **extra}, headers=Keys.header(key))


def receipt(client: AsgiClient, key: str, message_id: str, **body: Any) -> httpx.Response:
    return client.post(f"/v1/messages/{message_id}/status", json=body, headers=Keys.header(key))


def test_a_receipt_updates_the_status_and_a_late_one_does_not_undo_it(
    client: AsgiClient, keys: Keys
) -> None:
    sent = send(client, keys.acme_send).json()
    r = receipt(client, keys.acme_send, sent["id"], status="sent")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "sent"
    assert receipt(client, keys.acme_send, sent["id"], status="delivered").json()["status"] == (
        "delivered"
    )
    late = receipt(client, keys.acme_send, sent["id"], status="sent")
    assert late.status_code == 200
    assert late.json()["status"] == "delivered"  # a late "sent" does not undo "delivered"
    got = client.get(f"/v1/messages/{sent['id']}", headers=keys.header(keys.acme_read)).json()
    assert got["status"] == "delivered"


def test_an_undelivered_receipt_keeps_its_error_code(client: AsgiClient, keys: Keys) -> None:
    sent = send(client, keys.acme_send).json()
    r = receipt(client, keys.acme_send, sent["id"], status="undelivered", error_code=30003)
    body = r.json()
    assert (body["status"], body["error_code"]) == ("undelivered", 30003)


def test_the_status_callback_is_enqueued_with_the_new_status(
    client: AsgiClient, keys: Keys, services: Services
) -> None:
    store = services.component(gateway_for).store
    sent = send(client, keys.acme_send, status_callback="https://app.example/status").json()
    assert store.pending() == 1  # the delivery
    receipt(client, keys.acme_send, sent["id"], status="delivered")
    assert store.pending() == 2  # and the callback, in the same transaction as the status
    due = store.claim(datetime.now(UTC) + timedelta(seconds=1), 10, timedelta(seconds=30))
    callbacks = [e for e in due if e.kind == "callback"]
    assert len(callbacks) == 1
    assert callbacks[0].payload["url"] == "https://app.example/status"
    params = callbacks[0].payload["params"]
    assert params["MessageSid"] == sent["id"]
    assert params["MessageStatus"] == "delivered"
    assert params["To"] == MESSAGE["to"]
    # a receipt that changes nothing calls nothing
    receipt(client, keys.acme_send, sent["id"], status="sent")
    assert store.pending() == 2


def test_receipts_are_refused_for_others_and_for_messages_never_sent(
    client: AsgiClient, keys: Keys
) -> None:
    sent = send(client, keys.acme_send).json()
    other = receipt(client, keys.globex_admin, sent["id"], status="delivered")
    assert other.status_code == 404 and error_of(other)["code"] == "not_found"
    assert receipt(client, keys.acme_read, sent["id"], status="delivered").status_code == 403
    blocked = send(client, keys.acme_send, body=PHISH, **{"from": "+12025550144"})
    refused = receipt(client, keys.acme_send, blocked.headers["x-message-id"], status="delivered")
    assert refused.status_code == 409
    assert error_of(refused)["code"] == "not_sent"
    bad = receipt(client, keys.acme_send, sent["id"], status="read")
    assert bad.status_code == 422
    assert [f["field"] for f in error_of(bad)["fields"]] == ["status"]
