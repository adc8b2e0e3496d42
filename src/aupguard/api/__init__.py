"""The HTTP API (ASGI, Starlette): `create_app(settings)`.

Layout:
    app.py         create_app: routes from every router, middleware, error handlers
    routing.py     Router / Call: how a domain declares endpoints (auth, body, errors)
    routes/        one module per domain; routes/__init__.py lists the routers
    errors.py      the error shape and the exception -> status registry
    keys.py        API keys: store protocol, memory store, KeyManager (service)
    keys_sql.py    the SQL key store
    services.py    what handlers use (engine, screener, keys, database, components)
    middleware.py  request ids, access log, JSON 500s
    openapi.py     the OpenAPI document
"""

from aupguard.api.app import create_app, create_app_from_env
from aupguard.api.errors import ApiError, register_error
from aupguard.api.routing import Call, Router, created, json_response
from aupguard.api.services import Services, build_services

__all__ = [
    "ApiError",
    "Call",
    "Router",
    "Services",
    "build_services",
    "create_app",
    "create_app_from_env",
    "created",
    "json_response",
    "register_error",
]
