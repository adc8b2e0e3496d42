"""The OpenAPI 3.1 document, built from the routers' operations.

Schemas come from the same pydantic models and types the router validates
with, so the document cannot drift from what the server accepts; responses
are documented with models used for nothing else. `openapi.json` at the root
of the repository is this document as committed (`aupguard openapi` writes
it; a test checks that the committed copy is current).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, TypeAdapter

from aupguard import __version__
from aupguard.api.errors import ErrorBody
from aupguard.api.routing import Operation, Router

__all__ = ["build_openapi"]

REF = "#/components/schemas/{model}"

DESCRIPTION = """\
aupguard screens messages, calls and API traffic against an acceptable-use
policy and answers allow, hold, throttle or block, citing the clauses.

Authenticate with an API key: `Authorization: Bearer aupg_<id>_<secret>`.
Tenant keys carry scopes (read, send, admin); staff keys carry staff roles.

Every 4xx and 5xx answer is `{"error": {"code", "message", "fields",
"request_id"}}`; every answer carries an `X-Request-Id` header (sent back as
given when the request had a well-formed one).
"""

ERRORS = {
    400: "The body is not valid JSON, or is empty.",
    401: "No API key, or one that is unknown, revoked or expired.",
    403: "The key lacks the role this needs, or the data belongs to another tenant.",
    404: "No such resource for this tenant.",
    413: "The body is larger than the configured limit.",
    415: "The body is not sent as a supported content type.",
    422: "The body is JSON but some fields are wrong; `fields` names each.",
}

REQUEST_ID_HEADER = {
    "X-Request-Id": {
        "description": "The request id (the one sent, or a new one).",
        "schema": {"type": "string"},
    }
}


class _Schemas:
    def __init__(self) -> None:
        self.components: dict[str, Any] = {}

    def ref(self, thing: Any, mode: str = "validation") -> dict[str, Any]:
        """The schema of a model or type, its definitions moved into components."""
        adapter = thing if isinstance(thing, TypeAdapter) else TypeAdapter(thing)
        schema = adapter.json_schema(ref_template=REF, mode=mode)  # type: ignore[arg-type]
        for name, definition in schema.pop("$defs", {}).items():
            self._add(name, definition)
        if isinstance(thing, type) and issubclass(thing, BaseModel):
            name = thing.__name__
            self._add(name, schema)
            return {"$ref": REF.format(model=name)}
        return schema

    def _add(self, name: str, schema: dict[str, Any]) -> None:
        _json_strings(schema)
        known = self.components.get(name)
        if known is not None and known != schema:
            raise ValueError(f"two different schemas are named {name!r}")
        self.components[name] = schema


def _json_strings(schema: Any) -> None:
    """Bytes fields travel in JSON as UTF-8 strings (pydantic's default): say so,
    instead of OpenAPI's ``format: binary`` that JSON bodies cannot carry."""
    if isinstance(schema, dict):
        if schema.get("format") == "binary" and schema.get("type") == "string":
            del schema["format"]
            schema.setdefault("description", "Bytes, given as a UTF-8 string.")
        for value in schema.values():
            _json_strings(value)
    elif isinstance(schema, list):
        for item in schema:
            _json_strings(item)


def _operation(op: Operation, schemas: _Schemas) -> dict[str, Any]:
    out: dict[str, Any] = {
        "operationId": op.name,
        "summary": op.summary,
        "tags": [op.tag],
    }
    if op.description:
        out["description"] = op.description
    params: list[dict[str, Any]] = []
    for name in re.findall(r"\{(\w+)(?::\w+)?\}", op.path):
        if name:
            spec = op.path_params.get(name)
            param: dict[str, Any] = {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "string", "minLength": 1, "maxLength": 128},
            }
            if spec is not None:
                param["description"] = spec.description
                param["schema"] = {"type": "string", "maxLength": spec.max_length}
                if spec.pattern:
                    param["schema"]["pattern"] = spec.pattern
            params.append(param)
    for name, q in op.query.items():
        schema: dict[str, Any] = {"type": "string", "maxLength": q.max_length}
        if q.pattern:
            schema["pattern"] = q.pattern
        if q.format:
            schema["format"] = q.format
        params.append(
            {
                "name": name,
                "in": "query",
                "required": q.required,
                "description": q.description,
                "schema": schema,
            }
        )
    if params:
        out["parameters"] = params
    if op.body is not None:
        derived = schemas.ref(op.body)  # also registers the models the body refers to
        body_schema = op.body_schema if op.body_schema is not None else derived
        out["requestBody"] = {
            "required": True,
            "content": {ct: {"schema": body_schema} for ct in op.content_types},
        }
    responses: dict[str, Any] = {}
    for status, model in sorted(op.responses.items()):
        entry: dict[str, Any] = {"description": _phrase(status), "headers": REQUEST_ID_HEADER}
        if model is not None:
            entry["content"] = {
                op.response_media: {"schema": schemas.ref(model, mode="serialization")}
            }
        elif op.response_media != "application/json":
            entry["content"] = {op.response_media: {"schema": {"type": "string"}}}
        responses[str(status)] = entry
    codes = set(op.extra_errors)
    if op.auth or op.authenticator is not None:
        codes |= {401, 403}
    if op.body is not None:
        codes |= {400, 413, 415, 422}
    if "{" in op.path:
        codes.add(404)
    error_ref = schemas.ref(op.error_model or ErrorBody, mode="serialization")
    for status in sorted(codes):
        responses.setdefault(
            str(status),
            {
                "description": ERRORS.get(status, _phrase(status)),
                "headers": REQUEST_ID_HEADER,
                "content": {"application/json": {"schema": error_ref}},
            },
        )
    responses["default"] = {
        "description": "Any other error (500 internal_error, 503 not_ready...).",
        "headers": REQUEST_ID_HEADER,
        "content": {"application/json": {"schema": error_ref}},
    }
    out["responses"] = responses
    if op.auth or op.authenticator is not None:
        out["security"] = [{op.security: []}]
    return out


def _phrase(status: int) -> str:
    from http import HTTPStatus

    return HTTPStatus(status).phrase


def build_openapi(routers: Iterable[Router]) -> dict[str, Any]:
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    tags: list[dict[str, str]] = []
    for router in routers:
        tags.append({"name": router.tag, "description": router.description})
        for op in router.operations:
            paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": "aupguard", "version": __version__, "description": DESCRIPTION},
        "tags": tags,
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.components.items())),
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An aupguard API key: aupg_<key id>_<secret>.",
                },
                "twilioBasic": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "Twilio-compatible endpoints: user = the AccountSid and "
                    "password = an aupguard API key (aupg_<id>_<secret>), or user = "
                    "aupg_<id> and password = the key's secret.",
                },
            },
        },
    }
