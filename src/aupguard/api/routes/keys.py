"""`/v1/keys`: a tenant's admins issue, list, rotate and revoke the tenant's API keys.

Staff keys are managed with the CLI (`aupguard keys`) only. A staff admin key
may manage any tenant's keys by naming it in the `tenant` query parameter.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from aupguard.api.errors import ApiError
from aupguard.api.keys import ApiKey, IssuedKey
from aupguard.api.routing import Call, QueryParam, Router, created

router = Router(tag="keys", description="A tenant's API keys.")

TENANT_PARAM = {
    "tenant": QueryParam(
        "The tenant whose keys to manage (staff admin keys only; a tenant key "
        "always manages its own tenant's).",
        pattern=r"^[A-Za-z0-9._:@-]{1,128}$",
        max_length=128,
    )
}


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scopes: list[Literal["read", "send", "admin"]] = Field(min_length=1, max_length=3)
    name: str = Field(default="", max_length=200)


class Rotation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grace_seconds: int = Field(
        default=0,
        ge=0,
        le=30 * 86400,
        description="How long the old key keeps working (0: it stops now).",
    )


class KeyOut(BaseModel):
    id: str
    tenant: str | None
    name: str
    scopes: list[str]
    state: Literal["active", "expiring", "expired", "revoked"]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class KeyList(BaseModel):
    keys: list[KeyOut]


class KeyOne(BaseModel):
    key: KeyOut


class IssuedKeyOut(BaseModel):
    key: KeyOut
    secret: str = Field(description="The key to send as a bearer token. Shown this once only.")


def key_json(key: ApiKey, now: datetime) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "id": key.id,
        "tenant": key.tenant,
        "name": key.name,
        "scopes": list(key.scopes),
        "state": key.state(now),
        "created_at": iso(key.created_at),
        "expires_at": iso(key.expires_at),
        "revoked_at": iso(key.revoked_at),
    }


def _tenant(call: Call) -> str:
    asked = call.query("tenant")
    actor = call.actor
    if actor.tenant is not None:
        return asked if asked is not None else actor.tenant  # another tenant: 403 in the service
    if asked is None:
        raise ApiError(
            422,
            "validation_failed",
            "A staff key must name the tenant in the 'tenant' query parameter.",
            [{"field": "tenant", "code": "missing", "message": "Field required"}],
        )
    return asked


def _issued(issued: IssuedKey) -> dict[str, Any]:
    return {"key": key_json(issued.key, datetime.now(UTC)), "secret": issued.secret}


def _bad(exc: ValueError) -> ApiError:
    return ApiError(422, "validation_failed", str(exc).rstrip(".") + ".")


@router.get(
    "/v1/keys", summary="List the tenant's API keys", query=TENANT_PARAM, responses={200: KeyList}
)
async def list_keys(call: Call) -> Any:
    """Every key of the tenant, active or not (never the secrets). Needs the admin scope."""
    keys = call.services.keys.list(call.actor, _tenant(call))
    now = datetime.now(UTC)
    return {"keys": [key_json(k, now) for k in keys]}


@router.post(
    "/v1/keys",
    summary="Issue an API key",
    body=NewKey,
    query=TENANT_PARAM,
    responses={201: IssuedKeyOut},
)
async def issue_key(call: Call) -> Any:
    """A new key with the given scopes; the secret is in this answer only. Needs the admin scope."""
    body: NewKey = call.body
    try:
        issued = call.services.keys.issue(call.actor, _tenant(call), body.scopes, body.name)
    except ValueError as exc:
        raise _bad(exc) from None
    return created(_issued(issued))


@router.post(
    "/v1/keys/{key_id}/rotate",
    summary="Rotate an API key",
    body=Rotation,
    query=TENANT_PARAM,
    responses={201: IssuedKeyOut},
)
async def rotate_key(call: Call) -> Any:
    """A new key with the same scopes and name; the old one stops working now or
    after `grace_seconds`. Needs the admin scope."""
    body: Rotation = call.body
    try:
        issued = call.services.keys.rotate(
            call.actor, _tenant(call), call.path("key_id"), timedelta(seconds=body.grace_seconds)
        )
    except ValueError as exc:
        raise _bad(exc) from None
    return created(_issued(issued))


@router.delete(
    "/v1/keys/{key_id}",
    summary="Revoke an API key",
    query=TENANT_PARAM,
    responses={200: KeyOne},
)
async def revoke_key(call: Call) -> Any:
    """The key stops working at once on this worker and within the key cache time
    (AUPGUARD_KEY_CACHE_SECONDS) on the others. Needs the admin scope."""
    key = call.services.keys.revoke(call.actor, _tenant(call), call.path("key_id"))
    return {"key": key_json(key, datetime.now(UTC))}
