"""Delivery receipts from a Twilio-compatible upstream.

When accepted messages go to an HTTP upstream (Twilio, or a provider that speaks
its Messages API), the upstream reports what became of each one by calling the
``StatusCallback`` URL given with the message. aupguard gives every message its
own callback URL on the gateway when ``AUPGUARD_UPSTREAM_CALLBACK_URL`` is set
(the scheme and host the upstream can reach):

    <base>/v1/upstream/twilio/status?tenant=<tenant>&message=<id>&token=<token>

The token is an HMAC of tenant and message id under
``AUPGUARD_UPSTREAM_CALLBACK_SECRET``, so the URL itself maps the upstream's
report back to aupguard's message (the upstream's own SID is not needed) and
nobody without the secret can write a receipt. Twilio's ``MessageStatus``
values map to the gateway's receipt statuses in `RECEIPT_OF`; the statuses
before hand-over (queued, sending...) change nothing.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

__all__ = ["CALLBACK_PATH", "RECEIPT_OF", "callback_url", "token", "valid_token"]

CALLBACK_PATH = "/v1/upstream/twilio/status"

RECEIPT_OF: dict[str, str | None] = {
    "accepted": None,
    "scheduled": None,
    "queued": None,
    "sending": None,
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "partially_delivered": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}
"""Twilio's MessageStatus -> the gateway's receipt status (None: nothing to record)."""


def token(secret: bytes, tenant: str, message_id: str) -> str:
    """The callback URL's proof that aupguard wrote it for this message."""
    data = f"{tenant}\n{message_id}".encode()
    return hmac.new(secret, data, hashlib.sha256).hexdigest()[:32]


def valid_token(secret: bytes, tenant: str, message_id: str, given: str) -> bool:
    return hmac.compare_digest(token(secret, tenant, message_id), given)


def callback_url(base: str, secret: bytes, tenant: str, message_id: str) -> str:
    query = urlencode(
        {"tenant": tenant, "message": message_id, "token": token(secret, tenant, message_id)}
    )
    return f"{base.rstrip('/')}{CALLBACK_PATH}?{query}"
