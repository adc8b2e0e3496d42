"""The one ASGI middleware: request ids, the access log, and the last line of
defence that turns an unhandled exception into a JSON 500 (never a traceback)."""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aupguard.api.logs import get_logger
from aupguard.api.metrics import REQUEST_SECONDS

__all__ = ["RequestContext"]

_ALLOWED = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            if 0 < len(value) <= 128 and set(value) <= _ALLOWED:
                return str(value.decode())
            return None
    return None


class RequestContext:
    def __init__(self, app: ASGIApp, access_log: bool = True) -> None:
        self.app = app
        self.access_log = access_log
        self.log = get_logger("aupguard.api")
        self.out = sys.stdout.buffer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = _incoming_id(scope) or os.urandom(8).hex()
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        header = (b"x-request-id", request_id.encode())
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            self.log.exception(
                "unhandled_error",
                request_id=request_id,
                method=scope["method"],
                route=_route(scope),
                actor=state.get("actor"),
            )
            if status == 0:
                status = 500
                body = orjson.dumps(
                    {
                        "error": {
                            "code": "internal_error",
                            "message": "The server failed while handling this request; "
                            "it has been logged with the request id.",
                            "fields": [],
                            "request_id": request_id,
                        }
                    }
                )
                await send(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            header,
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
        finally:
            elapsed = time.perf_counter() - start
            REQUEST_SECONDS.labels(_route(scope)).observe(elapsed)
            if self.access_log:
                # the same JSON line structlog writes, rendered directly: this runs on
                # every request, and structlog's processor chain cost 20% of /v1/screen
                line = {
                    "request_id": request_id,
                    "method": scope["method"],
                    "route": _route(scope),
                    "status": status,
                    "ms": round(elapsed * 1000, 3),
                    "actor": state.get("actor"),
                    "event": "request",
                    "level": "info",
                    "logger": "aupguard.api",
                    "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                }
                self.out.write(orjson.dumps(line) + b"\n")
                self.out.flush()


def _route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "(no route)"
