"""Console fixtures: a settable clock, cheap argon2 parameters, the whole HTTP app with
the console mounted (in memory), and helpers to sign in as a browser would."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pyotp
import pytest
from argon2 import PasswordHasher, Type

from aupguard import Engine
from aupguard.actors import Actor, Role
from aupguard.api.app import create_app
from aupguard.api.services import Services, build_services
from aupguard.config import Settings
from aupguard.console import Accounts, Passwords, Sessions
from aupguard.console.app import console_accounts, console_sessions
from aupguard.console.store import ConsoleUser, MemorySessionStore, MemoryUserStore
from tests.console.browser import browser, page, server  # noqa: F401  (browser fixtures)

PASSWORD = "correct horse battery staple"
ADMIN = Actor(id="test-admin", roles=frozenset({Role.ADMIN}))
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def cheap_passwords() -> Passwords:
    """argon2id with small parameters: the tests check behaviour, not cost."""
    return Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.ID))


@pytest.fixture
def accounts(clock: Clock) -> Accounts:
    return Accounts(MemoryUserStore(), cheap_passwords(), clock=clock)


@pytest.fixture
def sessions(clock: Clock) -> Sessions:
    return Sessions(MemorySessionStore(), clock=clock)


@pytest.fixture
def services(engine: Engine, accounts: Accounts, sessions: Sessions) -> Services:
    services = build_services(Settings(database_url=""), engine=engine)
    services.provide(console_accounts, accounts)
    services.provide(console_sessions, sessions)
    return services


class Browserish:
    """A synchronous httpx client over the ASGI app, on https (the session cookie is
    Secure), keeping cookies like a browser and not following redirects."""

    def __init__(self, services: Services, address: str = "127.0.0.1") -> None:
        self.loop = asyncio.new_event_loop()
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(
                app=create_app(services=services), client=(address, 50000)
            ),
            base_url="https://testserver",
        )

    def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.client.request(method, url, **kw))

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("POST", url, **kw)

    @property
    def cookies(self) -> httpx.Cookies:
        return self.client.cookies

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()


@pytest.fixture
def client(services: Services) -> Iterator[Browserish]:
    c = Browserish(services)
    yield c
    c.close()


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


@dataclass
class Person:
    user: ConsoleUser
    password: str = PASSWORD

    @property
    def totp(self) -> pyotp.TOTP:
        return pyotp.TOTP(self.user.totp_secret)


def make_user(
    accounts: Accounts, name: str, tenant: str | None, *roles: str, enrolled: bool = True
) -> Person:
    made = accounts.create(ADMIN, name, tenant, roles, PASSWORD)
    user = made.user
    if enrolled:
        codes = accounts.confirm_enrolment(user, pyotp.TOTP(user.totp_secret).at(accounts.clock()))
        assert codes is not None
        found = accounts.users.find(tenant, user.id)
        assert found is not None
        user = found
    return Person(user)


def sign_in(client: Browserish, person: Person, clock: Clock) -> None:
    """Password and TOTP through the forms; leaves the client signed in."""
    first = client.get("/console/sign-in")
    assert first.status_code == 200
    answer = client.post(
        "/console/sign-in",
        data={"csrf": csrf_of(first.text), "name": person.user.name, "password": person.password},
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/console/second-factor"
    step = client.get("/console/second-factor")
    clock.advance(seconds=30)  # a fresh time step (each one is good once)
    done = client.post(
        "/console/second-factor",
        data={"csrf": csrf_of(step.text), "code": person.totp.at(clock.now)},
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/console/"
