"""The send path of the HTTP gateway: what `POST /v1/messages` and Twilio's Create
Message screen with, on top of the state every endpoint reads (`services.screener`:
consent and do-not-call, the account's standing).

Built with `aupguard.service.pipeline.build_screener` from the server's settings,
as the library assembles it: traffic limits consumed after the decision
(segments, per channel and sender; in Redis with ``AUPGUARD_REDIS_URL``, so
every worker shares them), traffic and consent signals, the sender registry
when ``AUPGUARD_SENDER_REGISTRY=enforce``, and rule hits queued as case
candidates for enforcement. `POST /v1/screen` does not use it: a decision
asked for does not consume a limit.

Queued candidates are written to the enforcement store by a background task
every `FLUSH_SECONDS` and at shutdown (`start`/`stop` in the app's lifespan);
`aupguard enforce drain` (or the enforcement worker) opens the cases.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from aupguard.api.services import Services
from aupguard.enforcement.sources import CandidateStep
from aupguard.service.pipeline import build_screener
from aupguard.service.screening import Screener

__all__ = ["FLUSH_SECONDS", "SendPath", "send_path", "start", "stop"]

log = logging.getLogger("aupguard.api")

FLUSH_SECONDS = 1.0


@dataclass
class SendPath:
    screener: Screener
    candidates: CandidateStep


def send_path(services: Services) -> SendPath:
    from aupguard.api.routes.enforcement import enforcement

    candidates = CandidateStep(services.component(enforcement))
    screener = build_screener(
        services.settings,
        services.engine,
        services.database,
        sources=services.screener.sources,
        steps=[candidates],
        own_consent=False,
    )
    return SendPath(screener, candidates)


_TASKS: dict[int, asyncio.Task[None]] = {}


async def _flush_forever(path: SendPath) -> None:
    while True:
        await asyncio.sleep(FLUSH_SECONDS)
        if len(path.candidates):
            try:
                await run_in_threadpool(path.candidates.flush)
            except Exception:  # the store is down: the queue keeps them (bounded)
                log.exception("writing case candidates failed; they stay queued")


def start(services: Services) -> None:
    path = services.component(send_path)
    _TASKS[id(services)] = asyncio.get_running_loop().create_task(
        _flush_forever(path), name="aupguard-case-candidates"
    )


async def stop(services: Services) -> None:
    task = _TASKS.pop(id(services), None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    path = services.component(send_path)
    if len(path.candidates):
        try:
            await run_in_threadpool(path.candidates.flush)
        except Exception:  # shutting down: say what is lost, do not hide the rest
            log.exception("case candidates could not be written at shutdown")
