"""Liveness and readiness (no authentication: load balancers and orchestrators call them)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

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
    """Checks the database (reachable, schema current) and the policy pack; 503
    ``not_ready`` naming what is wrong otherwise."""
    checks = await run_in_threadpool(call.services.readiness)
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
