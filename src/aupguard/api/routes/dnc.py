"""The tenant's internal do-not-contact list over HTTP (the list the send path reads
with the platform-wide one; `aupguard dnc import` loads large files):

- `POST /v1/dnc`: list numbers (`send` or `admin` scope);
- `GET /v1/dnc`: the list by number, paged with a keyset cursor (`read` and up);
- `DELETE /v1/dnc/{number}`: unlist one number (`admin` scope: it allows contact).

Every change takes effect at the next send on every worker (consent versions).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from aupguard.api.delivery import gateway_for
from aupguard.api.errors import ApiError, register_error
from aupguard.api.routes.consent import E164
from aupguard.api.routes.inbound import consent_ledger
from aupguard.api.routes.messages import TENANT
from aupguard.api.routing import Call, QueryParam, Router, created
from aupguard.consent.source import recipient_key
from aupguard.service.consent import (
    DncNotListed,
    do_not_contact,
    list_do_not_contact,
    remove_do_not_contact,
)

router = Router(tag="do-not-contact", description="The tenant's internal do-not-contact list.")

register_error(DncNotListed, 404, "not_found")

MAX_NUMBERS = 1000

Number = Annotated[str, StringConstraints(pattern=E164, max_length=16)]


class DncIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    numbers: list[Number] = Field(
        min_length=1,
        max_length=MAX_NUMBERS,
        description=f"E.164 numbers (+14155550123), 1 to {MAX_NUMBERS}.",
    )
    source: str = Field(
        default="api", min_length=1, max_length=256, description="Where the request came from."
    )

    @field_validator("numbers")
    @classmethod
    def _numbers(cls, values: list[str]) -> list[str]:
        return [recipient_key(v) for v in values]


class DncAdded(BaseModel):
    added: int = Field(description="Numbers that were not listed before.")
    listed: int = Field(description="Distinct numbers in the request.")


class DncEntryOut(BaseModel):
    number: str
    source: str
    added: str


class DncPage(BaseModel):
    numbers: list[DncEntryOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class DncRemoved(BaseModel):
    removed: str


@router.post(
    "/v1/dnc",
    summary="List numbers as do-not-contact",
    body=DncIn,
    responses={201: DncAdded},
    query={"tenant": TENANT},
)
async def add(call: Call) -> Response:
    """Put numbers on the tenant's do-not-contact list: marketing to them is blocked
    (code 21610) from the next send on. Listing a number twice changes nothing.
    Needs the `send` or `admin` scope."""
    body: DncIn = call.body
    now = call.services.component(gateway_for).clock()
    _, dnc = call.services.component(consent_ledger)
    numbers = sorted(set(body.numbers))
    added = await run_in_threadpool(
        do_not_contact, dnc, call.actor, numbers, body.source, now, call.query("tenant")
    )
    return created({"added": added, "listed": len(numbers)})


@router.get(
    "/v1/dnc",
    summary="The do-not-contact list",
    responses={200: DncPage},
    query={
        "limit": QueryParam(
            "At most this many (default 100; more than 1000 reads as 1000).",
            pattern=r"^[1-9][0-9]{0,3}$",
        ),
        "cursor": QueryParam(
            "`next_cursor` of the previous page (the last number's digits).",
            pattern=r"^[0-9]{2,15}$",
        ),
        "tenant": TENANT,
    },
)
async def listing(call: Call) -> dict[str, Any]:
    """The tenant's list by number, `limit` at a time; `next_cursor` is null on the
    last page. Needs the `read`, `send` or `admin` scope."""
    limit = min(int(call.query("limit") or 100), MAX_NUMBERS)
    cursor = call.query("cursor")
    after = f"+{cursor}" if cursor is not None else None
    _, dnc = call.services.component(consent_ledger)
    entries = await run_in_threadpool(
        list_do_not_contact, dnc, call.actor, after, limit, call.query("tenant")
    )
    return {
        "numbers": [
            {"number": e.number, "source": e.source, "added": e.added.isoformat()} for e in entries
        ],
        "next_cursor": entries[-1].number.lstrip("+") if len(entries) == limit else None,
    }


@router.delete(
    "/v1/dnc/{number}",
    summary="Unlist a do-not-contact number",
    responses={200: DncRemoved},
    path_params={"number": QueryParam("The number, E.164.", pattern=E164, max_length=16)},
    query={"tenant": TENANT},
)
async def remove(call: Call) -> dict[str, Any]:
    """Take a number off the tenant's list (the platform-wide list stays as it is);
    a number not on it is 404. Needs the `admin` scope."""
    raw = call.path("number")
    if not re.fullmatch(E164, raw):
        raise ApiError(
            422,
            "validation_failed",
            "The path has invalid parameters: 'number'.",
            [{"field": "number", "code": "invalid", "message": "Not an E.164 number"}],
        )
    number = recipient_key(raw)
    _, dnc = call.services.component(consent_ledger)
    await run_in_threadpool(remove_do_not_contact, dnc, call.actor, number, call.query("tenant"))
    return {"removed": number}
