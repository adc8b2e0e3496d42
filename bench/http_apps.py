"""The apps the HTTP benchmarks serve (uvicorn factories; see bench/http_*.py).

Framework comparison: the same two endpoints written idiomatically in each
framework. ``POST /echo`` parses a small JSON body and answers a small JSON
object (the trivial baseline); ``POST /screen`` validates an outbound message
with the engine's pydantic model, screens it with the default pack and answers
the decision as JSON.

Gateway: the real `aupguard.api` app plus one trivial endpoint, so that
`/v1/screen` and the baseline are served by the same server in the same run.
"""

from __future__ import annotations

import functools
from typing import Any

import orjson
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aupguard.api.routes.screen import DecisionOut
from aupguard.engine.events import OutboundMessage
from aupguard.engine.facade import Engine

__all__ = ["DecisionOut", "Echo", "EchoOut", "Request"]  # FastAPI resolves annotations here


class Echo(BaseModel):
    model_config = {"extra": "allow"}


class EchoOut(BaseModel):
    ok: bool
    fields: int


@functools.cache
def _engine() -> Engine:
    return Engine.from_pack()


def _json(data: Any) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


def starlette_app() -> Any:
    engine = _engine()

    async def echo(request: Request) -> Response:
        data = orjson.loads(await request.body())
        return _json({"ok": True, "fields": len(data)})

    async def screen(request: Request) -> Response:
        event = OutboundMessage.model_validate_json(await request.body())
        return _json(engine.screen(event).to_dict())

    return Starlette(
        routes=[Route("/echo", echo, methods=["POST"]), Route("/screen", screen, methods=["POST"])]
    )


def fastapi_app() -> Any:
    """FastAPI as its documentation writes it: body and response models."""
    from fastapi import FastAPI

    engine = _engine()
    app = FastAPI()

    @app.post("/echo", response_model=EchoOut)
    async def echo(body: Echo) -> Any:
        return {"ok": True, "fields": len(body.model_dump())}

    @app.post("/screen", response_model=DecisionOut)
    async def screen(event: OutboundMessage) -> Any:
        return engine.screen(event).to_dict()

    return app


def fastapi_raw_app() -> Any:
    """FastAPI with the Request object and no models (what it costs over Starlette)."""
    from fastapi import FastAPI

    engine = _engine()
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> Response:
        data = orjson.loads(await request.body())
        return _json({"ok": True, "fields": len(data)})

    @app.post("/screen")
    async def screen(request: Request) -> Response:
        event = OutboundMessage.model_validate_json(await request.body())
        return _json(engine.screen(event).to_dict())

    return app


def falcon_app() -> Any:
    import falcon
    import falcon.asgi

    engine = _engine()

    class Echo:
        async def on_post(self, req: Any, resp: Any) -> None:
            data = orjson.loads(await req.stream.read())
            resp.data = orjson.dumps({"ok": True, "fields": len(data)})
            resp.content_type = falcon.MEDIA_JSON

    class Screen:
        async def on_post(self, req: Any, resp: Any) -> None:
            event = OutboundMessage.model_validate_json(await req.stream.read())
            resp.data = orjson.dumps(engine.screen(event).to_dict())
            resp.content_type = falcon.MEDIA_JSON

    app = falcon.asgi.App()
    app.add_route("/echo", Echo())
    app.add_route("/screen", Screen())
    return app


def gateway_app() -> Any:
    """The real API (settings from AUPGUARD_*) with one trivial endpoint added."""
    from aupguard.api import Call, Router, create_app
    from aupguard.api.routes import ROUTERS
    from aupguard.config import Settings

    bench = Router(tag="bench")

    @bench.post("/bench/echo", summary="Trivial JSON endpoint", auth=False)
    async def echo(call: Call) -> Any:
        data = orjson.loads(await call.request.body())
        return {"ok": True, "fields": len(data)}

    return create_app(Settings(), routers=[*ROUTERS, bench])
