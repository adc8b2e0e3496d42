"""Telling customers what was done to their accounts: contacts and webhook delivery.

Every enforcement action, incident and report step writes its notifications
to the record store in the same transaction as the action (`Enforcement.notify`):
an e-mail and a webhook whose JSON body is signed with the platform's Ed25519
key. This module delivers the webhooks:

* an account names where to be told (`Contact`: a webhook URL, an e-mail
  address), set by its admin or by staff, audited;
* `deliver` POSTs each due webhook to its account's URL with the exact signed
  bytes as the body and the signature, key id, topic and delivery id in
  headers. A 2xx answer marks it sent; anything else (an error status, a
  timeout, a refused connection) is tried again later with exponential backoff,
  and after the last attempt it is marked failed (a dead letter staff can
  list). A webhook of an account without a URL waits, looked at again hourly.

The receiver checks `X-Aupguard-Signature` over the raw body with the
platform's public key (printed by `aupguard audit keygen`); the delivery id makes a
repeated delivery recognisable (delivery is at least once: a crash between
the answer and the record sends it again).

E-mails stay in the outbox for a mail transport, which aupguard does not
include.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from aupguard.actors import Actor, Role
from aupguard.audit.chain import AuditDraft, canonical
from aupguard.enforcement.records import Contact, OutboxMessage
from aupguard.enforcement.service import STAFF, SYSTEM, Enforcement

__all__ = [
    "ATTEMPTS",
    "Delivered",
    "backoff",
    "contact",
    "deliver",
    "set_contact",
]

ATTEMPTS = 8
"""Attempts before a webhook is a dead letter (the last about 1 h 4 min after the first)."""
_FIRST_WAIT = 30.0
_MAX_WAIT = 3600.0
_NO_CONTACT_WAIT = timedelta(hours=1)
_TIMEOUT = 10.0


def backoff(attempts: int) -> timedelta:
    """The wait after `attempts` failed attempts: 30 s, 1 min, 2 min ... at most 1 h."""
    return timedelta(seconds=min(_MAX_WAIT, _FIRST_WAIT * 2 ** max(0, attempts - 1)))


def contact(svc: Enforcement, actor: Actor, tenant: str) -> Contact | None:
    svc.guard(actor, *STAFF, Role.TENANT_ADMIN, action="see the account's contact", tenant=tenant)
    return svc.store.get(Contact, tenant, tenant)


def set_contact(
    svc: Enforcement,
    actor: Actor,
    tenant: str,
    *,
    webhook_url: str | None,
    email: str | None,
    now: datetime | None = None,
) -> Contact:
    """Set where the account is told of actions (None clears a field); audited."""
    svc.guard(actor, *STAFF, Role.TENANT_ADMIN, action="set the account's contact", tenant=tenant)
    when = svc.now(now)
    old = svc.store.get(Contact, tenant, tenant)
    made = Contact(
        tenant=tenant,
        id=tenant,
        created=old.created if old else when,
        updated=when,
        webhook_url=webhook_url,
        email=email,
    )
    payload = {"webhook_url": webhook_url, "email": email}
    svc.store.put([made], [svc.draft(actor, tenant, "contact.set", tenant, payload)])
    return made


@dataclass
class Delivered:
    """What one delivery round did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    waiting: int = 0
    """Webhooks of accounts without a URL."""


def deliver(
    svc: Enforcement,
    client: httpx.Client,
    *,
    now: datetime | None = None,
    limit: int = 100,
    attempts: int = ATTEMPTS,
) -> Delivered:
    """Deliver the webhooks that are due (oldest first, at most `limit`)."""
    when = svc.now(now)
    done = Delivered()
    for message in svc.store.find_any(
        OutboxMessage, status="pending", due_before=when, limit=limit
    ):
        found = svc.store.get(Contact, message.tenant, message.tenant)
        if found is None or found.webhook_url is None:
            done.waiting += 1
            _save(svc, message, next_attempt=when + _NO_CONTACT_WAIT)
            continue
        error = _post(client, found.webhook_url, message)
        if error is None:
            done.sent += 1
            _save(svc, message, status="sent", updated=when, next_attempt=None, last_error=None)
        elif message.attempts + 1 >= attempts:
            done.failed += 1
            why = {"topic": message.topic, "error": error, "attempts": attempts}
            dead = svc.draft(SYSTEM, message.tenant, "notification.failed", message.id, why)
            _save(
                svc,
                message,
                [dead],
                status="failed",
                attempts=attempts,
                last_error=error,
                updated=when,
            )
        else:
            done.retrying += 1
            tried = message.attempts + 1
            _save(
                svc,
                message,
                attempts=tried,
                next_attempt=when + backoff(tried),
                last_error=error,
                updated=when,
            )
    return done


def _post(client: httpx.Client, url: str, message: OutboxMessage) -> str | None:
    """POST one webhook; None when the receiver took it, else why not."""
    headers = {
        "Content-Type": "application/json",
        "X-Aupguard-Topic": message.topic,
        "X-Aupguard-Delivery": message.id,
    }
    if message.signature is not None and message.key_id is not None:
        headers["X-Aupguard-Signature"] = message.signature
        headers["X-Aupguard-Key-Id"] = message.key_id
    try:
        answer = client.post(
            url, content=canonical(message.body), headers=headers, timeout=_TIMEOUT
        )
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    if 200 <= answer.status_code < 300:
        return None
    return f"HTTP {answer.status_code}"


def _save(
    svc: Enforcement, message: OutboxMessage, audit: list[AuditDraft] | None = None, **changes: Any
) -> None:
    svc.store.put([message.model_copy(update=changes)], audit or ())
