"""Consent endpoints as a client sees them: records with evidence, the state per scope
and channel, tenant isolation, scopes, refusals naming the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from aupguard.api import Services
from aupguard.api.routes.inbound import consent_ledger
from tests.api.conftest import AsgiClient, Keys
from tests.api.test_http import error_of

PERSON = "+14155550123"
NUMBER = "+12025550143"
# marketing at 10:00 in California tomorrow: inside the quiet-hours window, after any
# record the tests write now
TOMORROW = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
MESSAGE = {
    "from": NUMBER,
    "to": PERSON,
    "body": "Acme: 20% off today! Reply STOP to opt out",
    "brand": "Acme",
    "category": "marketing",
    "at": f"{TOMORROW}T18:00:00Z",
}
OPT_IN = {
    "recipient": PERSON,
    "scope": f"sender:{NUMBER}",
    "method": "web_form",
    "source": "form:signup-7 ip:203.0.113.9",
    "wording": "Yes, text me offers from Acme. Reply STOP to cancel.",
    "at": "2026-03-01T12:00:00Z",
}


def post(client: AsgiClient, key: str, path: str, body: dict[str, Any]) -> httpx.Response:
    return client.post(path, json=body, headers=Keys.header(key))


def screen(client: AsgiClient, key: str) -> Any:
    return client.post("/v1/screen", json=MESSAGE, headers=Keys.header(key)).json()


def test_an_opt_in_with_evidence_lets_marketing_through_and_an_opt_out_stops_it(
    client: AsgiClient, keys: Keys
) -> None:
    assert screen(client, keys.acme_send)["verdict"] == "hold"  # marketing without opt-in
    r = post(client, keys.acme_send, "/v1/consent", OPT_IN)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["recorded"]["kind"] == "opt_in"
    assert body["recorded"]["wording"] == OPT_IN["wording"]
    assert body["state"]["status"] == "opted_in"
    assert body["state"]["evidence"]["source"] == OPT_IN["source"]
    assert screen(client, keys.acme_send)["verdict"] == "allow"
    out = post(
        client,
        keys.acme_send,
        "/v1/consent/opt-out",
        {"recipient": PERSON, "method": "verbal", "source": "call 2291", "wording": "stop calling"},
    )
    assert out.status_code == 201, out.text
    assert out.json()["recorded"]["kind"] == "opt_out"
    assert out.json()["recorded"]["scope"] == "*"
    decision = screen(client, keys.acme_send)
    assert (decision["verdict"], decision["code"]) == ("block", 21610)


def test_the_state_per_scope_and_channel_with_its_evidence(client: AsgiClient, keys: Keys) -> None:
    post(client, keys.acme_send, "/v1/consent", OPT_IN)
    post(
        client,
        keys.acme_send,
        "/v1/consent/opt-out",
        {"recipient": PERSON, "scope": "brand:acme", "channel": "whatsapp", "source": "email"},
    )
    r = client.get(f"/v1/consent/{PERSON}", headers=keys.header(keys.acme_read))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["recipient"] == PERSON
    assert body["status"] == "opted_out"  # an opt-out anywhere reads as one overall
    by_scope = {(s["scope"], s["channel"]): s for s in body["scopes"]}
    assert by_scope[(f"sender:{NUMBER}", "*")]["status"] == "opted_in"
    assert by_scope[(f"sender:{NUMBER}", "*")]["evidence"]["method"] == "web_form"
    assert by_scope[("brand:acme", "whatsapp")]["status"] == "opted_out"
    assert [r["scope"] for r in body["revocations"]] == ["brand:acme"]
    assert body["events"] == 2 and body["do_not_call"] is False
    # as the ledger stood before the opt-out
    then = client.get(
        f"/v1/consent/{PERSON}?at=2026-03-02T00:00:00Z", headers=keys.header(keys.acme_read)
    ).json()
    assert then["status"] == "opted_in" and then["events"] == 1


def test_another_tenants_number_is_not_found(client: AsgiClient, keys: Keys) -> None:
    post(client, keys.acme_send, "/v1/consent", OPT_IN)
    r = client.get(f"/v1/consent/{PERSON}", headers=keys.header(keys.globex_admin))
    assert r.status_code == 404
    assert error_of(r)["code"] == "not_found"
    assert screen(client, keys.globex_admin)["verdict"] == "hold"  # acme's opt-in is acme's
    unknown = client.get("/v1/consent/+14155550199", headers=keys.header(keys.acme_read))
    assert unknown.status_code == 404


def test_scopes_and_staff(client: AsgiClient, keys: Keys, services: Services) -> None:
    refused = post(client, keys.acme_read, "/v1/consent", OPT_IN)
    assert refused.status_code == 403 and error_of(refused)["code"] == "forbidden"
    other = post(client, keys.acme_send, "/v1/consent?tenant=globex", OPT_IN)
    assert other.status_code == 403
    assert post(client, keys.staff_admin, "/v1/consent", OPT_IN).status_code == 403  # no tenant
    assert post(client, keys.staff_admin, "/v1/consent?tenant=globex", OPT_IN).status_code == 201
    ledger, _ = services.component(consent_ledger)
    assert [e.tenant for e in ledger.history("globex", PERSON)] == ["globex"]
    assert ledger.history("acme", PERSON) == []
    staff_read = client.get(
        f"/v1/consent/{PERSON}?tenant=globex", headers=keys.header(keys.staff_admin)
    )
    assert staff_read.status_code == 200
    assert client.get(f"/v1/consent/{PERSON}").status_code == 401


def field_error(r: httpx.Response) -> tuple[str, str]:
    assert r.status_code == 422, r.text
    error = error_of(r)
    return error["fields"][0]["field"], error["fields"][0]["code"]


def test_bad_records_are_refused_naming_the_field_and_nothing_is_written(
    client: AsgiClient, keys: Keys, services: Services
) -> None:
    def send(**change: Any) -> httpx.Response:
        return post(client, keys.acme_send, "/v1/consent", {**OPT_IN, **change})

    assert field_error(send(source="", wording=" ")) == ("wording", "evidence_missing")
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    assert field_error(send(at=future)) == ("at", "in_the_future")
    assert field_error(send(expires="2026-02-01T00:00:00Z")) == ("expires", "not_after_at")
    assert field_error(send(recipient="4155550123"))[0] == "recipient"
    assert field_error(send(scope="team:x"))[0] == "scope"
    assert field_error(send(channel="pigeon"))[0] == "channel"
    assert field_error(send(at="2026-03-01"))[0] == "at"  # a date without a time
    assert field_error(send(colour="blue")) == ("colour", "unknown_field")
    ledger, _ = services.component(consent_ledger)
    assert ledger.history("acme", PERSON) == []
    bad_number = client.get("/v1/consent/not-a-number", headers=keys.header(keys.acme_read))
    assert field_error(bad_number) == ("number", "invalid")
    bad_time = client.get(f"/v1/consent/{PERSON}?at=yesterday", headers=keys.header(keys.acme_read))
    assert field_error(bad_time)[0] == "at"
