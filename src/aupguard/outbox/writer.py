"""Group commit: one writer task per worker process commits the sends of many
concurrent requests in one transaction, and each request answers only after
the transaction that holds its send has committed.

A request calls ``await writer.submit(accept)``; the writer takes everything
queued (up to `max_batch`), runs `store.accept` on its own thread (the event
loop keeps serving), and resolves each request's future with its outcome, or
with the exception when the commit failed (nothing of that batch was written).
On SQLite (WAL, synchronous=FULL) a batch costs one fsync however many sends it
holds; on PostgreSQL one round of multi-row INSERTs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from aupguard.outbox.model import Accept, Accepted
from aupguard.outbox.store import MessageStore

__all__ = ["GroupCommitWriter"]


class GroupCommitWriter:
    def __init__(
        self, store: MessageStore, clock: Callable[[], datetime], max_batch: int = 512
    ) -> None:
        self.store = store
        self.clock = clock
        self.max_batch = max_batch
        self._queue: asyncio.Queue[tuple[Accept, asyncio.Future[Accepted]]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor: ThreadPoolExecutor | None = None
        self.batches = 0
        self.written = 0
        self._busy = False

    def _start(self) -> asyncio.Queue[tuple[Accept, asyncio.Future[Accepted]]]:
        loop = asyncio.get_running_loop()
        if self._queue is None or self._loop is not loop or self._task is None or self._task.done():
            self._loop = loop
            self._queue = asyncio.Queue()
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="aupguard-writer"
                )
            self._task = loop.create_task(self._run(self._queue), name="aupguard-writer")
        return self._queue

    async def submit(self, item: Accept) -> Accepted:
        queue = self._start()
        future: asyncio.Future[Accepted] = asyncio.get_running_loop().create_future()
        queue.put_nowait((item, future))
        return await future

    async def _run(self, queue: asyncio.Queue[tuple[Accept, asyncio.Future[Accepted]]]) -> None:
        loop = asyncio.get_running_loop()
        executor = self._executor
        while True:
            batch = [await queue.get()]
            while len(batch) < self.max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            items = [item for item, _ in batch]
            self._busy = True
            try:
                results = await loop.run_in_executor(
                    executor, self.store.accept, items, self.clock()
                )
            except Exception as exc:  # nothing of this batch was committed
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            finally:
                self._busy = False
            self.batches += 1
            self.written += len(items)
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def close(self) -> None:
        """Let the queued sends commit, then stop."""
        queue, task = self._queue, self._task
        if queue is not None and task is not None and not task.done():
            while not queue.empty() or self._busy:
                await asyncio.sleep(0.005)
            await asyncio.sleep(0)
            task.cancel()
        self._task = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
