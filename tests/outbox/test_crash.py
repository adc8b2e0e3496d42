"""Crash test: a real `aupguard serve` process under load, killed with SIGKILL
mid-run and started again, delivering to real NATS JetStream.

Every send carries an Idempotency-Key. A send whose connection the crash cut is
sent again after the restart with the same key and body (what a client does),
so that every send ends with a definite answer. Then: every message that got a
2xx reaches the stream, once per id after the consumer's dedupe (the test
counts), and no message that got an error (blocked sends) reaches it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from aupguard.actors import Actor, Role
from aupguard.api import build_services
from aupguard.config import Settings
from aupguard.store.migrate import upgrade
from tests.services import free_port, postgres_database

NATS = "nats://127.0.0.1:4222"
PEPPER = "crash-test-pepper"
PHISH = "Your parcel is held, pay the fee at hxxp://dhl-track[.]top/pay"
OPERATOR = Actor(id="test-operator", roles=frozenset({Role.ADMIN}))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'crash.sqlite'}"
    else:
        with postgres_database() as url:
            yield url


class Served:
    def __init__(self, url: str, downstream: str, tmp: Path) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            "AUPGUARD_DATABASE_URL": url,
            "AUPGUARD_KEY_PEPPER": PEPPER,
            "AUPGUARD_DOWNSTREAM": downstream,
            "AUPGUARD_DELIVERY_POLL": "0.05",
            "AUPGUARD_DELIVERY_LEASE": "1",
            "AUPGUARD_ACCESS_LOG": "false",
            "AUPGUARD_LOG_LEVEL": "warning",
        }
        self.log = (tmp / "serve.log").open("ab")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, probe: str = "/readyz") -> None:
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / "aupguard"), "serve", "--port", str(self.port)],
            env=self.env,
            stdout=self.log,
            stderr=self.log,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}{probe}", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"aupguard serve exited with {self.process.returncode}")
            time.sleep(0.1)
        raise RuntimeError("aupguard serve did not become ready")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.log.close()


Answer = tuple[str, int | None, str | None]
"""(idempotency key, HTTP status or None when the connection failed, message id)."""


async def load(base: str, key: str, seconds: float, sends: list[tuple[str, bytes]]) -> list[Answer]:
    answers: list[Answer] = []
    stop = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    async def sender(n: int, client: httpx.AsyncClient) -> None:
        i = 0
        while time.monotonic() < stop:
            i += 1
            ikey = f"w{n}-{i}"
            body = PHISH if i % 5 == 1 else f"hello {n}-{i}"
            # a sender per send: a long code's rate (1 segment/s) would throttle the rest
            sender = f"+1202555{(n * 600 + i) % 10000:04d}"
            raw = orjson.dumps({"from": sender, "to": "+14155550123", "body": body})
            sends.append((ikey, raw))
            try:
                r = await client.post(
                    "/v1/messages", content=raw, headers={**headers, "Idempotency-Key": ikey}
                )
                answers.append((ikey, r.status_code, r.headers.get("x-message-id")))
            except httpx.HTTPError:
                answers.append((ikey, None, None))
                await asyncio.sleep(0.05)

    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        await asyncio.gather(*(sender(n, client) for n in range(16)))
    return answers


async def resend(base: str, key: str, pending: list[tuple[str, bytes]]) -> list[Answer]:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    out: list[Answer] = []
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        for ikey, raw in pending:
            r = await client.post(
                "/v1/messages", content=raw, headers={**headers, "Idempotency-Key": ikey}
            )
            out.append((ikey, r.status_code, r.headers.get("x-message-id")))
    return out


async def stream_ids(subject: str, stream: str, want: set[str], timeout: float) -> list[str]:
    """Every delivery on the stream (repeats included), once `want` have arrived."""
    import nats
    from nats.js.errors import NotFoundError

    nc = await nats.connect(NATS)
    js = nc.jetstream()
    ids: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        sub = None
        while sub is None and time.monotonic() < deadline:
            try:
                sub = await js.pull_subscribe(subject, durable="crash", stream=stream)
            except NotFoundError:
                await asyncio.sleep(0.2)
        assert sub is not None, "nothing was ever published"
        idle = 0
        while time.monotonic() < deadline:
            try:
                batch = await sub.fetch(500, timeout=0.5)
            except TimeoutError:
                idle += 1
                if want <= set(ids) and idle >= 4:  # all there, and nothing more coming
                    break
                continue
            idle = 0
            for msg in batch:
                ids.append(orjson.loads(msg.data)["id"])
                await msg.ack()
        await js.delete_stream(stream)
    finally:
        await nc.close()
    return ids


def test_sigkill_under_load_loses_nothing_and_delivers_nothing_refused(
    database_url: str, tmp_path: Path
) -> None:
    services = build_services(Settings(database_url=database_url, key_pepper=PEPPER))
    assert services.database is not None
    upgrade(services.database)
    key = services.keys.issue(OPERATOR, "acme", ["send"], "crash").secret
    services.close()
    tag = uuid.uuid4().hex[:8]
    subject, stream = f"aupguard.crash.{tag}", f"AUPGUARD_CRASH_{tag}"
    server = Served(database_url, f"{NATS}/{subject}?stream={stream}", tmp_path)
    sends: list[tuple[str, bytes]] = []
    try:
        server.start()

        async def run_and_kill() -> list[Answer]:
            task = asyncio.create_task(load(server.base, key, 3.0, sends))
            await asyncio.sleep(1.5)
            await asyncio.to_thread(server.kill)  # SIGKILL, mid-run
            return await task

        answers = asyncio.run(run_and_kill())
        server.start()  # the same database: the outbox survives
        bodies = dict(sends)
        cut = [(k, bodies[k]) for k, status, _ in answers if status is None]
        retried = asyncio.run(resend(server.base, key, cut))
        final: dict[str, tuple[int | None, str | None]] = {
            k: (status, mid) for k, status, mid in answers if status is not None
        }
        final.update({k: (status, mid) for k, status, mid in retried})
        assert len(final) == len(sends)
        accepted = {mid for status, mid in final.values() if status == 202 and mid}
        refused = {mid for status, mid in final.values() if status != 202 and mid}
        # 403: blocked by the policy; 429: over the account's plan rate (50 msg/s by
        # default); neither may be delivered
        assert {status for status, _ in final.values()} <= {202, 403, 429}
        assert len(accepted) > 50 and refused and cut  # the crash did cut some sends
        delivered = asyncio.run(stream_ids(subject, stream, accepted, timeout=60))
    finally:
        server.stop()
    consumed = set(delivered)  # the consumer dedupes by id
    assert consumed == accepted  # every 2xx delivered; nothing else
    assert len(consumed) == len(accepted)
    assert not consumed & refused


def test_a_downstream_outage_queues_messages_and_they_drain_when_it_returns(
    tmp_path: Path,
) -> None:
    """A real server whose HTTP downstream is down: sends are accepted and wait in the
    outbox (the queue depth shows them); when the downstream comes up they all arrive."""
    from tests.outbox.downstream import Received, Server, downstream_app

    url = f"sqlite:///{tmp_path / 'outage.sqlite'}"
    services = build_services(Settings(database_url=url, key_pepper=PEPPER))
    assert services.database is not None
    upgrade(services.database)
    key = services.keys.issue(OPERATOR, "acme", ["send"], "outage").secret
    services.close()
    received = Received()
    down = Server(downstream_app(received), free_port())
    server = Served(url, f"{down.url}/2010-04-01/Accounts/AC1/Messages.json", tmp_path)
    # quick retries, and more of them (the most allowed) than can fail while the test
    # runs: with the default 8, a slow machine dead-lettered the first message before
    # the queue was counted
    server.env.update(
        {
            "AUPGUARD_DELIVERY_BACKOFF": "0.2",
            "AUPGUARD_DELIVERY_BACKOFF_MAX": "1",
            "AUPGUARD_DELIVERY_ATTEMPTS": "100",
        }
    )
    try:
        server.start(probe="/healthz")  # not ready: its downstream is down
        assert httpx.get(f"{server.base}/readyz", timeout=10).status_code == 503
        headers = {"Authorization": f"Bearer {key}"}
        ids = []
        for i in range(20):
            body = {"from": f"+1202555{i:04d}", "to": "+14155550123", "body": f"hello {i}"}
            r = httpx.post(f"{server.base}/v1/messages", json=body, headers=headers, timeout=10)
            assert r.status_code == 202
            ids.append(r.json()["id"])
        time.sleep(1.0)  # a few failed attempts
        metrics = httpx.get(f"{server.base}/metrics", timeout=10).text
        assert "aupguard_outbox_pending 20.0" in metrics
        assert "aupguard_delivery_failures_total" in metrics
        down.start()  # the downstream is back
        deadline = time.monotonic() + 60
        while received.unique < set(ids) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        server.stop()
        down.stop()
    assert received.unique == set(ids)
    assert {m["Body"] for m in received.messages} == {f"hello {i}" for i in range(20)}
