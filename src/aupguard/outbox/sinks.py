"""Downstreams the delivery worker hands accepted messages to.

Every sink is at-least-once: an entry is marked done only after the downstream
acknowledged it (HTTP 2xx, JetStream publish ack, RabbitMQ publisher confirm),
so a crash in between sends it again. The effect downstream is exactly once
because every send carries the message id and the receiving side drops a
repeated id:

- HTTP: ``I-Twilio-Idempotency-Token`` and ``Idempotency-Key`` headers = the id;
- NATS JetStream: the ``Nats-Msg-Id`` header = the id (JetStream itself drops
  a repeat within the stream's duplicate window, 2 minutes by default) and the
  JSON payload's ``id``;
- RabbitMQ: the AMQP ``message_id`` property = the id, persistent messages on a
  durable queue, publisher confirms.

A consumer keeps the ids it has processed (a unique key in its own database,
written in the transaction that acts on the message) and acknowledges a repeat
without acting on it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import orjson

from aupguard.outbox.model import OutboxEntry

__all__ = [
    "HttpSink",
    "NatsSink",
    "PermanentError",
    "RabbitSink",
    "Sink",
    "message_bytes",
    "sink_for",
]


class PermanentError(Exception):
    """The downstream refused the message for good (retrying will not help)."""


class Sink(Protocol):
    name: str

    async def send(self, entry: OutboxEntry) -> None:
        """Hand the message over; return once the downstream acknowledged it."""
        ...

    async def check(self) -> None:
        """Raise when the downstream cannot be reached (readiness)."""
        ...

    async def close(self) -> None: ...


def message_bytes(entry: OutboxEntry) -> bytes:
    """What queue sinks publish: the message as JSON, its id first."""
    p = entry.payload
    return orjson.dumps(
        {
            "id": entry.message_id,
            "tenant": entry.tenant,
            "from": p.get("from"),
            "to": p.get("to"),
            "body": p.get("body", ""),
            "media": p.get("media", []),
            "channel": p.get("channel", "sms"),
        }
    )


class HttpSink:
    """POSTs Twilio's Messages form to a Twilio-compatible URL; with `status_callback`,
    each message names the URL its delivery receipts go to (``StatusCallback``)."""

    name = "http"

    def __init__(
        self,
        url: str,
        auth: tuple[str, str] | None = None,
        timeout: float = 10.0,
        status_callback: Callable[[OutboxEntry], str] | None = None,
    ) -> None:
        self.url = url
        self.auth = auth
        self.timeout = timeout
        self.status_callback = status_callback
        self._client: httpx.AsyncClient | None = None

    async def send(self, entry: OutboxEntry) -> None:
        p = entry.payload
        form: dict[str, Any] = {
            "To": str(p.get("to", "")),
            "From": str(p.get("from", "")),
            "Body": str(p.get("body", "")),
        }
        media = [str(u) for u in p.get("media", [])]
        if media:
            form["MediaUrl"] = media
        if self.status_callback is not None:
            form["StatusCallback"] = self.status_callback(entry)
        headers = {
            "I-Twilio-Idempotency-Token": entry.message_id,
            "Idempotency-Key": entry.message_id,
        }
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout)
        answer = await self._client.post(
            self.url, data=form, headers=headers, auth=self.auth or httpx.USE_CLIENT_DEFAULT
        )
        if answer.status_code < 300:
            return
        text = f"HTTP {answer.status_code} from the downstream"
        if 400 <= answer.status_code < 500 and answer.status_code not in (408, 409, 425, 429):
            raise PermanentError(text)
        raise ConnectionError(text)

    async def check(self) -> None:
        parts = urlsplit(self.url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        _, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname, port), timeout=2)
        writer.close()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class NatsSink:
    """Publishes to a NATS JetStream subject (the stream is created when missing)."""

    name = "nats"

    def __init__(self, servers: str, subject: str, stream: str, timeout: float = 10.0) -> None:
        self.servers = servers
        self.subject = subject
        self.stream = stream
        self.timeout = timeout
        self._nc: Any = None
        self._js: Any = None
        self._lock = asyncio.Lock()

    async def _jetstream(self) -> Any:
        async with self._lock:
            if self._nc is None or self._nc.is_closed:
                import nats
                from nats.js.errors import NotFoundError

                nc = await nats.connect(
                    self.servers, connect_timeout=2, max_reconnect_attempts=3, allow_reconnect=True
                )
                js = nc.jetstream(timeout=self.timeout)
                try:
                    await js.stream_info(self.stream)
                except NotFoundError:
                    await js.add_stream(name=self.stream, subjects=[self.subject])
                self._nc, self._js = nc, js
            return self._js

    async def send(self, entry: OutboxEntry) -> None:
        js = await self._jetstream()
        try:
            await js.publish(
                self.subject, message_bytes(entry), headers={"Nats-Msg-Id": entry.message_id}
            )
        except Exception:
            await self._reset()
            raise

    async def _reset(self) -> None:
        async with self._lock:
            nc, self._nc, self._js = self._nc, None, None
        if nc is not None:
            with contextlib.suppress(Exception):  # already broken
                await nc.close()

    async def check(self) -> None:
        await self._jetstream()

    async def close(self) -> None:
        await self._reset()


class RabbitSink:
    """Publishes persistent messages to a durable RabbitMQ queue, with publisher confirms."""

    name = "rabbitmq"

    def __init__(self, url: str, queue: str, timeout: float = 10.0) -> None:
        self.url = url
        self.queue = queue
        self.timeout = timeout
        self._connection: Any = None
        self._channel: Any = None
        self._lock = asyncio.Lock()

    async def _open(self) -> Any:
        async with self._lock:
            if self._channel is None or self._channel.is_closed:
                import aio_pika

                self._connection = await aio_pika.connect(self.url, timeout=self.timeout)
                self._channel = await self._connection.channel(publisher_confirms=True)
                await self._channel.declare_queue(self.queue, durable=True)
            return self._channel

    async def send(self, entry: OutboxEntry) -> None:
        import aio_pika

        channel = await self._open()
        message = aio_pika.Message(
            message_bytes(entry),
            message_id=entry.message_id,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        try:
            await channel.default_exchange.publish(
                message, routing_key=self.queue, timeout=self.timeout, mandatory=True
            )
        except Exception:
            await self._reset()
            raise

    async def _reset(self) -> None:
        async with self._lock:
            connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            with contextlib.suppress(Exception):  # already broken
                await connection.close()

    async def check(self) -> None:
        await self._open()

    async def close(self) -> None:
        await self._reset()


def sink_for(
    url: str,
    auth: tuple[str, str] | None = None,
    timeout: float = 10.0,
    status_callback: Callable[[OutboxEntry], str] | None = None,
) -> Sink:
    """The sink a downstream URL names (see `DeliverySettings.downstream`);
    `status_callback` applies to HTTP upstreams (queues have no receipts to ask for)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if parts.scheme in ("http", "https"):
        return HttpSink(url, auth, timeout, status_callback)
    if parts.scheme in ("nats", "tls"):
        subject = unquote(parts.path.lstrip("/")) or "aupguard.outbound"
        stream = query.get("stream", ["AUPGUARD_OUTBOUND"])[0]
        servers = f"{parts.scheme}://{parts.netloc}"
        return NatsSink(servers, subject, stream, timeout)
    if parts.scheme in ("amqp", "amqps"):
        queue = query.get("queue", ["aupguard.outbound"])[0]
        base = url.split("?", 1)[0]
        return RabbitSink(base, queue, timeout)
    raise ValueError(f"downstream {url!r}: use an http(s)://, nats:// or amqp:// URL")
