"""Who acts: staff of the platform, or a user or API key of one tenant, with roles.

Authorization is decided in the service layer, on an `Actor`, whatever the
adapter (CLI, HTTP API, console) that authenticated it. Least privilege:
an actor can do only what one of its roles allows, and a tenant actor only
ever touches its own tenant's data.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Actor", "Forbidden", "Role", "require", "require_tenant"]


class Role(StrEnum):
    # platform staff
    REVIEWER = "reviewer"
    ADMIN = "admin"
    LEGAL = "legal"
    # a tenant's own users and keys
    TENANT_ADMIN = "tenant_admin"
    SENDER = "sender"
    VIEWER = "viewer"


STAFF_ROLES = frozenset({Role.REVIEWER, Role.ADMIN, Role.LEGAL})
TENANT_ROLES = frozenset({Role.TENANT_ADMIN, Role.SENDER, Role.VIEWER})


class Forbidden(PermissionError):
    """The actor lacks the role, or reached for another tenant's data."""

    def __init__(self, actor: Actor, needed: str) -> None:
        super().__init__(f"{actor.id} may not {needed}")
        self.actor = actor
        self.needed = needed


@dataclass(frozen=True, slots=True)
class Actor:
    id: str
    roles: frozenset[Role]
    tenant: str | None = None
    """None for platform staff; the tenant id for a tenant's users and keys."""

    def __post_init__(self) -> None:
        if self.tenant is None and not self.roles <= STAFF_ROLES:
            raise ValueError("a staff actor holds only staff roles")
        if self.tenant is not None and not self.roles <= TENANT_ROLES:
            raise ValueError("a tenant actor holds only tenant roles")

    @property
    def is_staff(self) -> bool:
        return self.tenant is None

    def has(self, *roles: Role) -> bool:
        return not self.roles.isdisjoint(roles)


def require(actor: Actor, *roles: Role, action: str = "do this") -> None:
    """Raise Forbidden unless the actor holds one of `roles`."""
    if not actor.has(*roles):
        raise Forbidden(actor, f"{action} (needs {' or '.join(r.value for r in roles)})")


def require_tenant(actor: Actor, tenant: str, action: str = "see this tenant's data") -> None:
    """Raise Forbidden unless the actor is staff or belongs to `tenant`."""
    if not actor.is_staff and actor.tenant != tenant:
        raise Forbidden(actor, action)
