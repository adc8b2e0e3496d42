"""The do-not-contact list over HTTP: listing blocks marketing at the next screen,
paging by number, unlisting (admin only), tenant isolation, refusals."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.conftest import AsgiClient, Keys
from tests.api.test_consent import MESSAGE, NUMBER, OPT_IN, PERSON
from tests.api.test_http import error_of


def post(client: AsgiClient, key: str, path: str, body: dict[str, Any]) -> httpx.Response:
    return client.post(path, json=body, headers=Keys.header(key))


def verdict(client: AsgiClient, key: str) -> dict[str, Any]:
    answer = post(client, key, "/v1/screen", MESSAGE)
    assert answer.status_code == 200
    found: dict[str, Any] = answer.json()
    return found


def test_a_listed_number_is_blocked_at_the_next_screen_and_free_again_when_unlisted(
    client: AsgiClient, keys: Keys
) -> None:
    assert post(client, keys.acme_send, "/v1/consent", OPT_IN).status_code == 201
    assert verdict(client, keys.acme_send)["verdict"] == "allow"
    listed = post(client, keys.acme_send, "/v1/dnc", {"numbers": [PERSON, PERSON]})
    assert listed.status_code == 201
    assert listed.json() == {"added": 1, "listed": 1}
    blocked = verdict(client, keys.acme_send)
    assert blocked["verdict"] == "block" and blocked["code"] == 21610
    assert "consent.do_not_call" in [h["rule"] for h in blocked["hits"]]
    assert verdict(client, keys.globex_admin)["verdict"] != "block"  # acme's list is acme's
    removed = client.delete(f"/v1/dnc/{PERSON}", headers=keys.header(keys.acme_admin))
    assert removed.status_code == 200 and removed.json() == {"removed": PERSON}
    assert verdict(client, keys.acme_send)["verdict"] == "allow"


def test_the_list_pages_by_number(client: AsgiClient, keys: Keys) -> None:
    numbers = [f"+1415555{n:04d}" for n in (9, 2, 7, 4, 1)]
    assert post(
        client, keys.acme_send, "/v1/dnc", {"numbers": numbers, "source": "crm"}
    ).json() == {
        "added": 5,
        "listed": 5,
    }
    post(client, keys.globex_admin, "/v1/dnc", {"numbers": ["+14155550003"]})
    seen: list[str] = []
    cursor = ""
    for _ in range(5):
        page = client.get(f"/v1/dnc?limit=2{cursor}", headers=keys.header(keys.acme_read))
        assert page.status_code == 200
        body = page.json()
        seen += [e["number"] for e in body["numbers"]]
        assert all(e["source"] == "crm" for e in body["numbers"])
        if body["next_cursor"] is None:
            break
        cursor = f"&cursor={body['next_cursor']}"
    assert seen == sorted(numbers)
    staff = client.get("/v1/dnc?tenant=globex", headers=keys.header(keys.staff_admin))
    assert [e["number"] for e in staff.json()["numbers"]] == ["+14155550003"]


def test_scopes_and_refusals(client: AsgiClient, keys: Keys) -> None:
    assert post(client, keys.acme_read, "/v1/dnc", {"numbers": [PERSON]}).status_code == 403
    post(client, keys.acme_send, "/v1/dnc", {"numbers": [PERSON]})
    sender = client.delete(f"/v1/dnc/{PERSON}", headers=keys.header(keys.acme_send))
    assert sender.status_code == 403  # unlisting allows contact: admin only
    other = client.delete(f"/v1/dnc/{PERSON}", headers=keys.header(keys.globex_admin))
    assert other.status_code == 404 and error_of(other)["code"] == "not_found"
    bad = post(client, keys.acme_send, "/v1/dnc", {"numbers": [NUMBER, "0800 FLOWERS"]})
    assert bad.status_code == 422 and error_of(bad)["fields"][0]["field"].startswith("numbers")
    empty = post(client, keys.acme_send, "/v1/dnc", {"numbers": []})
    assert empty.status_code == 422
    cursor = client.get("/v1/dnc?cursor=%2B1415", headers=keys.header(keys.acme_read))
    assert cursor.status_code == 422
    path = client.delete("/v1/dnc/14155550123", headers=keys.header(keys.acme_admin))
    assert path.status_code == 422
