"""The one entry point from a RunRequest to a finished run: `RunPlan.of(request)` loads and checks
everything a run needs before any scenario starts (config, templates, scenarios, models, warehouse,
Ray), so the caller can say what is about to happen; `plan.run(progress)` runs it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from agents.prompting import PromptLibrary
from agents.scenarios import bundled_path, load_scenarios
from runtime.dialogues import check_dialogues
from runtime.ray_pool import RayPool, ensure_ray, should_use_ray
from runtime.runner import Progress, RunSummary, preflight, run_lingo_bp
from schemas.config import OysterConfig, load_config
from schemas.run import RunRequest
from schemas.scenario import Scenario
from warehouse import Warehouse
from warehouse.cache import cache_path_for
from warehouse.store import resolve_path


@dataclass
class RunPlan:
    request: RunRequest
    config: OysterConfig
    scenarios: list[Scenario]
    #: where the scenarios came from (the bundled file when none was given)
    source: Path
    warehouse: Warehouse
    pool: RayPool | None

    @classmethod
    def of(cls, request: RunRequest) -> RunPlan:
        """Everything checked before a model is asked anything: a bad template, scenario file or
        endpoint is one line now, not a failure per scenario later."""
        cfg = load_config(request.config, request.overrides())
        PromptLibrary(cfg.prompts)  # validate every template
        scenarios = load_scenarios(request.scenarios)
        asyncio.run(preflight(cfg))
        if request.limit is not None:
            scenarios = scenarios[: request.limit]
        warehouse = Warehouse(resolve_path(request.warehouse, cfg.warehouse))
        on_ray = should_use_ray(cfg, request.use_ray)
        check_dialogues(cfg.lingo_bp.turns, on_ray)
        pool = None
        if on_ray:
            ensure_ray(cfg)
            pool = RayPool(cfg, str(cache_path_for(warehouse.path)) if cfg.cache else None)
        source = request.scenarios or bundled_path()
        return cls(request, cfg, scenarios, source, warehouse, pool)

    def run(self, progress: Progress | None = None) -> RunSummary:
        return asyncio.run(
            run_lingo_bp(
                self.config,
                self.scenarios,
                self.warehouse,
                run_id=self.request.run_id,
                progress=progress,
                command=self.request.command,
                pool=self.pool,
            )
        )
