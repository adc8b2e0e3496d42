"""How endpoints are declared: one `Router` per domain module, one list of them.

    # src/aupguard/api/routes/<domain>.py
    router = Router(tag="<domain>")

    @router.post("/v1/things", body=ThingIn, responses={201: ThingOut}, summary="...")
    async def create_thing(call: Call) -> Response | dict[str, Any]:
        thing = do_create_thing(call.services..., call.actor, call.body)   # service layer
        return created(thing_json(thing))

and one line in `aupguard/api/routes/__init__.py`'s ``ROUTERS``.

The router does the adapter's work once for every endpoint: authentication
(``Authorization: Bearer <key>`` -> `call.actor`; 401 when missing or wrong),
content type (415), body size (413), JSON parsing and validation with the
given pydantic model or type (400/422 naming each field), domain exceptions
to 4xx (`errors.register_error`), and the OpenAPI entry. Handlers validate
nothing twice: what they return is serialised with orjson as it is; the
response models only document it. Authorization (roles, tenant) is decided in
the service layer on `call.actor`, not here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aupguard.actors import Actor
from aupguard.api.errors import ApiError, error_response, from_exception, validation_error
from aupguard.api.services import Services

__all__ = [
    "Call",
    "Operation",
    "QueryParam",
    "Router",
    "build_routes",
    "created",
    "json_response",
]

log = logging.getLogger("aupguard.api")

JSON = "application/json"
Handler = Callable[["Call"], Awaitable[Response | dict[str, Any] | list[Any]]]


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, headers=headers, media_type=JSON)


def created(data: Any) -> Response:
    return json_response(data, 201)


@dataclass(frozen=True, slots=True)
class QueryParam:
    description: str
    required: bool = False
    pattern: str | None = None
    max_length: int = 200
    format: str | None = None
    """An OpenAPI string format (``date-time``); the handler checks it."""


@dataclass
class Operation:
    method: str
    path: str
    handler: Handler
    tag: str
    summary: str
    description: str
    body: Any
    """A pydantic model class, a TypeAdapter, or None for no body."""
    responses: dict[int, type[BaseModel] | None]
    auth: bool
    content_types: tuple[str, ...]
    max_body: int | None
    query: dict[str, QueryParam]
    name: str
    body_schema: dict[str, Any] | None = None
    """The body's OpenAPI schema when it is not the one pydantic derives from `body`."""
    extra_errors: tuple[int, ...] = ()
    """Error statuses the handler itself answers (documented in OpenAPI)."""
    form: bool = False
    """The body is ``application/x-www-form-urlencoded``: parsed into a dict (a field
    named in `form_lists` into a list of its values), then validated with `body`."""
    form_lists: frozenset[str] = frozenset()
    authenticator: Callable[[Request, Services], Awaitable[Actor]] | None = None
    """Replaces the bearer-key check (the Twilio endpoint's HTTP Basic)."""
    render_error: Callable[[ApiError, str | None], Response] | None = None
    """Renders this endpoint's errors in another shape (Twilio's)."""
    error_model: type[BaseModel] | None = None
    """The error answers' schema in the OpenAPI document, when it is not ErrorBody."""
    security: str = "apiKey"
    path_params: dict[str, QueryParam] = field(default_factory=dict)
    """Path parameters' documentation and pattern (default: any 1-128 characters)."""
    response_media: str = JSON
    """The media type of the answers documented in `responses` (TwiML: application/xml)."""
    adapter: TypeAdapter[Any] | None = field(default=None)

    def __post_init__(self) -> None:
        if self.body is None:
            self.adapter = None
        elif isinstance(self.body, TypeAdapter):
            self.adapter = self.body
        else:
            self.adapter = TypeAdapter(self.body)


class Call:
    """One request as a handler sees it."""

    __slots__ = ("_actor", "body", "request", "services")

    def __init__(
        self, request: Request, services: Services, actor: Actor | None, body: Any
    ) -> None:
        self.request = request
        self.services = services
        self._actor = actor
        self.body = body

    @property
    def actor(self) -> Actor:
        """Who is calling (only for endpoints with ``auth=True``, the default)."""
        if self._actor is None:
            raise RuntimeError("this endpoint was declared with auth=False")
        return self._actor

    @property
    def request_id(self) -> str | None:
        found = self.request.scope.get("state", {}).get("request_id")
        return str(found) if found is not None else None

    def header(self, name: str) -> str | None:
        return self.request.headers.get(name)

    def path(self, name: str) -> str:
        return str(self.request.path_params[name])

    def query(self, name: str) -> str | None:
        return self.request.query_params.get(name)


class Router:
    def __init__(self, tag: str, description: str = "") -> None:
        self.tag = tag
        self.description = description
        self.operations: list[Operation] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        body: Any = None,
        responses: dict[int, type[BaseModel] | None] | None = None,
        auth: bool = True,
        content_types: tuple[str, ...] = (JSON,),
        max_body: int | None = None,
        query: dict[str, QueryParam] | None = None,
        name: str | None = None,
        body_schema: dict[str, Any] | None = None,
        errors: tuple[int, ...] = (),
        **extra: Any,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.operations.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    handler=handler,
                    tag=self.tag,
                    summary=summary,
                    description=(handler.__doc__ or "").strip(),
                    body=body,
                    responses=responses or {200: None},
                    auth=auth,
                    content_types=content_types,
                    max_body=max_body,
                    query=query or {},
                    name=name or handler.__name__,
                    body_schema=body_schema,
                    extra_errors=errors,
                    **extra,
                )
            )
            return handler

        return register

    def get(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("PUT", path, **kw)

    def patch(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("DELETE", path, **kw)


def build_routes(routers: Iterable[Router]) -> list[Route]:
    """One route per path for all the routers' operations, so that a method the path
    does not take is answered 405 with every method it does take in `Allow`."""
    by_path: dict[str, dict[str, Callable[[Request], Awaitable[Response]]]] = {}
    names: dict[str, list[str]] = {}
    for router in routers:
        for op in router.operations:
            methods = by_path.setdefault(op.path, {})
            if op.method in methods:
                raise ValueError(f"two endpoints for {op.method} {op.path}")
            methods[op.method] = _endpoint(op)
            names.setdefault(op.path, []).append(op.name)
    routes = []
    for path, methods in by_path.items():
        if "GET" in methods:
            methods.setdefault("HEAD", methods["GET"])
        routes.append(
            Route(path, _dispatch(methods), methods=list(methods), name="|".join(names[path]))
        )
    return routes


def _dispatch(
    methods: dict[str, Callable[[Request], Awaitable[Response]]],
) -> Callable[[Request], Awaitable[Response]]:
    if len(methods) == 1:
        return next(iter(methods.values()))

    async def dispatch(request: Request) -> Response:
        return await methods[request.method](request)

    return dispatch


# -- what every endpoint does before its handler ----------------------------------------

MISSING_KEY = ApiError(
    401,
    "missing_api_key",
    "This endpoint needs an API key: send the header 'Authorization: Bearer <key>'.",
    headers={"WWW-Authenticate": "Bearer"},
)
INVALID_KEY = ApiError(
    401,
    "invalid_api_key",
    "The API key is not valid: it is unknown, malformed, revoked or expired.",
    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
)


async def authenticate(request: Request, services: Services) -> Actor:
    header = request.headers.get("authorization")
    if not header:
        raise MISSING_KEY
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise MISSING_KEY
    token = token.strip()
    found = services.keys.cached(token)
    if found is False:  # not in this worker's cache: ask the store, off the event loop
        found = await run_in_threadpool(services.keys.authenticate, token)
    if not isinstance(found, Actor):
        raise INVALID_KEY
    return found


async def read_body(request: Request, op: Operation, services: Services) -> bytes:
    content_type = request.headers.get("content-type", "")
    media = content_type.partition(";")[0].strip().lower()
    if media not in op.content_types:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Send the body as {' or '.join(op.content_types)}"
            + (f", not {media}." if media else "; the Content-Type header is missing."),
        )
    limit = op.max_body or services.settings.max_body_bytes
    declared = request.headers.get("content-length")
    too_large = ApiError(
        413, "body_too_large", f"The body is larger than the limit of {limit} bytes."
    )
    if declared is not None:
        try:
            if int(declared) > limit:
                raise too_large
        except ValueError:
            raise ApiError(
                400, "bad_request", "The Content-Length header is not a number."
            ) from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def parse_form(raw: bytes, lists: frozenset[str]) -> dict[str, Any]:
    """A form body as a dict; a field given twice is a 400 unless it is a list field."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "malformed_form", "The form body is not UTF-8.") from None
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise ApiError(
            400, "malformed_form", "The body is not a URL-encoded form (name=value&...)."
        ) from None
    out: dict[str, Any] = {}
    for name, value in pairs:
        if name in lists:
            out.setdefault(name, []).append(value)
        elif name in out:
            raise ApiError(400, "repeated_field", f"The form gives {name!r} more than once.")
        else:
            out[name] = value
    return out


def check_query(request: Request, op: Operation) -> None:
    """422 naming each query parameter that is unknown, missing or malformed."""
    fields = []
    params = request.query_params
    for name in params:
        if name not in op.query:
            fields.append(
                {"field": name, "code": "unknown_field", "message": "Unknown query parameter"}
            )
    for name, spec in op.query.items():
        values = params.getlist(name)
        if not values:
            if spec.required:
                fields.append({"field": name, "code": "missing", "message": "Field required"})
            continue
        if len(values) > 1:
            fields.append(
                {"field": name, "code": "repeated", "message": "Give this parameter once"}
            )
        value = values[0]
        if len(value) > spec.max_length or (spec.pattern and not re.fullmatch(spec.pattern, value)):
            fields.append({"field": name, "code": "invalid", "message": "Malformed value"})
    if fields:
        names = ", ".join(repr(f["field"]) for f in fields)
        raise ApiError(
            422, "validation_failed", f"The query has invalid parameters: {names}.", fields
        )


def _endpoint(op: Operation) -> Callable[[Request], Awaitable[Response]]:
    adapter = op.adapter
    handler = op.handler

    async def endpoint(request: Request) -> Response:
        state = request.scope.setdefault("state", {})
        request_id = state.get("request_id")
        try:
            services: Services = request.app.state.services
            actor = None
            if op.authenticator is not None:
                actor = await op.authenticator(request, services)
                state["actor"] = actor.id
            elif op.auth:
                actor = await authenticate(request, services)
                state["actor"] = actor.id
            query_string = request.scope["query_string"]
            if (request.path_params or query_string) and holds_nul(
                [request.path_params, request.query_params.multi_items()]
            ):
                raise _nul()
            if query_string or op.query:
                check_query(request, op)
            body = None
            if adapter is not None:
                raw = await read_body(request, op, services)
                if not raw:
                    raise ApiError(
                        400, "empty_body", "The request has no body; send a JSON object."
                    )
                try:
                    if op.form:
                        fields = parse_form(raw, op.form_lists)
                        if holds_nul(fields):
                            raise _nul()
                        body = adapter.validate_python(fields)
                    else:
                        if b"u0000" in raw and _json_holds_nul(raw):
                            raise _nul()
                        body = adapter.validate_json(raw)
                except ValidationError as exc:
                    raise validation_error(exc) from None
            result = await handler(Call(request, services, actor, body))
        except Exception as exc:
            error = from_exception(exc)
            if error is None:
                raise  # the middleware logs it and answers 500
            if op.render_error is not None:
                return op.render_error(error, request_id)
            return error_response(error, request_id)
        if isinstance(result, Response):
            return result
        return json_response(result)

    endpoint.__name__ = op.name
    return endpoint


def _nul() -> ApiError:
    return ApiError(
        422, "nul_character", "Text in the request may not contain the NUL character (U+0000)."
    )


def _json_holds_nul(raw: bytes) -> bool:
    try:
        return holds_nul(orjson.loads(raw))
    except orjson.JSONDecodeError:
        return False  # malformed: validation says so


def holds_nul(value: Any) -> bool:
    """Whether a parsed value holds U+0000 in any key or string. PostgreSQL cannot
    store it, so requests holding it are refused before anything is written."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(holds_nul(k) or holds_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(holds_nul(v) for v in value)
    return False
