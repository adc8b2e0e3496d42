"""The Twilio-compatible endpoint, driven by the official `twilio` package against a
real aupguard server (uvicorn on 127.0.0.1) that delivers to real NATS JetStream;
and its refusals, in Twilio's error shape, over ASGI."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from aupguard.actors import Actor, Role
from aupguard.api import Services, create_app
from aupguard.api.delivery import delivery_settings
from aupguard.engine.facade import Engine
from aupguard.outbox.config import DeliverySettings
from aupguard.service.gateway import OptedOutRecipients
from aupguard.service.screening import Screener
from tests.api.conftest import AsgiClient, Keys, make_services
from tests.api.test_http import PHISH
from tests.outbox.downstream import serving

OPERATOR = Actor(id="test-operator", roles=frozenset({Role.ADMIN}))
ACCOUNT = "AC" + "0" * 32
OPTED_OUT = "+14155550199"
NATS = "nats://127.0.0.1:4222"


def sdk_client(key: str, base_url: str, as_api_key: bool = True) -> Client:
    """A Twilio SDK client whose API domain is the local aupguard server."""
    key_sid, _, secret = key.partition("_")[2].partition("_")
    if as_api_key:  # API key SID + secret
        client = Client(f"aupg_{key_sid}", secret, account_sid=ACCOUNT)
    else:  # AccountSid + auth token (the whole aupguard key)
        client = Client(ACCOUNT, key)
    client.api.base_url = base_url
    return client


async def jetstream_ids(subject: str, stream: str, want: int) -> list[str]:
    """The message ids on the stream (the worker creates it with its first publish)."""
    import nats
    from nats.js.errors import NotFoundError

    nc = await nats.connect(NATS)
    js = nc.jetstream()
    ids: list[str] = []
    try:
        for _ in range(100):
            try:
                sub = await js.pull_subscribe(
                    subject, durable="t" + uuid.uuid4().hex[:6], stream=stream
                )
                break
            except NotFoundError:
                await asyncio.sleep(0.1)
        for _ in range(20):
            try:
                for msg in await sub.fetch(10, timeout=0.5):
                    ids.append(orjson.loads(msg.data)["id"])
                    await msg.ack()
            except TimeoutError:
                pass
            if len(ids) >= want:
                break
        await js.delete_stream(stream)
    finally:
        await nc.close()
    return ids


@pytest.fixture
def live(tmp_path: Path, engine: Engine) -> Iterator[tuple[str, str, Services, str, str]]:
    """(server URL, a send key, services, subject, stream) of a running aupguard."""
    tag = uuid.uuid4().hex[:8]
    subject, stream = f"aupguard.twilio.{tag}", f"AUPGUARD_TWILIO_{tag}"
    services = make_services(tmp_path, engine, access_log=False)
    services.provide(
        delivery_settings,
        DeliverySettings(downstream=f"{NATS}/{subject}?stream={stream}", delivery_poll=0.05),
    )
    services.screener = Screener(engine, sources=[OptedOutRecipients({("acme", OPTED_OUT)})])
    key = services.keys.issue(OPERATOR, "acme", ["send"], "twilio sdk").secret
    with serving(create_app(services=services)) as server:
        yield server.url, key, services, subject, stream
    services.close()


def test_the_twilio_sdk_sends_through_aupguard(live: tuple[str, str, Services, str, str]) -> None:
    url, key, _, subject, stream = live
    client = sdk_client(key, url)
    message = client.messages.create(to="+14155550123", from_="+12025550143", body="see you at 7")
    assert message.status == "queued"
    assert message.sid is not None and message.sid.startswith("SM")
    assert message.error_code is None
    assert message.account_sid == ACCOUNT
    # it reaches the downstream
    delivered = asyncio.run(jetstream_ids(subject, stream, 1))
    assert delivered == [message.sid]
    fetched = client.messages(message.sid).fetch()
    assert fetched.sid == message.sid
    assert fetched.status in ("queued", "sent")


def test_an_opted_out_recipient_raises_21610(live: tuple[str, str, Services, str, str]) -> None:
    url, key, *_ = live
    for client in (sdk_client(key, url), sdk_client(key, url, as_api_key=False)):
        with pytest.raises(TwilioRestException) as raised:
            client.messages.create(to=OPTED_OUT, from_="+12025550143", body="Flash sale!")
        assert raised.value.code == 21610
        assert raised.value.status == 400


def test_filtered_content_is_a_failed_message_with_30007(
    live: tuple[str, str, Services, str, str],
) -> None:
    url, key, *_ = live
    message = sdk_client(key, url).messages.create(
        to="+14155550123", from_="+12025550143", body=PHISH
    )
    assert message.status == "failed"
    assert message.error_code == 30007


def test_wrong_credentials_raise_20003(live: tuple[str, str, Services, str, str]) -> None:
    url, key, *_ = live
    for client in (sdk_client(key + "x", url), sdk_client(key + "x", url, as_api_key=False)):
        with pytest.raises(TwilioRestException) as raised:
            client.messages.create(to="+14155550123", from_="+12025550143", body="hi")
        assert raised.value.code == 20003
        assert raised.value.status == 401


# -- refusals in Twilio's shape, over ASGI -------------------------------------------------

PATH = f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
FORM = "application/x-www-form-urlencoded"


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{ACCOUNT}:{key}".encode()).decode()}


def twilio_error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"code", "message", "more_info", "status"}
    assert body["status"] == response.status_code
    assert body["more_info"].endswith(str(body["code"]))
    assert body["message"]
    return dict(body)


@pytest.mark.parametrize(
    ("form", "content_type", "status", "code"),
    [
        ("From=%2B12025550143&Body=hi", FORM, 400, 21604),
        ("To=%2B14155550123&Body=hi", FORM, 400, 21603),
        ("To=%2B14155550123&From=%2B12025550143", FORM, 400, 21602),
        ("To=12&From=%2B12025550143&Body=hi", FORM, 400, 21211),
        ("To=%2B14155550123&From=%2B12025550143&Body=hi&Colour=red", FORM, 400, 20001),
        ("To=%2B14155550123&To=%2B14155550124&From=x&Body=hi", FORM, 400, 400),
        ("not a form", FORM, 400, 400),
        ("To=%2B14155550123&From=%2B12025550143&Body=" + "x" * 1601, FORM, 400, 21617),
        ('{"To": "+14155550123"}', "application/json", 415, 415),
        ("To=%2B1&Body=" + "x" * 1_048_576, FORM, 413, 413),
    ],
)
def test_bad_requests_get_twilio_errors(
    client: AsgiClient, keys: Keys, form: str, content_type: str, status: int, code: int
) -> None:
    r = client.post(
        PATH, content=form.encode(), headers={**basic(keys.acme_send), "Content-Type": content_type}
    )
    assert r.status_code == status, r.text
    assert twilio_error(r)["code"] == code


def test_missing_or_foreign_credentials_are_20003(client: AsgiClient, keys: Keys) -> None:
    form = {"To": "+14155550123", "From": "+12025550143", "Body": "hi"}
    r = client.post(PATH, data=form)
    assert r.status_code == 401 and twilio_error(r)["code"] == 20003
    # the Basic user must be the AccountSid of the path (or an API key SID)
    other = "Basic " + base64.b64encode(f"ACother:{keys.acme_send}".encode()).decode()
    r = client.post(PATH, data=form, headers={"Authorization": other})
    assert r.status_code == 401 and twilio_error(r)["code"] == 20003
    # a bearer key is not Basic
    r = client.post(PATH, data=form, headers=keys.header(keys.acme_send))
    assert r.status_code == 401


def test_another_tenants_message_is_20404(client: AsgiClient, keys: Keys) -> None:
    form = {"To": "+14155550123", "From": "+12025550143", "Body": "hi"}
    sent = client.post(PATH, data=form, headers=basic(keys.acme_send))
    assert sent.status_code == 201
    sid = sent.json()["sid"]
    url = f"/2010-04-01/Accounts/{ACCOUNT}/Messages/{sid}.json"
    assert client.get(url, headers=basic(keys.acme_read)).json()["sid"] == sid
    r = client.get(url, headers=basic(keys.globex_admin))
    assert r.status_code == 404 and twilio_error(r)["code"] == 20404


def test_status_callback_is_recorded_for_a_failed_message(
    client: AsgiClient, keys: Keys, services: Services
) -> None:
    from aupguard.api.delivery import gateway_for

    form = {
        "To": "+14155550123",
        "From": "+12025550143",
        "Body": PHISH,
        "StatusCallback": "https://example.test/status",
    }
    r = client.post(PATH, data=form, headers=basic(keys.acme_send))
    assert r.json()["status"] == "failed"
    store = services.component(gateway_for).store
    assert store.pending() == 1  # the callback, not a delivery
