"""The gateway component of the HTTP API: the message store on the service's
database (in memory without one), the group-commit writer, and the delivery
worker when a downstream is configured (`AUPGUARD_DOWNSTREAM`).

`start(services)` and `stop(services)` run in the app's lifespan: the worker
delivers in the background of each worker process; on shutdown the writer
commits what is queued and the worker finishes the deliveries under way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from aupguard.api.metrics import observe_decision, record_failure
from aupguard.api.services import Services
from aupguard.outbox.config import DeliverySettings
from aupguard.outbox.model import OutboxEntry
from aupguard.outbox.sinks import sink_for
from aupguard.outbox.sql import SqlMessageStore
from aupguard.outbox.store import MemoryMessageStore, MessageStore
from aupguard.outbox.upstream import callback_url
from aupguard.outbox.worker import DeliveryWorker
from aupguard.outbox.writer import GroupCommitWriter
from aupguard.service.gateway import Gateway
from aupguard.service.screening import utc_now

__all__ = ["delivery_settings", "gateway_for", "start", "stop"]


def delivery_settings(services: Services) -> DeliverySettings:
    return DeliverySettings()


def gateway_for(services: Services) -> Gateway:
    settings = services.component(delivery_settings)
    store: MessageStore = (
        SqlMessageStore(services.database)
        if services.database is not None
        else MemoryMessageStore()
    )
    worker = None
    if settings.downstream:
        password = settings.downstream_password
        auth = (
            (settings.downstream_username, password.get_secret_value())
            if settings.downstream_username and password
            else None
        )
        sink = sink_for(settings.downstream, auth, settings.delivery_timeout, callbacks(settings))
        worker = DeliveryWorker(store, sink, settings, utc_now, on_failure=record_failure)
    return Gateway(
        store=store,
        writer=GroupCommitWriter(store, utc_now),
        worker=worker,
        observers=[observe_decision],
    )


def callbacks(settings: DeliverySettings) -> Callable[[OutboxEntry], str] | None:
    """Each message's StatusCallback URL on this gateway, when one is configured."""
    base, secret = settings.upstream_callback_url, settings.upstream_callback_secret
    if not base or secret is None:
        return None
    key = secret.get_secret_value().encode()
    return lambda entry: callback_url(base, key, entry.tenant, entry.message_id)


_TASKS: dict[int, asyncio.Task[None]] = {}


def start(services: Services) -> None:
    """Start the delivery worker in the background of this process (when there is one)."""
    gateway = services.component(gateway_for)
    if gateway.worker is not None and services.component(delivery_settings).deliver:
        _TASKS[id(services)] = asyncio.get_running_loop().create_task(
            gateway.worker.run(), name="aupguard-delivery"
        )


async def stop(services: Services, timeout: float = 10.0) -> None:
    """Commit what is queued, finish the deliveries under way, close connections."""
    gateway = services.component(gateway_for)
    await gateway.writer.close()
    task = _TASKS.pop(id(services), None)
    if gateway.worker is not None:
        await gateway.worker.drain(timeout)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await gateway.worker.close()
