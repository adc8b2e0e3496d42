"""Fixtures for the HTTP API: an app on a fresh SQLite file, an httpx client over
ASGI, and keys of two tenants and of staff."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from aupguard.actors import Actor, Role
from aupguard.api import Services, build_services, create_app
from aupguard.config import Settings
from aupguard.engine.facade import Engine
from aupguard.store.migrate import upgrade

OPERATOR = Actor(id="test-operator", roles=frozenset({Role.ADMIN}))


class AsgiClient:
    """A synchronous face on httpx.AsyncClient over the ASGI app (no server, no network)."""

    def __init__(self, app: Starlette) -> None:
        self.loop = asyncio.new_event_loop()
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )

    def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.client.request(method, url, **kw))

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("POST", url, **kw)

    def delete(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("DELETE", url, **kw)

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())

        # background tasks the app started on this loop (the group-commit writer)
        async def cancel_background() -> None:
            pending = asyncio.all_tasks() - {asyncio.current_task()}
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

        self.loop.run_until_complete(cancel_background())
        self.loop.close()


@dataclass
class Keys:
    acme_admin: str
    acme_send: str
    acme_read: str
    globex_admin: str
    staff_admin: str
    staff_reviewer: str

    @staticmethod
    def header(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}


def make_services(tmp_path: Path, engine: Engine, **settings: Any) -> Services:
    config = Settings(database_url=f"sqlite:///{tmp_path / 'api.sqlite'}", **settings)
    services = build_services(config, engine=engine)
    assert services.database is not None
    upgrade(services.database)
    return services


@pytest.fixture
def services(tmp_path: Path, engine: Engine) -> Iterator[Services]:
    built = make_services(tmp_path, engine, access_log=False)
    yield built
    built.close()


@pytest.fixture
def app(services: Services) -> Starlette:
    return create_app(services=services)


@pytest.fixture
def client(app: Starlette) -> Iterator[AsgiClient]:
    c = AsgiClient(app)
    yield c
    c.close()


@pytest.fixture
def keys(services: Services) -> Keys:
    issue = services.keys.issue
    return Keys(
        acme_admin=issue(OPERATOR, "acme", ["admin"], "admin").secret,
        acme_send=issue(OPERATOR, "acme", ["send"], "sender").secret,
        acme_read=issue(OPERATOR, "acme", ["read"], "reader").secret,
        globex_admin=issue(OPERATOR, "globex", ["admin", "send"], "globex").secret,
        staff_admin=issue(OPERATOR, None, ["admin"], "ops").secret,
        staff_reviewer=issue(OPERATOR, None, ["reviewer"], "review").secret,
    )
