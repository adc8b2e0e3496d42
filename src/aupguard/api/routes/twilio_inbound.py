"""Twilio's inbound-message webhook: point a Twilio number's "A message comes in"
URL at ``https://<aupguard>/v1/inbound/twilio`` and STOP, START and HELP are
acted on in the consent ledger and answered with TwiML.

Twilio signs each webhook: ``X-Twilio-Signature`` is the Base64 HMAC-SHA1, keyed
with the account's auth token, of the URL it called followed by every POST
parameter name and value sorted by name. aupguard keeps the auth token of each
Twilio account it serves, with the tenant it belongs to
(``AUPGUARD_TWILIO_ACCOUNTS``, JSON: ``{"AC...": {"tenant": "acme",
"auth_token": "..."}}``), and refuses a request whose signature does not match,
or whose AccountSid it does not know, with 403. Behind a proxy the URL Twilio
called is not the one the server sees: set ``AUPGUARD_PUBLIC_URL`` to the
scheme and host Twilio uses (``https://aupguard.example.com``).

The answer is TwiML: ``<Response><Message>...</Message></Response>`` with the
confirmation or help text when there is one, else an empty ``<Response/>``.
A retried webhook (same MessageSid) is answered as the first time and changes
nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from xml.sax.saxutils import escape

import orjson
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.responses import Response

from aupguard.actors import Actor, Role
from aupguard.api.errors import ApiError, validation_error
from aupguard.api.routes.inbound import process_inbound
from aupguard.api.routing import Call, QueryParam, Router
from aupguard.api.services import Services
from aupguard.engine.events import Channel, InboundMessage

router = Router(
    tag="twilio-webhooks",
    description="Twilio's inbound-message webhook (signed with X-Twilio-Signature), "
    "answered with TwiML.",
)

TWIML = "application/xml"
EMPTY = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'


class TwilioAccount(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: str = Field(min_length=1, max_length=128)
    auth_token: SecretStr
    previous_auth_token: SecretStr | None = None
    """Accepted too while a rotation of the account's auth token is under way."""


class TwilioSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AUPGUARD_", extra="ignore")

    twilio_accounts: dict[str, TwilioAccount] = Field(default_factory=dict)
    public_url: str | None = None
    """Scheme and host (and port) Twilio calls, when a proxy stands in front."""


def twilio_settings(services: Services) -> TwilioSettings:
    return TwilioSettings()


class TwilioInboundForm(BaseModel):
    """The parameters Twilio posts for an incoming message (those aupguard does not
    read, such as NumMedia, FromCity or SmsSid, are accepted: they are signed too)."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, str] = Field(init=False)

    MessageSid: str = Field(min_length=1, max_length=64)
    AccountSid: str = Field(min_length=1, max_length=64)
    From: str = Field(min_length=1, max_length=320)
    To: str = Field(min_length=1, max_length=320)
    Body: str = Field(default="", max_length=1600)


def signature(token: str, url: str, params: dict[str, str]) -> str:
    """Twilio's request signature: Base64 HMAC-SHA1 of the URL and the sorted parameters."""
    data = url + "".join(name + params[name] for name in sorted(params))
    digest = hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _urls(url: str) -> list[str]:
    """The URL as given, and with the default port added or removed (Twilio signs the
    URL as configured, which a proxy or client may have written either way)."""
    scheme, sep, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    default = {"https": "443", "http": "80"}.get(scheme.lower())
    if default is None:
        return [url]
    if host.endswith(f":{default}"):
        other = host.removesuffix(f":{default}")
    elif ":" not in host:
        other = f"{host}:{default}"
    else:
        return [url]
    return [url, f"{scheme}{sep}{other}{slash}{path}"]


def _verify(call: Call, settings: TwilioSettings, form: TwilioInboundForm) -> Actor:
    refused = ApiError(
        403,
        "invalid_signature",
        "The X-Twilio-Signature header does not match this request signed with the "
        "auth token of its AccountSid.",
    )
    account = settings.twilio_accounts.get(form.AccountSid)
    given = call.header("x-twilio-signature")
    if account is None or not given:
        raise refused
    url = str(call.request.url)
    if settings.public_url:
        query = call.request.url.query
        url = (
            settings.public_url.rstrip("/") + call.request.url.path + (f"?{query}" if query else "")
        )
    params = {name: str(value) for name, value in form.model_dump(exclude_unset=True).items()}
    tokens = [account.auth_token, account.previous_auth_token]
    for token in (t.get_secret_value() for t in tokens if t is not None):
        for candidate in _urls(url):
            if hmac.compare_digest(signature(token, candidate, params).encode(), given.encode()):
                actor = Actor(
                    id=f"twilio:{form.AccountSid}",
                    roles=frozenset({Role.SENDER}),
                    tenant=account.tenant,
                )
                call.request.scope.setdefault("state", {})["actor"] = actor.id
                return actor
    raise refused


def twiml(reply: str | None) -> bytes:
    if reply is None:
        return EMPTY
    return (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Message>'
        f"{escape(reply)}</Message></Response>"
    ).encode()


@router.post(
    "/v1/inbound/twilio",
    summary="Twilio inbound-message webhook (TwiML answer)",
    body=TwilioInboundForm,
    content_types=("application/x-www-form-urlencoded",),
    form=True,
    auth=False,
    query={
        "brand": QueryParam(
            "The brand the number sends for (an opt-out then covers the brand).",
            pattern=r"^[A-Za-z0-9._:-]{1,128}$",
        )
    },
    responses={200: None},
    response_media=TWIML,
    errors=(403, 409),
)
async def twilio_inbound(call: Call) -> Response:
    """Twilio's incoming-message webhook, verified with `X-Twilio-Signature` (the
    auth token of the form's AccountSid, configured in `AUPGUARD_TWILIO_ACCOUNTS`;
    403 `invalid_signature` otherwise). STOP, START, HELP and revocation sentences
    act on the tenant's consent ledger as `POST /v1/inbound` does; the answer is
    TwiML with the confirmation or help text, or an empty `<Response/>`. A retry
    of the same MessageSid is answered as the first time and changes nothing."""
    form: TwilioInboundForm = call.body
    settings = call.services.component(twilio_settings)
    actor = _verify(call, settings, form)
    channel = Channel.WHATSAPP if form.From.startswith("whatsapp:") else Channel.SMS
    try:
        event = InboundMessage.model_validate(
            {
                "from": form.From.removeprefix("whatsapp:"),
                "to": form.To.removeprefix("whatsapp:"),
                "body": form.Body,
                "id": form.MessageSid,
                "account": actor.tenant,
                "channel": channel,
            }
        )
    except ValidationError as exc:  # "whatsapp:" and nothing after it
        raise validation_error(exc) from None
    _, answer = await process_inbound(call.services, actor, event, call.query("brand"))
    reply = orjson.loads(answer).get("reply")
    return Response(twiml(reply if isinstance(reply, str) else None), media_type=TWIML)
