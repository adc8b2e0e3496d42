"""Small constructors for events used across the tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aupguard import CallAttempt, InboundMessage, OutboundMessage

SENDER = "+12025550143"
RECIPIENT = "+14155550123"
NOON_NY = datetime(2026, 6, 2, 16, 0, tzinfo=UTC)


def message(body: str = "", **fields: Any) -> OutboundMessage:
    data: dict[str, Any] = {"from": SENDER, "to": RECIPIENT, "body": body, "at": NOON_NY}
    data.update(fields)
    return OutboundMessage.model_validate(data)


def inbound(body: str, **fields: Any) -> InboundMessage:
    data: dict[str, Any] = {"from": RECIPIENT, "to": SENDER, "body": body, "at": NOON_NY}
    data.update(fields)
    return InboundMessage.model_validate(data)


def call(to: str, **fields: Any) -> CallAttempt:
    data: dict[str, Any] = {"from": SENDER, "to": to, "at": NOON_NY}
    data.update(fields)
    return CallAttempt.model_validate(data)
