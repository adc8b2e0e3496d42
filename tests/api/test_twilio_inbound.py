"""Twilio's inbound-message webhook: signatures computed by the official `twilio`
package's RequestValidator, TwiML answers read as XML, the ledger the send path reads."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree

import httpx
import pytest
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from aupguard.api import Services
from aupguard.api.routes.inbound import consent_ledger
from aupguard.api.routes.twilio_inbound import TwilioAccount, TwilioSettings, twilio_settings
from tests.api.conftest import AsgiClient, Keys
from tests.api.test_http import error_of

ACCOUNT = "AC" + "1" * 32
OTHER_ACCOUNT = "AC" + "2" * 32
TOKEN = "0123456789abcdef0123456789abcdef"
PERSON = "+14155550123"
NUMBER = "+12025550143"
URL = "http://testserver/v1/inbound/twilio"


@pytest.fixture(autouse=True)
def accounts(services: Services) -> None:
    services.provide(
        twilio_settings,
        TwilioSettings(
            twilio_accounts={
                ACCOUNT: TwilioAccount(tenant="acme", auth_token=SecretStr(TOKEN)),
                OTHER_ACCOUNT: TwilioAccount(tenant="globex", auth_token=SecretStr("f" * 32)),
            }
        ),
    )


def params(body: str, sid: str = "SM" + "a" * 32, account: str = ACCOUNT) -> dict[str, str]:
    """The parameters Twilio posts for an incoming SMS (a realistic subset)."""
    return {
        "ToCountry": "US",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "SmsSid": sid,
        "SmsStatus": "received",
        "Body": body,
        "To": NUMBER,
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": account,
        "From": PERSON,
        "ApiVersion": "2010-04-01",
    }


def webhook(
    client: AsgiClient,
    form: dict[str, str],
    *,
    token: str = TOKEN,
    url: str = URL,
    signed: dict[str, str] | None = None,
    path: str = "/v1/inbound/twilio",
) -> httpx.Response:
    sig = RequestValidator(token).compute_signature(url, signed or form)
    return client.post(
        path,
        content=urlencode(form),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": sig,
        },
    )


def message_of(response: httpx.Response) -> str | None:
    assert response.headers["content-type"].startswith("application/xml")
    root = ElementTree.fromstring(response.content)
    assert root.tag == "Response"
    found = root.find("Message")
    return None if found is None else found.text


def test_stop_is_confirmed_in_twiml_and_the_next_send_refused(
    client: AsgiClient, keys: Keys
) -> None:
    r = webhook(client, params("STOP"))
    assert r.status_code == 200, r.text
    assert message_of(r) == (
        f"{NUMBER}: you are unsubscribed and will receive no more messages. "
        "Reply START to resubscribe."
    )
    screen = client.post(
        "/v1/screen",
        json={"from": NUMBER, "to": PERSON, "body": "see you at 7"},
        headers=Keys.header(keys.acme_send),
    )
    assert screen.json()["code"] == 21610
    globex = client.post(
        "/v1/screen",
        json={"from": NUMBER, "to": PERSON, "body": "see you at 7"},
        headers=Keys.header(keys.globex_admin),
    )
    assert globex.json()["verdict"] == "allow"  # the AccountSid's tenant only


def test_help_start_and_other_text(client: AsgiClient) -> None:
    assert (message_of(webhook(client, params("help", "SM1"))) or "").endswith(
        "Reply STOP to unsubscribe."
    )
    assert message_of(webhook(client, params("see you then", "SM2"))) is None
    assert message_of(webhook(client, params("STOP", "SM3"))) is not None
    assert "you are subscribed" in (message_of(webhook(client, params("Start", "SM4"))) or "")


def test_a_retried_webhook_is_answered_alike_and_acted_on_once(
    client: AsgiClient, services: Services
) -> None:
    first = webhook(client, params("STOP", "SMretry"))
    again = webhook(client, params("STOP", "SMretry"))
    assert again.status_code == 200
    assert again.content == first.content
    assert message_of(again) is not None  # the confirmation, not "nothing changed"
    ledger, _ = services.component(consent_ledger)
    assert len(ledger.history("acme", PERSON)) == 1


def test_the_brand_in_the_url_is_the_opt_outs_scope(client: AsgiClient, services: Services) -> None:
    form = params("stop please")
    r = webhook(client, form, url=URL + "?brand=acme", path="/v1/inbound/twilio?brand=acme")
    assert message_of(r) == (
        "acme: you are unsubscribed and will receive no more messages. Reply START to resubscribe."
    )
    ledger, _ = services.component(consent_ledger)
    assert [e.scope for e in ledger.history("acme", PERSON)] == ["brand:acme"]


def bad(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "invalid_signature"
    return error


def test_bad_signatures_are_refused_and_change_nothing(
    client: AsgiClient, services: Services
) -> None:
    bad(webhook(client, params("STOP"), token="0" * 32))  # another token
    bad(webhook(client, params("STOP"), signed=params("HELLO")))  # body changed after signing
    bad(webhook(client, params("STOP"), url="http://testserver/elsewhere"))  # another URL
    bad(webhook(client, params("STOP", account="AC" + "9" * 32)))  # unknown account
    # another account's token cannot speak for this account
    bad(webhook(client, params("STOP"), token="f" * 32))
    unsigned = client.post(
        "/v1/inbound/twilio",
        content=urlencode(params("STOP")),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    bad(unsigned)
    ledger, _ = services.component(consent_ledger)
    assert ledger.history("acme", PERSON) == []


def test_behind_a_proxy_the_public_url_is_signed(client: AsgiClient, services: Services) -> None:
    settings = services.component(twilio_settings)
    services.provide(
        twilio_settings, settings.model_copy(update={"public_url": "https://gw.example.com"})
    )
    public = "https://gw.example.com/v1/inbound/twilio"
    assert message_of(webhook(client, params("STOP", "SMp1"), url=public)) is not None
    # Twilio may sign the URL with the default port written out
    assert (
        webhook(
            client, params("HELP", "SMp2"), url="https://gw.example.com:443/v1/inbound/twilio"
        ).status_code
        == 200
    )
    bad(webhook(client, params("STOP", "SMp3")))  # the server's own URL is not what Twilio called


def test_a_missing_parameter_is_named(client: AsgiClient) -> None:
    form = params("STOP")
    del form["From"]
    r = webhook(client, form)
    assert r.status_code == 422
    assert [f["field"] for f in error_of(r)["fields"]] == ["From"]


def test_accounts_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AUPGUARD_TWILIO_ACCOUNTS",
        f'{{"{ACCOUNT}": {{"tenant": "acme", "auth_token": "{TOKEN}"}}}}',
    )
    settings = TwilioSettings()
    assert settings.twilio_accounts[ACCOUNT].tenant == "acme"
    assert settings.twilio_accounts[ACCOUNT].auth_token.get_secret_value() == TOKEN
    assert TOKEN not in repr(settings)
