"""The delivery worker: claims due outbox entries, hands them to the downstream
(or calls the sender's status callback), and settles them.

- Success: the entry is done, the message becomes ``sent`` and, when the sender
  gave a StatusCallback URL, a callback entry is enqueued in the same transaction.
- Failure: retried after ``base * 2^(attempt-1)`` seconds (at most
  `delivery_backoff_max`), times a random factor in [0.5, 1) so that retries of
  many messages do not arrive together; after `delivery_attempts` attempts, or
  at once when the downstream refused for good (`PermanentError`), the entry is
  dead-lettered and the message ``failed`` (error code 30008, Twilio's
  "unknown error" of undelivered messages).
- A worker that dies while sending leaves its entries leased; the lease runs
  out and another worker (or the restarted one) sends them again with the same
  message id, which the downstream drops as a repeat (see `sinks`).

Several workers (processes, machines) can run on one database: a claim is a
conditional update (and ``FOR UPDATE SKIP LOCKED`` on PostgreSQL).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx

from aupguard.outbox.config import DeliverySettings
from aupguard.outbox.model import OutboxEntry, new_id
from aupguard.outbox.signing import HEADER, sign
from aupguard.outbox.sinks import PermanentError, Sink
from aupguard.outbox.store import MessageStore, StatusUpdate

__all__ = ["DeliveryWorker", "backoff", "callback_entry"]

log = logging.getLogger("aupguard.outbox")

UNDELIVERED_CODE = 30008


def backoff(attempt: int, base: float, cap: float, rng: Callable[[], float]) -> float:
    """Seconds before attempt `attempt + 1`: exponential, capped, jittered in [0.5, 1)."""
    return float(min(cap, base * 2.0 ** max(0, attempt - 1)) * (0.5 + rng() / 2))


def callback_entry(
    tenant: str,
    message_id: str,
    url: str,
    params: dict[str, str],
    now: datetime,
) -> OutboxEntry:
    return OutboxEntry(
        id=new_id("CB"),
        tenant=tenant,
        message_id=message_id,
        kind="callback",
        payload={"url": url, "params": params},
        created_at=now,
        next_attempt_at=now,
    )


def status_params(payload: Any, message_id: str, status: str, error: int | None) -> dict[str, str]:
    """Twilio's status callback parameters."""
    params = {
        "MessageSid": message_id,
        "SmsSid": message_id,
        "MessageStatus": status,
        "SmsStatus": status,
        "AccountSid": str(payload.get("account_sid") or ""),
        "From": str(payload.get("from", "")),
        "To": str(payload.get("to", "")),
    }
    if error is not None:
        params["ErrorCode"] = str(error)
    return params


class DeliveryWorker:
    def __init__(
        self,
        store: MessageStore,
        sink: Sink | None,
        settings: DeliverySettings,
        clock: Callable[[], datetime],
        rng: Callable[[], float] = random.random,
        on_failure: Callable[[str, str], None] | None = None,
    ) -> None:
        self.store = store
        self.sink = sink
        self.settings = settings
        self.clock = clock
        self.rng = rng
        self.on_failure = on_failure
        secret = settings.callback_secret
        self.secret = secret.get_secret_value().encode() if secret else None
        self._http: httpx.AsyncClient | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._inflight: set[asyncio.Future[int]] = set()
        self.delivered = 0
        self.failures = 0

    def wake(self) -> None:
        """New work was committed: look now rather than at the next poll."""
        self._wake.set()

    async def run_once(self) -> int:
        """Claim and handle one batch; how many entries it held."""
        loop = asyncio.get_running_loop()
        lease = timedelta(seconds=self.settings.delivery_lease)
        entries = await loop.run_in_executor(
            None, self.store.claim, self.clock(), self.settings.delivery_batch, lease
        )
        if not entries:
            return 0
        limit = asyncio.Semaphore(self.settings.delivery_concurrency)

        async def one(entry: OutboxEntry) -> None:
            async with limit:
                await self.handle(entry)

        await asyncio.gather(*(one(e) for e in entries))
        return len(entries)

    async def handle(self, entry: OutboxEntry) -> None:
        loop = asyncio.get_running_loop()
        try:
            if entry.kind == "deliver":
                if self.sink is None:
                    raise ConnectionError("no downstream is configured")
                await self.sink.send(entry)
            else:
                await self._callback(entry)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"[:500]
            self.failures += 1
            if self.on_failure is not None:
                self.on_failure(
                    self.sink.name if self.sink and entry.kind == "deliver" else entry.kind, reason
                )
            permanent = isinstance(exc, PermanentError)
            if permanent or entry.attempts >= self.settings.delivery_attempts:
                log.warning("dead_letter id=%s kind=%s reason=%s", entry.id, entry.kind, reason)
                status: StatusUpdate | None = None
                follow: list[OutboxEntry] = []
                if entry.kind == "deliver":
                    status = ("failed", UNDELIVERED_CODE)
                    follow = self._callbacks(entry, "failed", UNDELIVERED_CODE)
                await loop.run_in_executor(
                    None, self._settle, entry, "dead", reason, status, follow
                )
            else:
                wait = backoff(
                    entry.attempts,
                    self.settings.delivery_backoff,
                    self.settings.delivery_backoff_max,
                    self.rng,
                )
                await loop.run_in_executor(
                    None,
                    self.store.reschedule,
                    entry,
                    self.clock() + timedelta(seconds=wait),
                    reason,
                )
            return
        if entry.kind == "deliver":
            self.delivered += 1
            await loop.run_in_executor(
                None,
                self._settle,
                entry,
                "done",
                None,
                ("sent", None),
                self._callbacks(entry, "sent", None),
            )
        else:
            await loop.run_in_executor(None, self._settle, entry, "done", None, None, [])

    def _settle(
        self,
        entry: OutboxEntry,
        state: Any,
        error: str | None,
        status: StatusUpdate | None,
        follow: list[OutboxEntry],
    ) -> None:
        self.store.settle(entry, self.clock(), state, error, status, follow)

    def _callbacks(self, entry: OutboxEntry, status: str, error: int | None) -> list[OutboxEntry]:
        url = entry.payload.get("status_callback")
        if not url:
            return []
        params = status_params(entry.payload, entry.message_id, status, error)
        return [callback_entry(entry.tenant, entry.message_id, str(url), params, self.clock())]

    async def _callback(self, entry: OutboxEntry) -> None:
        if self.secret is None:
            raise PermanentError("no callback secret is configured (AUPGUARD_CALLBACK_SECRET)")
        body = httpx.QueryParams(dict(entry.payload["params"])).__str__().encode()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            HEADER: sign(self.secret, body, int(time.time())),
            "Idempotency-Key": entry.id,
        }
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.settings.delivery_timeout)
        answer = await self._http.post(str(entry.payload["url"]), content=body, headers=headers)
        if answer.status_code >= 300:
            raise ConnectionError(f"HTTP {answer.status_code} from the status callback")

    async def run(self) -> None:
        """Deliver until `drain` is called."""
        self._stopping = False
        while not self._stopping:
            try:
                task = asyncio.ensure_future(self.run_once())
                self._inflight.add(task)
                try:
                    handled = await asyncio.shield(task)
                finally:
                    self._inflight.discard(task)
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is down: log, wait, go on
                log.exception("delivery_batch_failed")
                handled = 0
            if handled == 0 and not self._stopping:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.delivery_poll)

    async def drain(self, timeout: float = 10.0) -> None:
        """Stop claiming, and wait (at most `timeout`) for the deliveries under way."""
        self._stopping = True
        self._wake.set()
        if self._inflight:
            await asyncio.wait(list(self._inflight), timeout=timeout)

    async def close(self) -> None:
        """Close connections (they are opened again when needed)."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        if self.sink is not None:
            await self.sink.close()
