"""The delivery worker against real downstreams: NATS JetStream and RabbitMQ on
127.0.0.1, and a real HTTP server; retries, dead letters, signed callbacks."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from aupguard.outbox.config import DeliverySettings
from aupguard.outbox.model import OutboxEntry
from aupguard.outbox.signing import HEADER, verify
from aupguard.outbox.sinks import HttpSink, NatsSink, PermanentError, RabbitSink, sink_for
from aupguard.outbox.store import MemoryMessageStore
from aupguard.outbox.worker import DeliveryWorker, backoff
from tests.contract.test_outbox_store import accept
from tests.outbox.downstream import downstream

NATS = "nats://127.0.0.1:4222"
AMQP = "amqp://guest:guest@127.0.0.1:5672/"
SECRET = b"callback-secret"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def settings(**kw: Any) -> DeliverySettings:
    base: dict[str, Any] = {
        "downstream": "",
        "delivery_attempts": 4,
        "delivery_backoff": 1.0,
        "delivery_backoff_max": 60.0,
        "callback_secret": SecretStr(SECRET.decode()),
    }
    return DeliverySettings(**{**base, **kw})


def queued(
    store: MemoryMessageStore, n: int, clock: Clock, callback: str | None = None
) -> list[str]:
    items = [accept(at=clock()) for _ in range(n)]
    if callback is not None:
        items = [
            type(i)(
                i.tenant,
                i.decision,
                i.message,
                tuple(
                    OutboxEntry(
                        e.id,
                        e.tenant,
                        e.message_id,
                        e.kind,
                        {**e.payload, "status_callback": callback, "from": "+12025550143"},
                        e.created_at,
                        e.next_attempt_at,
                    )
                    for e in i.outbox
                ),
                None,
            )
            for i in items
        ]
    store.accept(items, clock())
    return [i.message.id for i in items if i.message is not None]


async def drain(worker: DeliveryWorker, clock: Clock, step: float = 0.0) -> None:
    for _ in range(50):
        if worker.store.pending() == 0:
            return
        await worker.run_once()
        clock.advance(step)
    raise AssertionError("the outbox did not drain")


# -- NATS JetStream ---------------------------------------------------------------------


async def nats_ids(subject: str, stream: str, expected: int) -> list[str]:
    import nats

    nc = await nats.connect(NATS)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(subject, durable=f"test{uuid.uuid4().hex[:6]}", stream=stream)
        ids: list[str] = []
        while True:
            try:
                batch = await sub.fetch(100, timeout=1)
            except TimeoutError:
                break
            for msg in batch:
                ids.append(orjson.loads(msg.data)["id"])
                assert msg.headers is not None and msg.headers["Nats-Msg-Id"] == ids[-1]
                await msg.ack()
            if len(ids) >= expected:
                break
        await js.delete_stream(stream)
        return ids
    finally:
        await nc.close()


def test_nats_receives_each_message_once_even_when_sent_twice() -> None:
    async def run() -> None:
        clock, store = Clock(), MemoryMessageStore()
        tag = uuid.uuid4().hex[:8]
        subject, stream = f"aupguard.test.{tag}", f"AUPGUARD_TEST_{tag}"
        sink = sink_for(f"{NATS}/{subject}?stream={stream}")
        assert isinstance(sink, NatsSink)
        worker = DeliveryWorker(store, sink, settings(), clock)
        ids = queued(store, 20, clock)
        # a worker that died after publishing, before settling: the entries come back
        for entry in store.claim(clock(), 5, timedelta(seconds=30)):
            await sink.send(entry)
        clock.advance(31)
        await drain(worker, clock)
        received = await nats_ids(subject, stream, 20)
        await worker.close()
        assert sorted(received) == sorted(ids)  # JetStream dropped the repeats by Nats-Msg-Id
        assert all(store.message("acme", i).status == "sent" for i in ids)  # type: ignore[union-attr]

    asyncio.run(run())


# -- RabbitMQ ---------------------------------------------------------------------------


async def rabbit_ids(queue: str) -> list[str]:
    import aio_pika

    connection = await aio_pika.connect(AMQP)
    try:
        channel = await connection.channel()
        q = await channel.declare_queue(queue, durable=True)
        ids = []
        while True:
            message = await q.get(fail=False, timeout=2)
            if message is None:
                break
            assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
            ids.append(str(message.message_id))
            assert orjson.loads(message.body)["id"] == message.message_id
            await message.ack()
        await q.delete(if_unused=False, if_empty=False)
        return ids
    finally:
        await connection.close()


def test_rabbitmq_receives_every_message_with_its_id_for_the_consumer_to_dedupe() -> None:
    async def run() -> None:
        clock, store = Clock(), MemoryMessageStore()
        queue = f"aupguard.test.{uuid.uuid4().hex[:8]}"
        sink = sink_for(f"{AMQP}?queue={queue}")
        assert isinstance(sink, RabbitSink)
        worker = DeliveryWorker(store, sink, settings(), clock)
        ids = queued(store, 20, clock)
        for entry in store.claim(clock(), 3, timedelta(seconds=30)):
            await sink.send(entry)  # sent, then the worker "died"
        clock.advance(31)
        await drain(worker, clock)
        received = await rabbit_ids(queue)
        await worker.close()
        assert len(received) == 23  # at least once: three repeats reach the queue
        assert set(received) == set(ids)  # ... and a consumer deduping by message_id acts once

    asyncio.run(run())


# -- HTTP, retries, dead letters, callbacks -------------------------------------------------


def test_http_downstream_outage_queues_then_drains_and_callbacks_are_signed() -> None:
    with downstream() as (server, received):
        received.fail_next = 6  # the downstream answers 503 for a while

        async def run() -> None:
            clock, store = Clock(), MemoryMessageStore()
            sink = sink_for(f"{server.url}/2010-04-01/Accounts/AC1/Messages.json")
            assert isinstance(sink, HttpSink)
            worker = DeliveryWorker(store, sink, settings(), clock, rng=lambda: 0.0)
            ids = queued(store, 3, clock, callback=f"{server.url}/callback")
            await worker.run_once()  # 3 failures
            await worker.run_once()  # nothing due yet: backoff
            assert store.pending() == 3 and received.messages == []
            clock.advance(0.5)  # attempt 1 waits 1 s * 0.5 (jitter 0)
            await worker.run_once()  # 3 more failures
            clock.advance(1.0)
            await drain(worker, clock, step=5)
            await worker.close()
            assert {m["_id"] for m in received.messages} == set(ids)
            assert all(store.message("acme", i).status == "sent" for i in ids)  # type: ignore[union-attr]
            assert len(received.callbacks) == 3
            for body, headers in received.callbacks:
                assert verify(SECRET, body, headers[HEADER.lower()], time.time())
                assert not verify(b"wrong", body, headers[HEADER.lower()], time.time())
                params = dict(parse_qsl(body.decode()))
                assert params["MessageStatus"] == "sent"
                assert params["MessageSid"] in ids

        asyncio.run(run())


class Failing:
    name = "failing"

    def __init__(self, error: Callable[[], Exception]) -> None:
        self.error = error
        self.calls = 0

    async def send(self, entry: OutboxEntry) -> None:
        self.calls += 1
        raise self.error()

    async def check(self) -> None:
        return None

    async def close(self) -> None:
        return None


def test_after_the_last_attempt_the_entry_is_dead_lettered_and_the_message_failed() -> None:
    async def run() -> None:
        clock, store = Clock(), MemoryMessageStore()
        sink = Failing(lambda: ConnectionError("refused"))
        failures: list[str] = []
        worker = DeliveryWorker(
            store, sink, settings(), clock, on_failure=lambda s, r: failures.append(s)
        )
        (message_id,) = queued(store, 1, clock)
        await drain(worker, clock, step=120)
        assert sink.calls == 4  # delivery_attempts
        assert failures == ["failing"] * 4
        (dead,) = store.dead_letters("acme")
        assert "refused" in (dead.last_error or "")
        message = store.message("acme", message_id)
        assert message is not None and (message.status, message.error_code) == ("failed", 30008)
        await worker.close()

    asyncio.run(run())


def test_a_permanent_refusal_is_dead_lettered_at_once() -> None:
    async def run() -> None:
        clock, store = Clock(), MemoryMessageStore()
        sink = Failing(lambda: PermanentError("HTTP 400 from the downstream"))
        worker = DeliveryWorker(store, sink, settings(), clock)
        queued(store, 1, clock)
        await worker.run_once()
        assert sink.calls == 1
        assert len(store.dead_letters("acme")) == 1
        await worker.close()

    asyncio.run(run())


@given(
    attempt=st.integers(1, 60),
    base=st.floats(0.01, 10),
    cap=st.floats(0.1, 600),
    r=st.floats(0, 0.999),
)
def test_backoff_grows_is_capped_and_jittered(
    attempt: int, base: float, cap: float, r: float
) -> None:
    wait = backoff(attempt, base, cap, lambda: r)
    full = min(cap, base * 2.0 ** (attempt - 1))
    assert full * 0.5 <= wait <= full
    assert wait <= backoff(attempt + 1, base, cap, lambda: 0.999) or full == cap


@pytest.mark.parametrize("url", ["ftp://x/y", "redis://127.0.0.1:6379", "nothing"])
def test_an_unknown_downstream_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="http"):
        sink_for(url)
