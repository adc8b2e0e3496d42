"""Actors and least privilege."""

from __future__ import annotations

import pytest

from aupguard.actors import Actor, Forbidden, Role, require, require_tenant


def test_roles_are_checked() -> None:
    reviewer = Actor("rev-1", frozenset({Role.REVIEWER}))
    require(reviewer, Role.REVIEWER, Role.ADMIN)
    with pytest.raises(Forbidden, match="needs legal"):
        require(reviewer, Role.LEGAL, action="read legal requests")


def test_tenant_actors_stay_in_their_tenant() -> None:
    sender = Actor("key-1", frozenset({Role.SENDER}), tenant="acme")
    require_tenant(sender, "acme")
    with pytest.raises(Forbidden):
        require_tenant(sender, "globex")
    require_tenant(Actor("staff-1", frozenset({Role.ADMIN})), "globex")


def test_staff_and_tenant_roles_do_not_mix() -> None:
    with pytest.raises(ValueError, match="staff"):
        Actor("x", frozenset({Role.SENDER}))
    with pytest.raises(ValueError, match="tenant"):
        Actor("x", frozenset({Role.LEGAL}), tenant="acme")
