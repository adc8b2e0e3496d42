"""The events the engine judges.

Events are validated once, at the boundary (HTTP, CLI, library caller), with
pydantic. Inside the engine they are read-only values. Every event carries the
tenant (`account`) it belongs to and the moment it happened (`at`); the engine
never reads a clock of its own.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


class EventKind(StrEnum):
    MESSAGE = "message"
    INBOUND = "inbound"
    CALL = "call"
    CDR = "cdr"
    API_REQUEST = "api_request"
    SIGNUP = "signup"


class Channel(StrEnum):
    SMS = "sms"
    MMS = "mms"
    WHATSAPP = "whatsapp"
    RCS = "rcs"
    CHAT = "chat"
    EMAIL = "email"
    VOICE = "voice"


class SenderType(StrEnum):
    LONG_CODE = "long_code"
    TOLL_FREE = "toll_free"
    SHORT_CODE = "short_code"
    TEN_DLC = "10dlc"
    ALPHANUMERIC = "alphanumeric"
    WHATSAPP_BUSINESS = "whatsapp_business"
    P2P = "p2p"
    EMAIL_ADDRESS = "email_address"
    OTHER = "other"


class MessageCategory(StrEnum):
    """What the sender declares the message to be (campaign use case)."""

    MARKETING = "marketing"
    TRANSACTIONAL = "transactional"
    OTP = "otp"
    CONVERSATIONAL = "conversational"
    ALERT = "alert"
    UNKNOWN = "unknown"


_FROZEN = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)

Text = Annotated[str, Field(max_length=10_000_000)]
Address = Annotated[str, Field(min_length=1, max_length=320)]


class Media(BaseModel):
    """An attachment. Content may be given inline (bytes) or by reference."""

    model_config = _FROZEN

    url: str | None = None
    content_type: str | None = None
    size: int | None = Field(default=None, ge=0)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    filename: str | None = None
    data: bytes | None = None


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")


def _rfc3339(value: object) -> object:
    if isinstance(value, int | float) or (isinstance(value, str) and not _RFC3339.fullmatch(value)):
        raise ValueError("give the time as RFC 3339 with its offset (e.g. 2026-11-20T14:05:00Z)")
    return value


Timestamp = Annotated[datetime, BeforeValidator(_rfc3339)]
"""A point in time: a datetime, or an RFC 3339 string with its UTC offset, as the API
documents. Bare numbers ("is it seconds or milliseconds?"), dates without a time and
times without an offset are refused rather than guessed at."""


class _Event(BaseModel):
    model_config = _FROZEN

    id: str | None = Field(default=None, max_length=128)
    account: str = Field(default="default", min_length=1, max_length=128)
    at: Timestamp | None = None
    metadata: dict[str, str] = Field(default_factory=dict)


class OutboundMessage(_Event):
    kind: Literal["message"] = "message"
    channel: Channel = Channel.SMS
    sender: Address = Field(alias="from")
    to: Address
    body: Text = ""
    media: tuple[Media, ...] = ()
    sender_type: SenderType = SenderType.LONG_CODE
    category: MessageCategory = MessageCategory.UNKNOWN
    campaign: str | None = None
    brand: str | None = None
    api_key: str | None = None
    source_ip: str | None = None
    segments: int | None = Field(default=None, ge=0)

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class InboundMessage(_Event):
    """A reply from a recipient to one of the platform's senders."""

    kind: Literal["inbound"] = "inbound"
    channel: Channel = Channel.SMS
    sender: Address = Field(alias="from")
    to: Address
    body: Text = ""
    media: tuple[Media, ...] = ()

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class CallAttempt(_Event):
    """A call about to be placed (or received, when `direction` is inbound)."""

    kind: Literal["call"] = "call"
    caller: Address = Field(alias="from")
    to: Address
    direction: Literal["outbound", "inbound"] = "outbound"
    trunk: str | None = None
    recorded: bool = False
    recording_consent: bool = False
    identity_header: str | None = Field(default=None, max_length=16_384)
    region: str | None = Field(default=None, min_length=2, max_length=2)

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class CallRecord(_Event):
    """A call detail record (CDR) of a call that happened."""

    kind: Literal["cdr"] = "cdr"
    caller: Address = Field(alias="from")
    to: Address
    start: Timestamp
    answer: Timestamp | None = None
    end: Timestamp
    disposition: str = "answered"
    trunk: str | None = None

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class ApiRequest(_Event):
    kind: Literal["api_request"] = "api_request"
    method: str = Field(max_length=16)
    path: str = Field(max_length=2048)
    status: int | None = Field(default=None, ge=100, le=599)
    api_key: str | None = None
    source_ip: str | None = None
    country: str | None = Field(default=None, min_length=2, max_length=2)
    user_agent: str | None = Field(default=None, max_length=512)


class AccountSignup(_Event):
    kind: Literal["signup"] = "signup"
    email: str = Field(max_length=320)
    company: str | None = Field(default=None, max_length=256)
    country: str | None = Field(default=None, min_length=2, max_length=2)
    source_ip: str | None = None
    website: str | None = Field(default=None, max_length=2048)


Event = Annotated[
    OutboundMessage | InboundMessage | CallAttempt | CallRecord | ApiRequest | AccountSignup,
    Field(discriminator="kind"),
]
"""Any event; a JSON object's `kind` field selects the model (default: message)."""

EVENT_MODELS: dict[EventKind, type[_Event]] = {
    EventKind.MESSAGE: OutboundMessage,
    EventKind.INBOUND: InboundMessage,
    EventKind.CALL: CallAttempt,
    EventKind.CDR: CallRecord,
    EventKind.API_REQUEST: ApiRequest,
    EventKind.SIGNUP: AccountSignup,
}

AnyEvent = OutboundMessage | InboundMessage | CallAttempt | CallRecord | ApiRequest | AccountSignup


def event_text(event: AnyEvent) -> str:
    """The free text of an event that content rules read (empty when it has none)."""
    if isinstance(event, OutboundMessage | InboundMessage):
        return event.body
    return ""
