"""Liveness and readiness (no authentication: load balancers and orchestrators call them)."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from aupguard.api.delivery import gateway_for
from aupguard.api.metrics import CONTENT_TYPE_LATEST, render
from aupguard.api.routing import Call, Router, json_response

router = Router(tag="operations", description="Liveness and readiness probes.")


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready"]
    checks: dict[str, str]


@router.get("/healthz", summary="The process is alive", auth=False, responses={200: Health})
async def healthz(call: Call) -> dict[str, Any]:
    """Answers as long as the worker's event loop runs; checks no dependency."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The process can serve traffic",
    auth=False,
    responses={200: Readiness},
    errors=(503,),
)
async def readyz(call: Call) -> Response:
    """Checks the database (reachable, schema current), the policy pack, and, when
    configured, Redis (`AUPGUARD_REDIS_URL`) and the downstream broker or URL
    (`AUPGUARD_DOWNSTREAM`); 503 ``not_ready`` naming what is wrong otherwise."""
    checks = await run_in_threadpool(call.services.readiness)
    if call.services.settings.redis_url:
        checks["redis"] = await run_in_threadpool(_redis, call.services.settings.redis_url)
    worker = call.services.component(gateway_for).worker
    if worker is not None and worker.sink is not None:
        try:
            await asyncio.wait_for(worker.sink.check(), 3)
            checks["downstream"] = "ok"
        except Exception as exc:  # the broker or upstream cannot be reached
            checks["downstream"] = f"unreachable: {type(exc).__name__}"
    failing = {name: state for name, state in checks.items() if state != "ok"}
    if not failing:
        return json_response({"status": "ready", "checks": checks})
    what = "; ".join(f"{name}: {state}" for name, state in failing.items())
    return json_response(
        {
            "error": {
                "code": "not_ready",
                "message": f"Not ready: {what}.",
                "fields": [],
                "request_id": call.request.scope.get("state", {}).get("request_id"),
            }
        },
        503,
    )


def _redis(url: str) -> str:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        client.ping()
        client.close()
    except Exception as exc:  # Redis is down or unreachable
        return f"unreachable: {type(exc).__name__}"
    return "ok"


@router.get("/metrics", summary="Prometheus metrics", auth=False, responses={200: None})
async def metrics(call: Call) -> Response:
    """Decisions by verdict, rule and clause; request latency; outbox depth; delivery
    failures; fail-open events (Prometheus text format; see aupguard.api.metrics)."""
    store = call.services.component(gateway_for).store

    def pending() -> int | None:
        try:
            return store.pending()
        except Exception:  # the database is down: leave the gauge out
            return None

    body = await run_in_threadpool(render, pending)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
