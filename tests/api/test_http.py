"""The HTTP API as a client sees it: httpx over the ASGI app, a real SQLite key store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from aupguard.api import Call, Router, Services, create_app
from aupguard.api.openapi import build_openapi
from aupguard.api.routes import ROUTERS
from aupguard.engine.facade import Engine
from tests.api.conftest import AsgiClient, Keys, make_services

ROOT = Path(__file__).resolve().parents[2]
PHISH = "Your parcel is held, pay the fee at hxxp://dhl-track[.]top/pay"
MESSAGE = {"from": "+12025550143", "to": "+14155550123", "body": "see you at 7"}


def error_of(response: Any) -> dict[str, Any]:
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "fields", "request_id"}
    assert error["message"].endswith(".")
    assert error["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    return error


# -- /v1/screen -------------------------------------------------------------------------


def test_screen_blocks_a_phishing_message_citing_clauses(client: AsgiClient, keys: Keys) -> None:
    r = client.post(
        "/v1/screen", json={**MESSAGE, "body": PHISH}, headers=keys.header(keys.acme_send)
    )
    assert r.status_code == 200
    decision = r.json()
    assert decision["verdict"] == "block"
    assert "P19" in decision["clauses"]
    assert decision["account"] == "acme"  # the key's tenant, not the event's default
    assert any(hit["rule"] == "fraud.delivery_fee" for hit in decision["hits"])


def test_screen_allows_a_plain_message(client: AsgiClient, keys: Keys) -> None:
    r = client.post("/v1/screen", json=MESSAGE, headers=keys.header(keys.acme_admin))
    assert r.status_code == 200
    assert r.json()["verdict"] == "allow"
    assert r.json()["hits"] == []


def test_screen_takes_other_event_kinds(client: AsgiClient, keys: Keys) -> None:
    call = {"kind": "call", "from": "+12025550143", "to": "911"}
    r = client.post("/v1/screen", json=call, headers=keys.header(keys.acme_send))
    assert r.status_code == 200
    assert r.json()["kind"] == "call"


def test_screen_naming_another_tenant_is_forbidden(client: AsgiClient, keys: Keys) -> None:
    r = client.post(
        "/v1/screen", json={**MESSAGE, "account": "globex"}, headers=keys.header(keys.acme_send)
    )
    assert r.status_code == 403
    error = error_of(r)
    assert error["code"] == "forbidden"
    assert "globex" in error["message"]


def test_screen_naming_its_own_tenant_is_fine(client: AsgiClient, keys: Keys) -> None:
    r = client.post(
        "/v1/screen", json={**MESSAGE, "account": "acme"}, headers=keys.header(keys.acme_send)
    )
    assert r.status_code == 200


def test_staff_admin_screens_for_the_account_it_names(client: AsgiClient, keys: Keys) -> None:
    r = client.post(
        "/v1/screen", json={**MESSAGE, "account": "globex"}, headers=keys.header(keys.staff_admin)
    )
    assert r.status_code == 200
    assert r.json()["account"] == "globex"


@pytest.mark.parametrize("who", ["acme_read", "staff_reviewer"])
def test_screen_needs_the_send_scope(client: AsgiClient, keys: Keys, who: str) -> None:
    r = client.post("/v1/screen", json=MESSAGE, headers=keys.header(getattr(keys, who)))
    assert r.status_code == 403
    assert "send" in error_of(r)["message"]


# -- bad input --------------------------------------------------------------------------


def test_text_with_a_nul_character_is_422_and_nothing_is_recorded(
    client: AsgiClient, keys: Keys
) -> None:
    body = b'{"from": "+12025550143", "to": "+1415\\u00005550123", "body": "hi"}'
    for path in ("/v1/screen", "/v1/messages"):
        r = client.post(
            path,
            content=body,
            headers={**keys.header(keys.acme_send), "Content-Type": "application/json"},
        )
        assert r.status_code == 422, path
        assert error_of(r)["code"] == "nul_character"
    listed = client.get("/v1/decisions", headers=keys.header(keys.acme_read))
    assert listed.status_code == 200
    assert "u0000" not in listed.text
    escaped = b'{"from": "+12025550143", "to": "+14155550123", "body": "a \\\\u0000 b"}'
    ok = client.post(
        "/v1/screen",
        content=escaped,
        headers={**keys.header(keys.acme_send), "Content-Type": "application/json"},
    )
    assert ok.status_code == 200  # a backslash followed by u0000 is text, not NUL


def test_malformed_json_is_400(client: AsgiClient, keys: Keys) -> None:
    r = client.post(
        "/v1/screen",
        content=b'{"from": "+1202555014',
        headers={**keys.header(keys.acme_send), "Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert error_of(r)["code"] == "malformed_json"


def test_empty_body_is_400(client: AsgiClient, keys: Keys) -> None:
    r = client.post(
        "/v1/screen",
        content=b"",
        headers={**keys.header(keys.acme_send), "Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert error_of(r)["code"] == "empty_body"


@pytest.mark.parametrize(
    ("content_type", "named"),
    [
        ("text/plain", "text/plain"),
        ("application/x-www-form-urlencoded", "form"),
        (None, "missing"),
    ],
)
def test_wrong_content_type_is_415(
    client: AsgiClient, keys: Keys, content_type: str | None, named: str
) -> None:
    headers = keys.header(keys.acme_send)
    if content_type:
        headers["Content-Type"] = content_type
    r = client.post("/v1/screen", content=json.dumps(MESSAGE).encode(), headers=headers)
    assert r.status_code == 415
    error = error_of(r)
    assert error["code"] == "unsupported_media_type"
    assert named in error["message"]


def test_json_with_a_charset_is_accepted(client: AsgiClient, keys: Keys) -> None:
    r = client.post(
        "/v1/screen",
        content=json.dumps(MESSAGE).encode(),
        headers={**keys.header(keys.acme_send), "Content-Type": "application/json; charset=utf-8"},
    )
    assert r.status_code == 200


def test_unknown_and_missing_fields_are_named(client: AsgiClient, keys: Keys) -> None:
    r = client.post(
        "/v1/screen",
        json={"from": "+12025550143", "bodyy": "hi", "channel": "pigeon"},
        headers=keys.header(keys.acme_send),
    )
    assert r.status_code == 422
    error = error_of(r)
    assert error["code"] == "validation_failed"
    fields = {f["field"]: f["code"] for f in error["fields"]}
    assert fields == {"to": "missing", "bodyy": "unknown_field", "channel": "enum"}
    assert "'bodyy'" in error["message"]


def test_a_json_array_is_not_an_event(client: AsgiClient, keys: Keys) -> None:
    r = client.post("/v1/screen", json=[MESSAGE], headers=keys.header(keys.acme_send))
    assert r.status_code == 422
    assert error_of(r)["code"] == "validation_failed"


def test_an_unknown_kind_is_422(client: AsgiClient, keys: Keys) -> None:
    r = client.post(
        "/v1/screen", json={**MESSAGE, "kind": "fax"}, headers=keys.header(keys.acme_send)
    )
    assert r.status_code == 422


def test_a_one_megabyte_body_is_413_before_it_is_read(client: AsgiClient, keys: Keys) -> None:
    big = {**MESSAGE, "body": "x" * 1_000_000}
    r = client.post("/v1/screen", json=big, headers=keys.header(keys.acme_send))
    assert r.status_code == 413
    error = error_of(r)
    assert error["code"] == "body_too_large"
    assert "262144" in error["message"]


def test_a_streamed_body_over_the_limit_is_413(client: AsgiClient, keys: Keys) -> None:
    async def chunks() -> Any:  # no Content-Length: chunked transfer
        for _ in range(40):
            yield b" " * 10_000

    r = client.post(
        "/v1/screen",
        content=chunks(),
        headers={**keys.header(keys.acme_send), "Content-Type": "application/json"},
    )
    assert r.status_code == 413


def test_the_body_limit_is_configurable(tmp_path: Path, engine: Engine) -> None:
    services = make_services(tmp_path, engine, max_body_bytes=2048, access_log=False)
    from tests.api.conftest import OPERATOR

    key = services.keys.issue(OPERATOR, "acme", ["send"]).secret
    client = AsgiClient(create_app(services=services))
    try:
        ok = client.post("/v1/screen", json=MESSAGE, headers=Keys.header(key))
        big = client.post(
            "/v1/screen", json={**MESSAGE, "body": "y" * 3000}, headers=Keys.header(key)
        )
    finally:
        client.close()
        services.close()
    assert ok.status_code == 200
    assert big.status_code == 413
    assert "2048" in big.json()["error"]["message"]


# -- authentication ---------------------------------------------------------------------


def test_no_key_is_401_with_a_challenge(client: AsgiClient) -> None:
    r = client.post("/v1/screen", json=MESSAGE)
    assert r.status_code == 401
    assert error_of(r)["code"] == "missing_api_key"
    assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer aupg_0123456789abcdef_notthesecret",
        "Bearer not-a-key",
        "Bearer aupg_short_x",
    ],
)
def test_a_wrong_key_is_401(client: AsgiClient, keys: Keys, header: str) -> None:
    r = client.post("/v1/screen", json=MESSAGE, headers={"Authorization": header})
    assert r.status_code == 401
    assert error_of(r)["code"] == "invalid_api_key"


def test_a_right_key_id_with_a_wrong_secret_is_401(client: AsgiClient, keys: Keys) -> None:
    forged = keys.acme_send[:-4] + ("AAAA" if not keys.acme_send.endswith("AAAA") else "BBBB")
    r = client.post("/v1/screen", json=MESSAGE, headers=Keys.header(forged))
    assert r.status_code == 401
    assert error_of(r)["code"] == "invalid_api_key"


def test_basic_auth_is_not_a_bearer_key(client: AsgiClient, keys: Keys) -> None:
    r = client.post("/v1/screen", json=MESSAGE, auth=("acme", keys.acme_send))
    assert r.status_code == 401
    assert error_of(r)["code"] == "missing_api_key"


def test_authentication_comes_before_body_validation(client: AsgiClient) -> None:
    r = client.post("/v1/screen", content=b"{", headers={"Content-Type": "application/json"})
    assert r.status_code == 401


# -- /v1/keys ---------------------------------------------------------------------------


def test_a_tenant_admin_manages_its_keys_over_http(client: AsgiClient, keys: Keys) -> None:
    admin = keys.header(keys.acme_admin)
    r = client.post("/v1/keys", json={"scopes": ["send"], "name": "worker"}, headers=admin)
    assert r.status_code == 201
    issued = r.json()
    new_key, new_id = issued["secret"], issued["key"]["id"]
    assert issued["key"]["tenant"] == "acme"
    assert issued["key"]["scopes"] == ["send"]
    assert client.post("/v1/screen", json=MESSAGE, headers=Keys.header(new_key)).status_code == 200

    listed = client.get("/v1/keys", headers=admin).json()["keys"]
    assert new_id in {k["id"] for k in listed}
    assert all(k["tenant"] == "acme" for k in listed)
    assert "secret" not in json.dumps(listed)
    assert new_key.rsplit("_", 1)[1] not in json.dumps(listed)

    rotated = client.post(f"/v1/keys/{new_id}/rotate", json={}, headers=admin)
    assert rotated.status_code == 201
    newer = rotated.json()["secret"]
    assert client.post("/v1/screen", json=MESSAGE, headers=Keys.header(new_key)).status_code == 401
    assert client.post("/v1/screen", json=MESSAGE, headers=Keys.header(newer)).status_code == 200

    newer_id = rotated.json()["key"]["id"]
    revoked = client.delete(f"/v1/keys/{newer_id}", headers=admin)
    assert revoked.status_code == 200
    assert revoked.json()["key"]["state"] == "revoked"
    assert client.post("/v1/screen", json=MESSAGE, headers=Keys.header(newer)).status_code == 401


def test_rotation_with_grace_keeps_the_old_key_working(client: AsgiClient, keys: Keys) -> None:
    admin = keys.header(keys.acme_admin)
    issued = client.post("/v1/keys", json={"scopes": ["send"]}, headers=admin).json()
    r = client.post(
        f"/v1/keys/{issued['key']['id']}/rotate", json={"grace_seconds": 3600}, headers=admin
    )
    assert r.status_code == 201
    old = Keys.header(issued["secret"])
    assert client.post("/v1/screen", json=MESSAGE, headers=old).status_code == 200
    states = {k["id"]: k["state"] for k in client.get("/v1/keys", headers=admin).json()["keys"]}
    assert states[issued["key"]["id"]] == "expiring"


def test_another_tenants_key_is_not_found(
    client: AsgiClient, keys: Keys, services: Services
) -> None:
    globex_id = keys.globex_admin.split("_")[1]
    admin = keys.header(keys.acme_admin)
    for r in (
        client.delete(f"/v1/keys/{globex_id}", headers=admin),
        client.post(f"/v1/keys/{globex_id}/rotate", json={}, headers=admin),
    ):
        assert r.status_code == 404
        assert error_of(r)["code"] == "not_found"
    # and the globex key still works
    assert client.get("/v1/keys", headers=keys.header(keys.globex_admin)).status_code == 200


def test_a_tenant_cannot_list_another_tenants_keys(client: AsgiClient, keys: Keys) -> None:
    r = client.get("/v1/keys?tenant=globex", headers=keys.header(keys.acme_admin))
    assert r.status_code == 403
    assert error_of(r)["code"] == "forbidden"


def test_a_sender_key_cannot_manage_keys(client: AsgiClient, keys: Keys) -> None:
    r = client.post("/v1/keys", json={"scopes": ["admin"]}, headers=keys.header(keys.acme_send))
    assert r.status_code == 403


def test_staff_admins_name_the_tenant(client: AsgiClient, keys: Keys) -> None:
    staff = keys.header(keys.staff_admin)
    missing = client.get("/v1/keys", headers=staff)
    assert missing.status_code == 422
    assert error_of(missing)["fields"][0]["field"] == "tenant"
    listed = client.get("/v1/keys?tenant=globex", headers=staff)
    assert listed.status_code == 200
    assert {k["tenant"] for k in listed.json()["keys"]} == {"globex"}
    reviewer = client.get("/v1/keys?tenant=globex", headers=keys.header(keys.staff_reviewer))
    assert reviewer.status_code == 403


def test_new_key_scopes_are_validated(client: AsgiClient, keys: Keys) -> None:
    r = client.post("/v1/keys", json={"scopes": ["root"]}, headers=keys.header(keys.acme_admin))
    assert r.status_code == 422
    assert error_of(r)["fields"][0]["field"] == "scopes.0"


# -- operations, routing, errors --------------------------------------------------------


def test_healthz_and_readyz(client: AsgiClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "pack": "ok"}}


def test_readyz_is_503_when_the_schema_is_missing(tmp_path: Path, engine: Engine) -> None:
    from aupguard.api import build_services
    from aupguard.config import Settings

    services = build_services(
        Settings(database_url=f"sqlite:///{tmp_path / 'empty.sqlite'}", access_log=False),
        engine=engine,
    )
    client = AsgiClient(create_app(services=services))
    try:
        r = client.get("/readyz")
    finally:
        client.close()
    assert r.status_code == 503
    error = error_of(r)
    assert error["code"] == "not_ready"
    assert "aupguard db upgrade" in error["message"]


def test_unknown_paths_and_methods_answer_json(client: AsgiClient) -> None:
    missing = client.get("/v2/nothing")
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "not_found"
    wrong = client.get("/v1/screen")
    assert wrong.status_code == 405
    assert error_of(wrong)["code"] == "method_not_allowed"
    assert "POST" in wrong.headers["allow"]


def test_request_ids_are_echoed_or_made(client: AsgiClient) -> None:
    made = client.get("/healthz").headers["x-request-id"]
    assert len(made) == 16
    assert (
        client.get("/healthz", headers={"X-Request-Id": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )
    odd = client.get("/healthz", headers={"X-Request-Id": b"bad id\xc3\xa9"})
    assert len(odd.headers["x-request-id"]) == 16  # not echoed: a new one
    long = client.get("/healthz", headers={"X-Request-Id": "a" * 200})
    assert len(long.headers["x-request-id"]) == 16


def test_a_failing_handler_is_a_json_500_without_a_traceback(services: Services) -> None:
    boom = Router(tag="boom")

    @boom.get("/boom", summary="fails", auth=False)
    async def fail(call: Call) -> Any:
        raise RuntimeError("secret internals")

    client = AsgiClient(create_app(services=services, routers=[*ROUTERS, boom]))
    try:
        r = client.get("/boom")
    finally:
        client.close()
    assert r.status_code == 500
    error = error_of(r)
    assert error["code"] == "internal_error"
    assert "secret internals" not in r.text


def test_logs_are_json_without_bodies_or_secrets(
    tmp_path: Path, engine: Engine, capfd: pytest.CaptureFixture[str]
) -> None:
    from tests.api.conftest import OPERATOR

    services = make_services(tmp_path, engine, access_log=True)
    key = services.keys.issue(OPERATOR, "acme", ["send"]).secret
    client = AsgiClient(create_app(services=services))
    try:
        client.post("/v1/screen", json={**MESSAGE, "body": PHISH}, headers=Keys.header(key))
        client.post(
            "/v1/screen",
            content=b"{",
            headers={**Keys.header(key), "Content-Type": "application/json"},
        )
    finally:
        client.close()
        services.close()
    lines = [
        json.loads(line) for line in capfd.readouterr().out.splitlines() if line.startswith("{")
    ]
    requests = [line for line in lines if line.get("event") == "request"]
    assert [r["status"] for r in requests] == [200, 400]
    assert requests[0]["route"] == "/v1/screen"
    assert requests[0]["actor"] == f"key:{key.split('_')[1]}"
    assert all(len(r["request_id"]) == 16 for r in requests)
    text = json.dumps(lines)
    assert "dhl-track" not in text
    assert key.split("_", 2)[2] not in text  # the secret (it may itself hold "_")


def test_the_committed_openapi_document_is_current(app: Starlette, client: AsgiClient) -> None:
    served = client.get("/openapi.json").json()
    assert served == build_openapi(ROUTERS)
    committed = json.loads((ROOT / "openapi.json").read_text("utf-8"))
    assert committed == served, "openapi.json is stale: run `aupguard openapi > openapi.json`"


def test_every_operation_documents_its_errors() -> None:
    document = build_openapi(ROUTERS)
    screen = document["paths"]["/v1/screen"]["post"]
    assert {"200", "400", "401", "403", "413", "415", "422", "default"} <= set(screen["responses"])
    assert screen["security"] == [{"apiKey": []}]
    assert "security" not in document["paths"]["/healthz"]["get"]


def test_the_api_on_postgresql(engine: Engine) -> None:
    from aupguard.api import build_services
    from aupguard.config import Settings
    from aupguard.store.migrate import upgrade
    from tests.api.conftest import OPERATOR
    from tests.services import postgres_database

    with postgres_database() as url:
        services = build_services(Settings(database_url=url, access_log=False), engine=engine)
        assert services.database is not None
        upgrade(services.database)
        client = AsgiClient(create_app(services=services))
        try:
            key = services.keys.issue(OPERATOR, "acme", ["send", "admin"]).secret
            assert client.get("/readyz").json()["checks"]["database"] == "ok"
            r = client.post("/v1/screen", json={**MESSAGE, "body": PHISH}, headers=Keys.header(key))
            assert r.status_code == 200
            assert r.json()["verdict"] == "block"
            key_id = key.split("_")[1]
            assert client.delete(f"/v1/keys/{key_id}", headers=Keys.header(key)).status_code == 200
            assert (
                client.post("/v1/screen", json=MESSAGE, headers=Keys.header(key)).status_code == 401
            )
        finally:
            client.close()
            services.close()


def test_unknown_and_malformed_query_parameters_are_422(client: AsgiClient, keys: Keys) -> None:
    unknown = client.post("/v1/screen?dry=1", json=MESSAGE, headers=keys.header(keys.acme_send))
    assert unknown.status_code == 422
    assert error_of(unknown)["fields"] == [
        {"field": "dry", "code": "unknown_field", "message": "Unknown query parameter"}
    ]
    bad = client.get("/v1/keys?tenant=a%20b", headers=keys.header(keys.staff_admin))
    assert bad.status_code == 422
    assert error_of(bad)["fields"][0]["field"] == "tenant"
