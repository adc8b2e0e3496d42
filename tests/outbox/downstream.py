"""A real HTTP downstream for tests: a Twilio-compatible Messages URL and a status
callback receiver, served by uvicorn on 127.0.0.1 in a thread. It keeps what it
received and, like a real consumer, acts once per message id."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.services import free_port


@dataclass
class Received:
    messages: list[dict[str, str]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    """Every id received, repeats included."""
    callbacks: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    fail_next: int = 0
    """Answer this many requests with 503 first (a downstream in trouble)."""

    @property
    def unique(self) -> set[str]:
        return set(self.ids)


def downstream_app(received: Received) -> Starlette:
    async def messages(request: Request) -> Response:
        if received.fail_next > 0:
            received.fail_next -= 1
            return JSONResponse({"code": 20500, "message": "busy"}, status_code=503)
        form = dict(parse_qsl((await request.body()).decode()))
        ident = request.headers.get("i-twilio-idempotency-token", "")
        if ident not in received.unique:  # a repeat is acknowledged, not acted on
            received.messages.append({**form, "_id": ident})
        received.ids.append(ident)
        return JSONResponse({"sid": ident, "status": "queued"}, status_code=201)

    async def callback(request: Request) -> Response:
        received.callbacks.append((await request.body(), dict(request.headers)))
        return Response(status_code=204)

    return Starlette(
        routes=[
            Route("/2010-04-01/Accounts/{sid}/Messages.json", messages, methods=["POST"]),
            Route("/callback", callback, methods=["POST"]),
        ]
    )


class Server:
    def __init__(self, app: Any, port: int) -> None:
        self.port = port
        self.app = app
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def serving(app: Any, port: int | None = None) -> Iterator[Server]:
    server = Server(app, port or free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def downstream() -> Iterator[tuple[Server, Received]]:
    received = Received()
    with serving(downstream_app(received)) as server:
        yield server, received
