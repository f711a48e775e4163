"""One streaming executor for every job (Lingo-BP runs, evaluations): items in, results out as they finish.

In process, ``concurrency`` items run at a time on this event loop; with a :class:`RayPool` they are
spread over actors (see :func:`runtime.ray_pool.ray_map`). Either way each result goes to
``on_result`` as soon as it exists and into a :class:`BatchWriter`, which writes in short batches —
on size and on a clock — and once more at the end, also when the job is interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

from runtime.ray_pool import Admit, RayPool, RemoteCall, ray_map
from schemas.errors import OysterError
from warehouse.errors import is_busy

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
        busy: Callable[[Exception], bool] = is_busy,
    ) -> None:
        self.write = write
        #: whether a failed write is lock contention (kept and retried); any other failure is not
        #: retried as a whole: the batch is written one result at a time and what still fails is set aside
        self.busy = busy
        self.rejected: list[tuple[R, Exception]] = []
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
                    if not self.busy(exc):
                        await self._one_by_one(batch)
                        self._last_flush = self.clock()
                        return not self.buffer
                    if raise_errors:
                        raise
                    log.warning("write of %d result(s) failed, kept for the next flush: %s", len(batch), exc)
                    return False
                # Only what was written leaves the buffer; results added meanwhile stay.
                del self.buffer[: len(batch)]
                self.written += len(batch)
            self._last_flush = self.clock()
            return not self.buffer

    async def _one_by_one(self, batch: list[R]) -> None:
        """After a write failed for another reason than a lock: write each result of the batch alone,
        so that one bad result (a value its column cannot hold) never holds back the others."""
        kept: list[R] = []
        for result in batch:
            try:
                await asyncio.to_thread(self.write, [result])
                self.written += 1
            except Exception as exc:
                if self.busy(exc):
                    kept.append(result)
                    continue
                log.error("a finished result could not be written and is set aside: %s", _first(exc))
                self.rejected.append((result, exc))
        self.buffer[: len(batch)] = kept

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
                    if self.rejected:
                        raise WriteFailed(
                            f"{len(self.rejected)} finished result(s) could not be written (the others "
                            f"were): {_first(self.rejected[0][1])}"
                        )
                    return
            except WriteFailed:
                raise
            except Exception as exc:
                if self.clock() >= give_up:
                    raise WriteFailed(
                        f"{len(self.buffer)} finished result(s) could not be written for {deadline_s:.0f} s: "
                        f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                    ) from exc
                log.warning("warehouse busy, retrying the write of %d result(s): %s", len(self.buffer), exc)
            await asyncio.sleep(pause_s)


def _first(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


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
) -> AsyncGenerator[R, None]:
    """Yield each item's result as it finishes, in process or on the pool's actors.

    ``admit(item)`` is asked just before an item would start; an item it refuses never starts and
    yields nothing (a budget stops a run this way, the same in process and on Ray).
    """
    stream: AsyncGenerator[R, None]
    if pool is None:
        if local is None:
            raise ValueError("results() needs `local` when no Ray pool is given")
        stream = _in_process(items, local, concurrency, admit)
    else:
        if remote is None:
            raise ValueError("results() needs `remote` with a Ray pool")
        stream = _on_ray(items, key, pool, remote, admit)
    # aclosing: closing `results` closes the inner generator now, so its cleanup stops the items in
    # flight at once rather than when the inner one is collected.
    async with contextlib.aclosing(stream):
        async for result in stream:
            yield result


async def _in_process(
    items: Sequence[T], local: Callable[[T], Awaitable[R]], concurrency: int, admit: Admit[T]
) -> AsyncGenerator[R, None]:
    """``results`` on this event loop, ``concurrency`` items at a time."""
    # At most `concurrency` tasks exist at a time, each made just before its item starts: Ctrl-C
    # (cancellation) cancels those in flight and starts nothing more, whatever the queue length.
    waiting = iter(items)
    running: set[asyncio.Future[R]] = set()

    def start() -> None:
        for item in waiting:
            if admit(item):
                running.add(asyncio.ensure_future(local(item)))
                if len(running) >= concurrency:
                    return

    try:
        start()
        while running:
            finished, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            running.difference_update(finished)
            for task in finished:
                yield task.result()
            start()
    finally:
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running, timeout=10)


async def _on_ray(
    items: Sequence[T], key: Callable[[T], str], pool: RayPool, remote: RemoteCall[T, R], admit: Admit[T]
) -> AsyncGenerator[R, None]:
    """``results`` on the pool's actors: ray_map's callbacks queue each result for this generator."""
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
        # aclosing: an interrupted job stops its items at once, not when the generator is collected.
        async with contextlib.aclosing(
            results(
                items, key=key, local=local, concurrency=concurrency, pool=pool, remote=remote, admit=admit
            )
        ) as stream:
            async for result in stream:
                on_result(result)
                await writer.add(result)
    finally:
        ticker.cancel()
        # Whatever finished is written even when the job is interrupted.
        await writer.drain()
