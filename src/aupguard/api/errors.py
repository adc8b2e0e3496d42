"""Uniform error answers: every 4xx and 5xx is

    {"error": {"code": "<machine code>", "message": "<a sentence>", "fields": [...],
               "request_id": "..."}}

`fields` names each field that failed validation (``field`` as a dotted
path, ``code``, ``message``); it is empty for errors that are not about one
field. Handlers raise `ApiError`, or a domain exception registered with
`register_error` (``Forbidden`` -> 403, ``KeyNotFound`` -> 404); anything else
becomes a 500 ``internal_error`` whose details go to the log, never to the client.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import Response

from aupguard.actors import Forbidden
from aupguard.api.keys import KeyNotFound
from aupguard.engine.events import EventKind

__all__ = [
    "ApiError",
    "ErrorBody",
    "ErrorDetail",
    "FieldError",
    "error_response",
    "from_exception",
    "register_error",
    "validation_error",
]


class FieldError(BaseModel):
    model_config = ConfigDict(extra="forbid")
    field: str = Field(
        description="Dotted path of the field in the request body ('' for the body itself)."
    )
    code: str = Field(description="What is wrong: missing, unknown_field, string_too_long, ...")
    message: str


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(description="Machine-readable error code.")
    message: str = Field(description="A human sentence saying what is wrong.")
    fields: list[FieldError] = Field(default_factory=list)
    request_id: str | None = None


class ErrorBody(BaseModel):
    """Every 4xx and 5xx answer."""

    model_config = ConfigDict(extra="forbid")
    error: ErrorDetail


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: Sequence[Mapping[str, str]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = [dict(f) for f in fields]
        self.headers = dict(headers or {})


def error_response(error: ApiError, request_id: str | None = None) -> Response:
    body: dict[str, Any] = {
        "error": {
            "code": error.code,
            "message": error.message,
            "fields": error.fields,
            "request_id": request_id,
        }
    }
    return Response(
        orjson.dumps(body),
        status_code=error.status,
        headers=error.headers,
        media_type="application/json",
    )


_REGISTRY: dict[type[Exception], tuple[int, str]] = {
    Forbidden: (403, "forbidden"),
    KeyNotFound: (404, "not_found"),
}


def register_error(exc_type: type[Exception], status: int, code: str) -> None:
    """Answer a domain exception (and its subclasses) with `status` and `code`; the
    message is the exception's own text, so write it as a sentence a client can read."""
    _REGISTRY[exc_type] = (status, code)


def from_exception(exc: Exception) -> ApiError | None:
    """The ApiError for a registered domain exception, else None."""
    if isinstance(exc, ApiError):
        return exc
    for cls in type(exc).__mro__:
        found = _REGISTRY.get(cls)
        if found is not None:
            text = f"this key may not {exc.needed}" if isinstance(exc, Forbidden) else str(exc)
            return ApiError(found[0], found[1], _sentence(text))
    return None


def _sentence(text: str) -> str:
    text = text.strip() or "The request was refused."
    return text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")


_KINDS = frozenset(k.value for k in EventKind)
_FIELD_CODES = {"extra_forbidden": "unknown_field"}


def validation_error(exc: ValidationError, where: str = "body") -> ApiError:
    """400 ``malformed_json`` when the body is not JSON, else 422 ``validation_failed``
    naming every field that is wrong."""
    errors = exc.errors(include_url=False, include_input=False)
    for err in errors:
        if err["type"] == "json_invalid":
            detail = str(err.get("ctx", {}).get("error", "")) or err["msg"]
            return ApiError(400, "malformed_json", f"The {where} is not valid JSON: {detail}.")
    fields = []
    for err in errors:
        loc = list(err["loc"])
        if loc and loc[0] in _KINDS:
            loc = loc[1:]  # the tag of the event union, not a field
        fields.append(
            {
                "field": ".".join(str(p) for p in loc),
                "code": _FIELD_CODES.get(err["type"], err["type"]),
                "message": err["msg"],
            }
        )
    names = sorted({f["field"] for f in fields if f["field"]})
    if names:
        listed = ", ".join(repr(n) for n in names[:5]) + (" and more" if len(names) > 5 else "")
        message = f"The {where} has invalid fields: {listed}."
    else:
        message = (
            f"The {where} is invalid: {fields[0]['message'] if fields else 'unknown problem'}."
        )
    return ApiError(422, "validation_failed", message, fields)
