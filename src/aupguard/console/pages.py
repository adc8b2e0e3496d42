"""Where every console page goes, who may open it, and which ones are not built yet.

The navigation and the home page are drawn from this list. A page that waits
for another area's data names the issue it waits for; it is listed as "not
built yet" and has no route. Building one means writing its handler in
`aupguard.console.app`, its template, and setting `issue=None` here.
"""

from __future__ import annotations

from dataclasses import dataclass

from aupguard.actors import Actor, Role

__all__ = ["PAGES", "PageInfo"]

STAFF = frozenset({Role.REVIEWER, Role.ADMIN, Role.LEGAL})
TENANT = frozenset({Role.TENANT_ADMIN, Role.SENDER, Role.VIEWER})
ANYONE = STAFF | TENANT


@dataclass(frozen=True, slots=True)
class PageInfo:
    path: str
    title: str
    roles: frozenset[Role]
    """Who may open it (any one of these roles)."""
    issue: int | None = None
    """None: built. Otherwise the issue whose stored data the page waits for."""
    waits_for: str = ""

    @property
    def built(self) -> bool:
        return self.issue is None

    def visible_to(self, actor: Actor) -> bool:
        return actor.has(*self.roles)


PAGES: tuple[PageInfo, ...] = (
    PageInfo("/", "Home", ANYONE),
    PageInfo("/test-message", "Test a message", ANYONE),
    PageInfo("/password", "Password", ANYONE),
    PageInfo("/users", "Users", frozenset({Role.ADMIN, Role.TENANT_ADMIN})),
    PageInfo("/members", "Membership review", frozenset({Role.ADMIN})),
    PageInfo("/queue", "Queue", STAFF - {Role.LEGAL}),
    PageInfo("/cases", "Cases", STAFF),
    PageInfo("/accounts", "Accounts", STAFF),
    PageInfo("/policy", "Policy", STAFF),
    PageInfo("/audit", "Audit log", STAFF),
    PageInfo("/legal", "Legal requests", frozenset({Role.LEGAL})),
    PageInfo("/my-messages", "Blocked and held messages", TENANT),
    PageInfo("/report", "Public abuse-report form", frozenset()),
)
