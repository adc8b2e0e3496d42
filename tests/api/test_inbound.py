"""POST /v1/inbound as a client sees it: keywords act on the consent ledger that the
send path reads, one confirmation, idempotent on the provider's message id."""

from __future__ import annotations

from typing import Any

import httpx

from aupguard.api import Services
from aupguard.api.routes.inbound import consent_ledger
from tests.api.conftest import AsgiClient, Keys
from tests.api.test_http import error_of

PERSON = "+14155550123"
NUMBER = "+12025550143"
MESSAGE = {"from": NUMBER, "to": PERSON, "body": "see you at 7"}


def reply(client: AsgiClient, key: str, body: str, **extra: Any) -> httpx.Response:
    return client.post(
        "/v1/inbound",
        json={"from": PERSON, "to": NUMBER, "body": body, **extra},
        headers=Keys.header(key),
    )


def send(client: AsgiClient, key: str) -> httpx.Response:
    return client.post("/v1/messages", json=MESSAGE, headers=Keys.header(key))


def screen(client: AsgiClient, key: str) -> Any:
    return client.post("/v1/screen", json=MESSAGE, headers=Keys.header(key)).json()


def test_stop_opts_out_once_and_the_next_send_is_refused_with_21610(
    client: AsgiClient, keys: Keys
) -> None:
    assert screen(client, keys.acme_send)["verdict"] == "allow"
    r = reply(client, keys.acme_send, " Stop. ")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["intent"]["kind"] == "opt_out"
    assert body["consent"] == {"before": "unknown", "after": "opted_out"}
    assert body["recorded"]["kind"] == "opt_out"
    assert body["recorded"]["scope"] == f"sender:{NUMBER}"
    assert body["recorded"]["method"] == "keyword"
    assert body["reply"].startswith(f"{NUMBER}: you are unsubscribed")
    assert body["honour_by"] is not None and body["reply_by"] is not None
    assert body["decision"]["verdict"] in ("allow", "hold", "block", "throttle")
    refused = send(client, keys.acme_send)
    assert refused.status_code == 403
    assert "consent.opted_out" in error_of(refused)["message"]
    assert screen(client, keys.acme_send)["code"] == 21610
    # a second STOP is recorded as evidence but gets no second confirmation
    second = reply(client, keys.acme_send, "STOP").json()
    assert second["recorded"]["kind"] == "opt_out"
    assert second["reply"] is None
    # START opts in again and is confirmed
    start = reply(client, keys.acme_send, "start").json()
    assert start["consent"] == {"before": "opted_out", "after": "opted_in"}
    assert "you are subscribed" in start["reply"]
    assert screen(client, keys.acme_send)["verdict"] == "allow"


def test_help_is_answered_every_time_and_changes_nothing(
    client: AsgiClient, keys: Keys, services: Services
) -> None:
    for _ in range(2):
        body = reply(client, keys.acme_send, "HELP", brand="acme").json()
        assert body["intent"]["kind"] == "help"
        assert body["recorded"] is None
        assert body["reply"].startswith("acme: for help")
    ledger, _ = services.component(consent_ledger)
    assert ledger.history("acme", PERSON) == []


def test_a_sentence_holding_stop_is_not_an_opt_out(client: AsgiClient, keys: Keys) -> None:
    body = reply(client, keys.acme_send, "I can't stop laughing").json()
    assert body["intent"]["kind"] == "none"
    assert body["recorded"] is None and body["reply"] is None
    assert send(client, keys.acme_send).status_code == 202


def test_a_brand_opt_out_covers_the_brands_other_numbers(client: AsgiClient, keys: Keys) -> None:
    body = reply(client, keys.acme_send, "unsubscribe", brand="acme").json()
    assert body["recorded"]["scope"] == "brand:acme"
    other_number = {**MESSAGE, "from": "+12025550199", "brand": "acme"}
    r = client.post("/v1/screen", json=other_number, headers=Keys.header(keys.acme_send))
    assert r.json()["code"] == 21610


def test_the_provider_message_id_makes_it_idempotent(
    client: AsgiClient, keys: Keys, services: Services
) -> None:
    first = reply(client, keys.acme_send, "STOP", id="SMaaaa0001")
    again = reply(client, keys.acme_send, "STOP", id="SMaaaa0001")
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()  # the first answer, confirmation included
    assert "idempotent-replayed" not in first.headers
    ledger, _ = services.component(consent_ledger)
    assert len(ledger.history("acme", PERSON)) == 1  # acted on once
    other = reply(client, keys.acme_send, "START", id="SMaaaa0001")
    assert other.status_code == 409
    assert error_of(other)["code"] == "idempotency_key_reused"
    # another tenant's message of the same id is its own
    assert (
        "idempotent-replayed"
        not in reply(client, keys.globex_admin, "STOP", id="SMaaaa0001").headers
    )


def test_the_decision_is_recorded_for_the_tenant(client: AsgiClient, keys: Keys) -> None:
    body = reply(client, keys.acme_send, "STOP", id="SMbbbb0002").json()
    listed = client.get("/v1/decisions?kind=inbound", headers=keys.header(keys.acme_read)).json()
    assert [d["id"] for d in listed["decisions"]] == [body["decision"]["id"]]
    assert listed["decisions"][0]["event_id"] == "SMbbbb0002"
    other = client.get("/v1/decisions?kind=inbound", headers=keys.header(keys.globex_admin))
    assert other.json()["decisions"] == []


def test_tenants_are_kept_apart_and_scopes_checked(client: AsgiClient, keys: Keys) -> None:
    reply(client, keys.acme_send, "STOP")
    globex = client.post("/v1/screen", json=MESSAGE, headers=Keys.header(keys.globex_admin))
    assert globex.json()["verdict"] == "allow"  # acme's opt-out is acme's
    read_only = reply(client, keys.acme_read, "STOP")
    assert read_only.status_code == 403
    assert error_of(read_only)["code"] == "forbidden"
    other_account = reply(client, keys.acme_send, "STOP", account="globex")
    assert other_account.status_code == 403
    missing = client.post(
        "/v1/inbound", json={"from": PERSON, "body": "STOP"}, headers=Keys.header(keys.acme_send)
    )
    assert missing.status_code == 422
    assert [f["field"] for f in error_of(missing)["fields"]] == ["to"]
    assert client.post("/v1/inbound", json={"from": PERSON, "to": NUMBER}).status_code == 401
