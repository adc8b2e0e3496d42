"""Enforcement endpoints as an HTTP client uses them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aupguard.actors import Actor, Role
from aupguard.api import Services, create_app
from aupguard.api.routes.enforcement import enforcement
from aupguard.audit.verify import verify_log
from aupguard.engine.facade import Engine
from tests.api.conftest import OPERATOR, AsgiClient, make_services

REPORT = {
    "url": "https://dhl-track.top/pay",
    "account": "acme",
    "timestamp": "2026-11-01T08:00:00Z",
    "description": "a text asking me to pay a parcel fee",
    "contact": "pat@example.org",
}


@pytest.fixture
def services(tmp_path: Path, engine: Engine) -> Iterator[Services]:
    built = make_services(tmp_path, engine, access_log=False)
    yield built
    built.close()


@pytest.fixture
def client(services: Services) -> Iterator[AsgiClient]:
    c = AsgiClient(create_app(services=services))
    yield c
    c.close()


def bearer(services: Services, tenant: str | None, scopes: list[str]) -> dict[str, str]:
    key = services.keys.issue(OPERATOR, tenant, scopes, "test").secret
    return {"Authorization": f"Bearer {key}"}


def test_a_report_needs_no_key_and_names_each_missing_field(client: AsgiClient) -> None:
    missing = client.post("/v1/reports", json={"description": "they keep texting me at night"})
    assert missing.status_code == 422
    fields = {f["field"] for f in missing.json()["error"]["fields"]}
    assert {"timestamp", "contact"} <= fields
    no_target = client.post("/v1/reports", json={k: v for k, v in REPORT.items() if k != "url"})
    assert no_target.status_code == 422
    assert no_target.json()["error"]["fields"][0]["field"] == "url|number|workspace"
    first = client.post("/v1/reports", json=REPORT)
    again = client.post("/v1/reports", json={**REPORT, "contact": "sam@example.org"})
    assert first.status_code == again.status_code == 201
    assert first.json()["case"] == again.json()["case"]


def test_appeal_billing_and_cases_with_least_privilege(
    client: AsgiClient, services: Services
) -> None:
    svc = services.component(enforcement)
    reviewer = Actor("ann", frozenset({Role.REVIEWER}))
    case, _ = svc.open_case(
        reviewer,
        "acme",
        "rule_hits",
        "phishing",
        evidence=[{"rule": "phishing.lure_link", "severity": "high", "clauses": ["W7"]}],
    )
    svc.decide(reviewer, "acme", case.id, "violation", "confirmed phishing")

    admin = bearer(services, "acme", ["admin"])
    sender = bearer(services, "acme", ["send"])
    other = bearer(services, "globex", ["admin"])
    refused = client.post("/v1/appeals", json={"case": case.id, "reason": "test"}, headers=sender)
    assert refused.status_code == 403
    assert (
        client.post(
            "/v1/appeals", json={"case": case.id, "reason": "test"}, headers=other
        ).status_code
        == 404
    )
    appealed = client.post(
        "/v1/appeals", json={"case": case.id, "reason": "our own test phone"}, headers=admin
    )
    assert appealed.status_code == 200, appealed.text
    assert appealed.json()["case"]["status"] == "appealed"
    assert (
        client.post(
            "/v1/appeals", json={"case": case.id, "reason": "again"}, headers=admin
        ).status_code
        == 409
    )

    listed = client.get("/v1/cases", headers=admin).json()["cases"]
    assert [c["id"] for c in listed] == [case.id]
    assert client.get("/v1/cases", headers=other).json()["cases"] == []

    event = {"account": "acme", "type": "trial_started", "at": "2026-11-01T00:00:00Z"}
    assert client.post("/v1/billing-events", json=event, headers=admin).status_code == 403
    staff = bearer(services, None, ["admin"])
    started = client.post("/v1/billing-events", json=event, headers=staff)
    assert started.status_code == 200, started.text
    assert started.json() == {"account": "acme", "status": "trial"}
    unknown = client.post(
        "/v1/billing-events",
        json={**event, "type": "invoice_paid", "invoice": "nope"},
        headers=staff,
    )
    assert unknown.status_code == 422
    assert unknown.json()["error"]["fields"][0]["field"] == "invoice"

    denied = [e for e in svc.store.audit.entries("acme") if e.kind == "access.denied"]
    assert len(denied) == 2  # the sender's appeal and the tenant admin's billing event
    assert verify_log(svc.store.audit).ok


def test_incidents_reported_and_listed_with_least_privilege(
    client: AsgiClient, services: Services
) -> None:
    admin = bearer(services, "acme", ["admin"])
    sender = bearer(services, "acme", ["send"])
    globex = bearer(services, "globex", ["admin"])
    staff = bearer(services, None, ["reviewer"])
    missing = client.post("/v1/incidents", json={"description": "odd sign-ins"}, headers=admin)
    assert missing.status_code == 422
    assert {f["field"] for f in missing.json()["error"]["fields"]} >= {
        "kind",
        "severity",
        "detected_at",
    }
    body = {
        "kind": "credential_compromise",
        "severity": "high",
        "description": "our CI log printed the key",
        "detected_at": "2026-11-01T08:00:00Z",
        "keys": ["0f1e2d3c4b5a6978"],
    }
    assert client.post("/v1/incidents", json=body, headers=sender).status_code == 403
    made = client.post("/v1/incidents", json=body, headers=admin)
    assert made.status_code == 201
    incident = made.json()["incident"]
    assert (incident["account"], incident["status"], incident["response"]) == (
        "acme",
        "open",
        "hold",
    )
    platform = client.post("/v1/incidents", json={**body, "keys": []}, headers=staff)
    assert platform.json()["incident"]["account"] == "_platform"
    path = f"/v1/incidents/{incident['id']}"
    assert client.get(path, headers=admin).json()["incident"]["id"] == incident["id"]
    assert client.get(path, headers=globex).status_code == 404
    assert client.get(f"{path}?tenant=acme", headers=staff).status_code == 200
    assert [i["id"] for i in client.get("/v1/incidents", headers=admin).json()["incidents"]] == [
        incident["id"]
    ]
    assert client.get("/v1/incidents", headers=globex).json()["incidents"] == []
    every = client.get("/v1/incidents?status=open", headers=staff).json()["incidents"]
    assert {i["account"] for i in every} == {"acme", "_platform"}
    assert client.get("/v1/incidents", headers=sender).status_code == 403
    svc = services.component(enforcement)
    assert svc.standing("acme").held_keys == ("0f1e2d3c4b5a6978",)
    assert verify_log(svc.store.audit).ok
