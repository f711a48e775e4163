"""Model calls stored as they happen, so `oyster sql` shows a running scenario's work.

In process, each scenario's CallLog tells :meth:`LiveCalls.heard` of every call; on Ray, actors keep
the calls they hear and the driver collects them every ``every_s`` seconds (:meth:`poll`). Either way
the calls are written in batches by the driver, the only process that writes the warehouse. When a
scenario finishes, its trajectory write stores the final version of each call, so live rows are
only ever a preview.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from typing import Any

from runtime.executor import BatchWriter
from schemas.records import LLMCall
from warehouse import Warehouse


class LiveCalls:
    def __init__(
        self, warehouse: Warehouse, on_new_call: Callable[[LLMCall], None], every_s: float = 2.0
    ) -> None:
        self.every_s = every_s
        self.on_new_call = on_new_call
        self.finished: set[str] = set()
        self._seen: set[str] = set()
        self.writer: BatchWriter[LLMCall] = BatchWriter(
            lambda calls: warehouse.write_calls([c for c in calls if c.scenario_id not in self.finished]),
            batch_size=256,
            max_wait_s=every_s,
        )

    def heard(self, call: LLMCall) -> None:
        if call.call_id not in self._seen:
            self._seen.add(call.call_id)
            self.on_new_call(call)
        # Written by the clock (`run`), never here: a listener must not block the scenario.
        self.writer.buffer.append(call)

    def counted(self, calls: Iterable[LLMCall]) -> None:
        """Tell of the calls not told of yet (not stored: the trajectory's own write stores them).

        On Ray a scenario's last calls may finish before the next poll: its result tells of them, so
        the budget and the summary count every call of a finished scenario, not only those polled."""
        for call in calls:
            if call.call_id not in self._seen:
                self._seen.add(call.call_id)
                self.on_new_call(call)

    def heard_all(self, calls: Iterable[LLMCall]) -> None:
        for call in calls:
            self.heard(call)

    def scenario_finished(self, scenario_id: str) -> None:
        """From now on the trajectory's own write stores this scenario's calls."""
        self.finished.add(scenario_id)

    async def poll(self, workers: Callable[[], list[Any]]) -> None:
        """Collect the calls Ray actors heard, every ``every_s`` seconds, until cancelled."""
        while True:
            await asyncio.sleep(self.every_s)
            for worker in workers():
                # A dead actor's calls are lost with it; its scenarios run again elsewhere.
                with contextlib.suppress(Exception):
                    self.heard_all(LLMCall.model_validate_json(c) for c in await worker.drain_calls.remote())

    async def run(self) -> None:
        """Write what was heard on the clock, until cancelled."""
        await self.writer.tick()

    async def close(self) -> None:
        await self.writer.drain(deadline_s=60.0)
