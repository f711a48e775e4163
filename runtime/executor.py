"""One streaming executor for every job (Lingo-BP runs, evaluations): items in, results out as they finish.

In process, ``concurrency`` items run at a time on this event loop; with a :class:`RayPool` they are
spread over actors (see :func:`runtime.ray_pool.ray_map`). Either way each result goes to
``on_result`` as soon as it exists and into a :class:`BatchWriter`, which writes in short batches —
on size and on a clock — and once more at the end, also when the job is interrupted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

from runtime.ray_pool import Admit, RayPool, RemoteCall, ray_map
from schemas.errors import OysterError

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger(__name__)


class BatchWriter(Generic[R]):
    """Buffers results and writes them in one short transaction per batch.

    A batch whose write fails stays buffered and is tried again on the next flush, so a writer that
    waits out another process's lock never loses a finished result; ``close`` keeps trying until
    the write succeeds or its own deadline passes, then raises with the batch still buffered.
    """

    def __init__(
        self,
        write: Callable[[list[R]], None],
        *,
        batch_size: int = 8,
        max_wait_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.write = write
        self.batch_size = batch_size
        self.max_wait_s = max_wait_s
        self.clock = clock
        self.buffer: list[R] = []
        self.written = 0
        self._last_flush = clock()
        self._lock = asyncio.Lock()

    def due(self) -> bool:
        return bool(self.buffer) and (
            len(self.buffer) >= self.batch_size or self.clock() - self._last_flush >= self.max_wait_s
        )

    async def add(self, result: R) -> None:
        self.buffer.append(result)
        if self.due():
            await self.flush(raise_errors=False)

    async def tick(self) -> None:
        """Flush on a clock too, so a result never waits in memory for the next one to finish."""
        while True:
            await asyncio.sleep(self.max_wait_s)
            if self.due():
                await self.flush(raise_errors=False)

    async def flush(self, *, raise_errors: bool = True) -> bool:
        """Write what is buffered; on failure keep it buffered. Returns whether the buffer is empty."""
        async with self._lock:
            batch = list(self.buffer)
            if batch:
                writing = asyncio.ensure_future(asyncio.to_thread(self.write, batch))
                try:
                    try:
                        await asyncio.shield(writing)
                    except asyncio.CancelledError:
                        # The thread writes on regardless: wait for it, so the buffer tells the truth
                        # and the final flush does not write the same batch twice.
                        await asyncio.wait([writing])
                        if writing.exception() is None:
                            del self.buffer[: len(batch)]
                            self.written += len(batch)
                        raise
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if raise_errors:
                        raise
                    log.warning("write of %d result(s) failed, kept for the next flush: %s", len(batch), exc)
                    return False
                # Only what was written leaves the buffer; results added meanwhile stay.
                del self.buffer[: len(batch)]
                self.written += len(batch)
            self._last_flush = self.clock()
            return not self.buffer

    async def drain(self, deadline_s: float = 600.0, pause_s: float = 1.0) -> None:
        """Flush until everything is written, retrying failed writes until ``deadline_s`` has passed.

        A reader that holds the DuckDB file (its single-writer lock) makes writes wait; the results
        stay buffered meanwhile, so a finished result is lost only if the file stays locked past
        the deadline, and then the error says how many.
        """
        give_up = self.clock() + deadline_s
        while True:
            try:
                if await self.flush():
                    return
            except Exception as exc:
                if self.clock() >= give_up:
                    raise WriteFailed(
                        f"{len(self.buffer)} finished result(s) could not be written for {deadline_s:.0f} s: "
                        f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                    ) from exc
                log.warning("warehouse busy, retrying the write of %d result(s): %s", len(self.buffer), exc)
            await asyncio.sleep(pause_s)


class WriteFailed(OysterError, RuntimeError):
    """Finished results could not be written before the writer's deadline."""


async def results(
    items: Sequence[T],
    *,
    key: Callable[[T], str],
    local: Callable[[T], Awaitable[R]] | None = None,
    concurrency: int = 1,
    pool: RayPool | None = None,
    remote: RemoteCall[T, R] | None = None,
    admit: Admit[T] = lambda _: True,
) -> AsyncIterator[R]:
    """Yield each item's result as it finishes, in process or on the pool's actors.

    ``admit(item)`` is asked just before an item would start; an item it refuses never starts and
    yields nothing (a budget stops a run this way, the same in process and on Ray).
    """
    if pool is None:
        if local is None:
            raise ValueError("results() needs `local` when no Ray pool is given")
        gate = asyncio.Semaphore(concurrency)

        async def one(item: T) -> tuple[R] | None:
            async with gate:
                return (await local(item),) if admit(item) else None

        for next_result in asyncio.as_completed([one(item) for item in items]):
            if (done := await next_result) is not None:
                yield done[0]
        return
    if remote is None:
        raise ValueError("results() needs `remote` with a Ray pool")
    arrived: asyncio.Queue[tuple[R] | None] = asyncio.Queue()

    async def got(item: T, value: Any) -> None:
        await arrived.put((remote.decode(item, value),))

    async def lost(item: T, exc: Exception) -> None:
        await arrived.put((remote.lost(item, exc),))

    async def drive() -> None:
        try:
            await ray_map(pool, items, key=key, call=remote.call, on_result=got, on_lost=lost, admit=admit)
        finally:
            await arrived.put(None)

    driver = asyncio.create_task(drive())
    try:
        while (item := await arrived.get()) is not None:
            yield item[0]
        await driver
    finally:
        if not driver.done():
            driver.cancel()


async def execute(
    items: Sequence[T],
    *,
    key: Callable[[T], str],
    writer: BatchWriter[R],
    on_result: Callable[[R], None] = lambda _: None,
    local: Callable[[T], Awaitable[R]] | None = None,
    concurrency: int = 1,
    pool: RayPool | None = None,
    remote: RemoteCall[T, R] | None = None,
    admit: Admit[T] = lambda _: True,
) -> None:
    """Run every item ``admit`` lets start, stream each result to ``on_result`` and the writer; always
    flush at the end."""
    ticker = asyncio.create_task(writer.tick())
    try:
        async for result in results(
            items, key=key, local=local, concurrency=concurrency, pool=pool, remote=remote, admit=admit
        ):
            on_result(result)
            await writer.add(result)
    finally:
        ticker.cancel()
        # Whatever finished is written even when the job is interrupted.
        await writer.drain()
