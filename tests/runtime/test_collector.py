"""The cyclic collector runs less often while a run is in flight, and as before after it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from runtime.collector import RUN_THRESHOLD, fewer_collections
from runtime.runner import RunSummary, run_lingo_bp
from schemas import OysterConfig, Scenario
from warehouse import Warehouse


@pytest.fixture
def default_thresholds() -> Iterator[tuple[int, int, int]]:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield gc.get_threshold()
    gc.set_threshold(*before)


def test_the_first_threshold_is_raised_for_the_block_and_put_back(
    default_thresholds: tuple[int, int, int],
) -> None:
    with fewer_collections():
        assert gc.get_threshold() == (RUN_THRESHOLD, 10, 10)  # the older generations keep their ratios
        with fewer_collections(500):  # never lowered, even by a nested block
            assert gc.get_threshold()[0] == RUN_THRESHOLD
        assert gc.get_threshold()[0] == RUN_THRESHOLD
    assert gc.get_threshold() == default_thresholds
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("a failed run")
    assert gc.get_threshold() == default_thresholds
    gc.set_threshold(50_000, 10, 10)  # a process that chose a higher one keeps it
    with fewer_collections():
        assert gc.get_threshold()[0] == 50_000


async def test_a_run_calls_its_models_under_the_raised_threshold(
    default_thresholds: tuple[int, int, int], warehouse: Warehouse
) -> None:
    seen: set[int] = set()

    def progress(summary: RunSummary) -> None:
        seen.add(gc.get_threshold()[0])

    mock = {"backend": "scripted", "model": "agents.backends.mock:well_behaved"}
    roles = {role: mock for role in ("user", "leader", "risk", "critic")}
    config = OysterConfig.model_validate({"roles": roles, "lingo_bp": {"iterations": 1}})
    summary = await run_lingo_bp(config, [Scenario(id="s0", text="question")], warehouse, progress=progress)
    assert summary.completed == 1 and seen == {RUN_THRESHOLD}
    assert gc.get_threshold() == default_thresholds
