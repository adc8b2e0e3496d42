"""Delivery receipts from a Twilio-compatible upstream (see `aupguard.outbox.upstream`):
the ``StatusCallback`` URL each delivered message carries when
``AUPGUARD_UPSTREAM_CALLBACK_URL`` is set."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from aupguard.actors import Actor, Role
from aupguard.api.delivery import delivery_settings, gateway_for
from aupguard.api.errors import ApiError
from aupguard.api.routing import Call, QueryParam, Router
from aupguard.outbox.upstream import CALLBACK_PATH, RECEIPT_OF, valid_token
from aupguard.service.gateway import MessageNotFound, record_receipt

router = Router(
    tag="upstream",
    description="Delivery receipts from an HTTP upstream (Twilio's status callbacks).",
)

_ID = r"^[A-Za-z0-9._:@-]{1,128}$"


class TwilioStatusForm(BaseModel):
    """The parameters of Twilio's message status callback (others it sends, such as
    SmsSid, From or ApiVersion, are accepted and ignored)."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, str] = Field(init=False)

    MessageSid: str = Field(min_length=1, max_length=64)
    MessageStatus: Literal[
        "accepted", "scheduled", "queued", "sending", "sent", "delivered", "read",
        "partially_delivered", "undelivered", "failed", "canceled",
    ]  # fmt: skip
    ErrorCode: str = Field(default="", pattern=r"^[0-9]{0,5}$", description="Empty when none.")


@router.post(
    CALLBACK_PATH,
    summary="An upstream's delivery receipt (Twilio status callback)",
    body=TwilioStatusForm,
    content_types=("application/x-www-form-urlencoded",),
    form=True,
    auth=False,
    query={
        "tenant": QueryParam("The message's tenant.", required=True, pattern=_ID),
        "message": QueryParam("aupguard's message id.", required=True, pattern=_ID),
        "token": QueryParam(
            "Proof that aupguard wrote this URL.", required=True, pattern=r"^[0-9a-f]{32}$"
        ),
    },
    errors=(403, 409),
)
async def upstream_status(call: Call) -> dict[str, Any]:
    """The upstream reports what became of a message it was handed: `sent`,
    `delivered` (also for `read`), `undelivered` or `failed` (also `canceled`),
    with its error code; the message's status is updated and its own status
    callback called as for `POST /v1/messages/{id}/status`. Statuses before
    hand-over (queued, sending...) change nothing. The URL's token must be the one
    aupguard gave the message (403 `invalid_token`)."""
    form: TwilioStatusForm = call.body
    settings = call.services.component(delivery_settings)
    tenant, message = call.query("tenant") or "", call.query("message") or ""
    secret = settings.upstream_callback_secret
    if secret is None or not valid_token(
        secret.get_secret_value().encode(), tenant, message, call.query("token") or ""
    ):
        raise ApiError(
            403,
            "invalid_token",
            "This callback URL was not issued by this gateway for that message.",
        )
    gateway = call.services.component(gateway_for)
    status = RECEIPT_OF[form.MessageStatus]
    if status is None:
        found = await run_in_threadpool(gateway.store.message, tenant, message)
        if found is None:
            raise MessageNotFound(message)
        return {"id": found.id, "status": found.status}
    upstream = Actor(id="upstream", roles=frozenset({Role.SENDER}), tenant=tenant)
    updated = await run_in_threadpool(
        record_receipt, gateway, upstream, message, status, int(form.ErrorCode or 0) or None
    )
    return {"id": updated.id, "status": updated.status}
