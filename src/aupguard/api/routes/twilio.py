"""Twilio-compatible Messages endpoint: point a Twilio SDK at aupguard and every
message is screened, recorded and forwarded, or refused with a code the
sender's code already handles.

    POST /2010-04-01/Accounts/{AccountSid}/Messages.json      (form: To, From, Body...)
    GET  /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json

HTTP Basic authentication maps to aupguard API keys: user = the AccountSid and
password = a whole aupguard key (``aupg_<id>_<secret>``), or user = ``aupg_<id>``
(like Twilio's API key SID) and password = the key's secret. The key's tenant
is the sender; the AccountSid is recorded and passed on to an HTTP downstream.

Refusals (Twilio's codes; see ../shared/REFERENCE-DATA.md):
- at send, HTTP 400 in Twilio's error shape: 21610 (recipient opted out), 21408
  (region not permitted), 21612 (To/From pair not allowed), 21211 (invalid To),
  and the form errors 21602/21603/21604/20001;
- HTTP 429 with 20429 and Retry-After when a rate limit is reached;
- HTTP 401 20003 for missing or wrong credentials;
- other blocks (30007 filtered content, 30450 pumping, 30002 suspended...): the
  message is created with status ``failed`` and that error_code, and its
  StatusCallback (if any) is called, as Twilio does for carrier filtering.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from email.utils import format_datetime
from typing import Any

import orjson
import phonenumbers
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from aupguard.actors import Actor
from aupguard.api.delivery import gateway_for
from aupguard.api.errors import ApiError
from aupguard.api.routing import Call, Router
from aupguard.api.send_path import send_path
from aupguard.api.services import Services
from aupguard.engine.decision import Decision, Verdict
from aupguard.engine.events import Channel, Media, OutboundMessage
from aupguard.identity.numbering import parse_number
from aupguard.outbox.model import MessageRecord
from aupguard.service.gateway import (
    MessageNotFound,
    commit_send,
    get_message,
    prepare_send,
)

router = Router(
    tag="twilio",
    description="Twilio-compatible Messages API (point a Twilio SDK's base URL here).",
)

API_VERSION = "2010-04-01"
AT_SEND = frozenset({21610, 21408, 21612, 21211})
"""Codes Twilio answers at send time with HTTP 400 (the rest: a failed message)."""
TEXTS = {
    20001: "Unknown parameter",
    20003: "Authentication Error - invalid username or password",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    21211: "Invalid 'To' Phone Number",
    21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number",
    21602: "Message body is required",
    21603: "A 'From' phone number is required",
    21604: "A 'To' phone number is required",
    21610: "Attempt to send to unsubscribed recipient",
    21612: "The 'To' phone number is not currently reachable via SMS",
    21617: "The concatenated message body exceeds the 1600 character limit",
    30007: "Message filtered",
    30450: "Message blocked by SMS pumping protection",
    30002: "Account suspended",
}
_BY_STATUS = {401: 20003, 404: 20404, 429: 20429}


class TwilioError(BaseModel):
    """Twilio's error answer."""

    code: int
    message: str
    more_info: str
    status: int


class TwilioMessage(BaseModel):
    """Twilio's Message resource (the fields its SDKs read)."""

    sid: str
    account_sid: str
    api_version: str
    body: str
    date_created: str
    date_updated: str
    date_sent: str | None
    direction: str
    error_code: int | None
    error_message: str | None
    from_: str | None = Field(alias="from")
    messaging_service_sid: str | None
    num_media: str
    num_segments: str
    price: str | None
    price_unit: str
    status: str
    subresource_uris: dict[str, str]
    to: str
    uri: str


class MessagesForm(BaseModel):
    """The form fields of Twilio's Create Message (unknown fields are refused with 20001;
    those aupguard does not act on are accepted and ignored)."""

    model_config = ConfigDict(extra="forbid")

    To: str = Field(max_length=320)
    From: str | None = Field(default=None, max_length=320)
    MessagingServiceSid: str | None = Field(default=None, max_length=64)
    Body: str | None = Field(default=None, max_length=1600)
    MediaUrl: list[str] = Field(default_factory=list, max_length=10)
    StatusCallback: str | None = Field(default=None, max_length=2048)
    ApplicationSid: str | None = None
    MaxPrice: str | None = None
    ProvideFeedback: str | None = None
    Attempt: str | None = None
    ValidityPeriod: str | None = None
    ForceDelivery: str | None = None
    ContentRetention: str | None = None
    AddressRetention: str | None = None
    SmartEncoded: str | None = None
    PersistentAction: list[str] = Field(default_factory=list)
    ShortenUrls: str | None = None
    ScheduleType: str | None = None
    SendAt: str | None = None
    SendAsMms: str | None = None
    ContentSid: str | None = None
    ContentVariables: str | None = None
    RiskCheck: str | None = None


def twilio_error(code: int, status: int, message: str | None = None) -> Response:
    body = {
        "code": code,
        "message": message or TEXTS.get(code, "Error"),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def render_error(error: ApiError, _request_id: str | None) -> Response:
    """aupguard's refusals in Twilio's shape, with Twilio's code where it has one for
    the case, else the HTTP status as the code (what Twilio's SDKs assume when an
    answer has none): malformed form 400, body too large 413, wrong type 415."""
    code = _BY_STATUS.get(error.status, error.status)
    message = error.message
    if error.code == "validation_failed":
        code, message = _form_code(error)
    response = twilio_error(code, error.status if error.status != 422 else 400, message)
    response.headers.update(error.headers)
    return response


def _form_code(error: ApiError) -> tuple[int, str]:
    for field in error.fields:
        if field["code"] == "unknown_field":
            return 20001, f"Unknown parameter: {field['field']}"
    for field in error.fields:
        name = field["field"].split(".")[0]
        if name == "To":
            return 21604, TEXTS[21604]
        if name == "Body" and field["code"] == "string_too_long":
            return 21617, TEXTS[21617]
    named = ", ".join(f["field"] for f in error.fields) or "the form"
    return 400, f"Invalid parameters: {named}"


async def basic_auth(request: Request, services: Services) -> Actor:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    wrong = ApiError(
        401,
        "invalid_api_key",
        TEXTS[20003],
        headers={"WWW-Authenticate": 'Basic realm="Twilio API"'},
    )
    if scheme.lower() != "basic" or not token:
        raise wrong
    try:
        user, _, password = base64.b64decode(token, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise wrong from None
    account = request.path_params.get("AccountSid", "")
    if user.startswith("aupg_") and "_" not in user[5:]:
        presented = f"{user}_{password}"  # API key SID + secret
    elif user == account:
        presented = password
    else:
        raise wrong
    found = services.keys.cached(presented)
    if found is False:
        found = await run_in_threadpool(services.keys.authenticate, presented)
    if not isinstance(found, Actor):
        raise wrong
    return found


def _channel(to: str) -> tuple[Channel, str]:
    if to.startswith("whatsapp:"):
        return Channel.WHATSAPP, to.removeprefix("whatsapp:")
    return Channel.SMS, to


def _valid_number(number: str) -> bool:
    try:
        parsed = parse_number(number)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_possible_number(parsed))


def twilio_status(decision: Decision) -> tuple[str | None, int | None]:
    verdict = decision.verdict
    if verdict is Verdict.ALLOW:
        return "queued", None
    if verdict is Verdict.HOLD:
        return "accepted", None
    if verdict is Verdict.THROTTLE:
        return None, 20429
    code = decision.code or 30007
    return ("blocked" if code in AT_SEND else "failed"), code


def _date(value: datetime) -> str:
    return format_datetime(value, usegmt=True)


def resource(
    message: MessageRecord, body: str, account: str, service: str | None
) -> dict[str, Any]:
    uri = f"/{API_VERSION}/Accounts/{account}/Messages/{message.id}.json"
    return {
        "sid": message.id,
        "account_sid": account,
        "api_version": API_VERSION,
        "body": body,
        "date_created": _date(message.created_at),
        "date_updated": _date(message.updated_at),
        "date_sent": None,
        "direction": "outbound-api",
        "error_code": message.error_code,
        "error_message": TEXTS.get(message.error_code) if message.error_code else None,
        "from": message.sender,
        "messaging_service_sid": service,
        "num_media": str(message.num_media),
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "status": message.status,
        "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
        "to": message.recipient
        if message.channel != "whatsapp"
        else f"whatsapp:{message.recipient}",
        "uri": uri,
    }


@router.post(
    "/2010-04-01/Accounts/{AccountSid}/Messages.json",
    summary="Create a message (Twilio-compatible)",
    body=MessagesForm,
    content_types=("application/x-www-form-urlencoded",),
    responses={201: TwilioMessage},
    errors=(429,),
    form=True,
    form_lists=frozenset({"MediaUrl", "PersistentAction"}),
    authenticator=basic_auth,
    render_error=render_error,
    error_model=TwilioError,
    security="twilioBasic",
)
async def create_message(call: Call) -> Response:
    """Twilio's Create Message: screened, recorded and queued for delivery before the
    answer (201 with status `queued`), or refused with Twilio's codes (see the module
    documentation). The key needs the `send` or `admin` scope."""
    form: MessagesForm = call.body
    account = call.path("AccountSid")
    if not form.From and not form.MessagingServiceSid:
        return twilio_error(21603, 400)
    if not form.Body and not form.MediaUrl:
        return twilio_error(21602, 400)
    channel, to = _channel(form.To)
    if not _valid_number(to):
        return twilio_error(21211, 400, f"The 'To' number {form.To} is not a valid phone number.")
    sender = (form.From or f"service:{form.MessagingServiceSid}").removeprefix("whatsapp:")
    event = OutboundMessage(
        **{"from": sender},
        to=to,
        body=form.Body or "",
        channel=channel,
        media=tuple(Media(url=u) for u in form.MediaUrl),
    )
    gateway = call.services.component(gateway_for)
    prepared = prepare_send(
        gateway,
        call.services.component(send_path).screener,
        call.actor,
        event,
        status_callback=form.StatusCallback,
        statuses=twilio_status,
        api="twilio",
        account_sid=account,
    )
    await commit_send(gateway, prepared)
    message = prepared.message
    if message is None:
        retry = prepared.decision.retry_after or 1.0
        response = twilio_error(20429, 429)
        response.headers["Retry-After"] = str(max(1, round(retry)))
        return response
    if message.status == "blocked":
        code = message.error_code or 30007
        return twilio_error(code, 400)
    data = resource(message, form.Body or "", account, form.MessagingServiceSid)
    return Response(orjson.dumps(data), status_code=201, media_type="application/json")


@router.get(
    "/2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}.json",
    summary="Fetch a message (Twilio-compatible)",
    responses={200: TwilioMessage},
    authenticator=basic_auth,
    render_error=render_error,
    error_model=TwilioError,
    security="twilioBasic",
)
async def fetch_message(call: Call) -> Response:
    """Twilio's Fetch Message: the message's current status (queued, sent,
    delivered, failed...) and error code. The body is not kept, so it reads empty."""
    gateway = call.services.component(gateway_for)
    try:
        found = await run_in_threadpool(
            get_message, gateway.store, call.actor, call.path("MessageSid")
        )
    except MessageNotFound:
        return twilio_error(20404, 404)
    data = resource(found, "", call.path("AccountSid"), None)
    return Response(orjson.dumps(data), media_type="application/json")
