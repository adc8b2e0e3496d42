"""POST /v1/calls, POST /v1/calls/{id}/end and POST /v1/cdrs as a client sees them,
with the identity registry on the same SQLite database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aupguard.api import Services
from aupguard.api.routes.calls import call_screener
from aupguard.identity.registry import EvidenceKind
from aupguard.identity.service import record_evidence, set_profile
from tests.api.conftest import AsgiClient, Keys
from tests.api.test_http import error_of

CALLER = "+12025550143"
NOW = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)


@pytest.fixture
def registered(services: Services) -> None:
    registry = services.component(call_screener).registry
    record_evidence(registry, "acme", CALLER, EvidenceKind.CARRIER_LOA, NOW, reference="LOA-1")
    set_profile(registry, "acme", allowed_regions=["US"])


def test_a_call_from_a_verified_number_is_allowed_and_attested(
    client: AsgiClient, keys: Keys, registered: None
) -> None:
    r = client.post(
        "/v1/calls",
        json={"from": CALLER, "to": "+14155550123"},
        headers=keys.header(keys.acme_send),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["verdict"] == "allow"
    assert body["attestation"] in ("A", "B")
    decisions = client.get("/v1/decisions?kind=call", headers=keys.header(keys.acme_read)).json()
    assert [d["verdict"] for d in decisions["decisions"]] == ["allow"]


def test_refused_calls_cite_their_clauses_and_codes(
    client: AsgiClient, keys: Keys, registered: None
) -> None:
    h = keys.header(keys.acme_send)
    foreign = client.post("/v1/calls", json={"from": CALLER, "to": "+4915112345678"}, headers=h)
    assert foreign.json()["verdict"] == "block"
    assert foreign.json()["code"] == 21408  # geo-permissions
    emergency = client.post("/v1/calls", json={"from": CALLER, "to": "911"}, headers=h).json()
    assert emergency["verdict"] == "block"
    stranger = client.post(
        "/v1/calls", json={"from": "+12025550198", "to": "+14155550123"}, headers=h
    ).json()
    assert stranger["verdict"] == "block"  # caller id not registered to this account


def test_concurrent_calls_are_counted_until_they_end(
    client: AsgiClient, keys: Keys, registered: None
) -> None:
    h = keys.header(keys.acme_send)
    verdicts = [
        client.post(
            "/v1/calls",
            json={"from": CALLER, "to": "+14155550123", "call_id": f"c{i}"},
            headers=h,
        ).json()["verdict"]
        for i in range(11)
    ]
    assert verdicts[:10] == ["allow"] * 10
    assert verdicts[10] == "throttle"
    assert client.post("/v1/calls/c3/end", headers=h).json() == {"call_id": "c3", "ended": True}
    assert client.post("/v1/calls/c3/end", headers=h).json()["ended"] is False
    long = client.post(f"/v1/calls/{'x' * 129}/end", headers=h)
    assert long.status_code == 422
    again = client.post(
        "/v1/calls", json={"from": CALLER, "to": "+14155550123", "call_id": "c10"}, headers=h
    )
    assert again.json()["verdict"] == "allow"


def test_a_cdr_batch_is_judged_and_recorded(client: AsgiClient, keys: Keys) -> None:
    record = {
        "from": CALLER,
        "to": "+14155550123",
        "start": "2026-03-02T17:00:00Z",
        "end": "2026-03-02T17:05:00Z",
    }
    r = client.post(
        "/v1/cdrs", json={"records": [record, record, record]}, headers=keys.header(keys.acme_send)
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert [d["index"] for d in body["decisions"]] == [0, 1, 2]
    assert sum(body["counts"].values()) == 3
    listed = client.get("/v1/decisions?kind=cdr", headers=keys.header(keys.acme_read)).json()
    assert len(listed["decisions"]) == 3


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/v1/calls", {"from": CALLER}, 422, "validation_failed"),
        ("/v1/calls", {"from": CALLER, "to": "+1", "colour": "red"}, 422, "validation_failed"),
        ("/v1/cdrs", {"records": []}, 422, "validation_failed"),
        ("/v1/cdrs", {"records": [{"from": CALLER}]}, 422, "validation_failed"),
        (
            "/v1/calls",
            {"from": CALLER, "to": "+14155550123", "account": "globex"},
            403,
            "forbidden",
        ),
    ],
)
def test_bad_call_requests_are_refused_precisely(
    client: AsgiClient, keys: Keys, path: str, body: object, status: int, code: str
) -> None:
    r = client.post(path, json=body, headers=keys.header(keys.acme_send))
    assert r.status_code == status
    assert error_of(r)["code"] == code


def test_calls_need_a_send_key(client: AsgiClient, keys: Keys) -> None:
    body = {"from": CALLER, "to": "+14155550123"}
    assert client.post("/v1/calls", json=body).status_code == 401
    assert (
        client.post("/v1/calls", json=body, headers=keys.header(keys.acme_read)).status_code == 403
    )
