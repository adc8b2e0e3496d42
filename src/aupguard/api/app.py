"""The ASGI application: `create_app(settings)`."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from aupguard.api.errors import ApiError, error_response
from aupguard.api.logs import configure_logging
from aupguard.api.middleware import RequestContext
from aupguard.api.openapi import build_openapi
from aupguard.api.routes import ROUTERS
from aupguard.api.routing import Router, build_routes
from aupguard.api.services import Services, build_services
from aupguard.config import Settings

__all__ = ["create_app", "create_app_from_env"]

_CODES = {404: "not_found", 405: "method_not_allowed"}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    request_id = request.scope.get("state", {}).get("request_id")
    if exc.status_code == 404:
        message = f"There is no endpoint {request.method} {request.url.path}."
    elif exc.status_code == 405:
        message = f"{request.url.path} does not take {request.method}."
    else:
        message = str(exc.detail).rstrip(".") + "."
    error = ApiError(
        exc.status_code,
        _CODES.get(exc.status_code, "http_error"),
        message,
        headers=dict(exc.headers or {}),
    )
    return error_response(error, request_id)


def create_app(
    settings: Settings | None = None,
    *,
    services: Services | None = None,
    routers: Sequence[Router] | None = None,
) -> Starlette:
    """The HTTP API. `services` defaults to those built from `settings` (the SQL key
    store on the configured database); `routers` to every domain's (`routes.ROUTERS`)."""
    settings = settings or (services.settings if services else Settings())
    configure_logging(settings.log_level)
    services = services or build_services(settings)
    routers = list(ROUTERS if routers is None else routers)
    document = orjson.dumps(build_openapi(routers))

    async def openapi(_: Request) -> Response:
        return Response(document, media_type="application/json")

    routes: list[BaseRoute] = [Route("/openapi.json", openapi, methods=["GET"], name="openapi")]
    routes.extend(build_routes(routers))
    from aupguard.console.app import create_console  # here: the console imports api modules

    routes.append(Mount("/console", app=create_console(services)))  # the review console

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        from aupguard.api import delivery, send_path

        delivery.start(services)
        send_path.start(services)
        # the engine, pack and caches built so far live as long as the process: keep
        # them out of the collector's generations, so a full collection does not walk
        # them in the middle of a request (p99)
        gc.collect()
        gc.freeze()
        yield
        # uvicorn stops taking requests first; then: commit what is queued, finish the
        # deliveries under way (graceful shutdown), close the database
        await delivery.stop(services)
        await send_path.stop(services)
        services.close()

    app = Starlette(
        routes=routes,
        middleware=[Middleware(RequestContext, access_log=settings.access_log)],
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.services = services
    return app


def create_app_from_env() -> Starlette:
    """Factory for uvicorn workers (`aupguard serve`): settings from AUPGUARD_*."""
    return create_app(Settings())
