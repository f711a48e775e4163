"""`oyster run`: Lingo-BP over scenarios."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from schemas.errors import OysterError
from schemas.run import RunRequest
from schemas.trust import pairs_trust

if TYPE_CHECKING:
    from runtime.runner import RunSummary
    from schemas.trajectory import Trajectory
from cli.common import ConfigOpt, WarehouseOpt, console, progress_bar


def request_of(**flags: Any) -> RunRequest:
    """The flags as a RunRequest; a value the model refuses is a usage error naming its flag."""
    from pydantic import ValidationError

    try:
        return RunRequest(**flags)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else ""
        hint = "--run-id" if name == "run_id" else "--" + name.replace("_", "-")
        value = flags.get(name)
        why = "use letters, digits and . _ : - (at most 128)" if name == "run_id" else first["msg"]
        raise typer.BadParameter(f"{value!r}: {why}", param_hint=hint) from None


def run_command(request: RunRequest) -> RunSummary:
    from runtime.plan import RunPlan

    plan = RunPlan.of(request)
    cfg, items, wh = plan.config, plan.scenarios, plan.warehouse
    if plan.pool is not None:
        console.print(
            f"Ray: {cfg.ray.actors} actor(s) x {cfg.ray.concurrency_per_actor} scenario(s) in flight"
        )
    console.print(
        f"Lingo-BP on {len(items)} scenario(s) from {plan.source} -> {wh.path} "
        f"(leader {cfg.roles.leader.label()}, T={cfg.lingo_bp.iterations})"
    )
    with progress_bar("scenarios", len(items)) as show:
        summary = plan.run(progress=RunProgress(show))
    _tell(summary)
    return summary


class RunProgress:
    """What the progress display shows as a run goes: the judges' trust once, then the counts, and a
    line for each scenario that finished."""

    def __init__(self, show: Callable[..., None]) -> None:
        self.show = show
        self.reported = 0
        self.judges_shown = False

    def __call__(self, s: RunSummary) -> None:
        if not self.judges_shown:
            self.judges_shown = True
            for judge in s.judges:
                self.show(s.skipped, "", line=judge.line())
        done = s.completed + s.failed
        finished = s.last_finished if done > self.reported else None
        self.reported = done
        detail = (
            f"done {s.completed} · failed {s.failed} · ranked pairs {s.ranked_pairs} · "
            f"resumed {s.skipped} · calls {s.calls} · tokens {s.tokens}"
        )
        self.show(s.skipped + done, detail)
        if finished is not None:
            self.show(s.skipped + done, detail, line=_finished_line(finished))


def _tell(summary: RunSummary) -> None:
    """The run's last lines: the counts, the trust of its pairs, a budget stop, and how it ended."""
    cost = f", cost {summary.cost:.4f}" if summary.cost is not None else ""
    console.print(
        f"run {summary.run_id}: {summary.completed} completed, {summary.failed} failed, "
        f"{summary.dpo_rows} dpo row(s) from {summary.ranked_pairs} ranked pair(s), "
        f"{summary.skipped} already done, {summary.seconds:.1f} s, "
        f"{summary.calls} call(s), {summary.tokens} token(s){cost}"
    )
    trusted, reason = pairs_trust(summary.judges)
    if summary.ranked_pairs and not trusted:
        console.print(
            f"pairs untrusted ({reason}): they stay out of dpo and sft (every pair is in dpo_all); "
            "`oyster train --allow-untrusted` trains on them anyway"
        )
    if summary.budget:
        console.print(
            f"budget exhausted ({summary.budget}): {summary.not_started} scenario(s) not started; "
            f"resume with --run-id {summary.run_id} and a larger budget"
        )
    if summary.failed:
        # The last line says how the run ended: a failure is never mistaken for a finished run.
        why = (
            'oyster sql "SELECT scenario_id, kind, message FROM failures '
            f"WHERE run_id = '{summary.run_id}'\""
        )
        if summary.status == "failed":
            raise RunFailed(
                f"run {summary.run_id} failed: all {summary.failed} scenario(s) failed (stored as failed; "
                f"exit status {ALL_FAILED}); why: {why}"
            )
        console.print(
            f"partly failed: {summary.failed} of {summary.failed + summary.completed} scenario(s) failed; "
            f"why: {why}; rerun with --run-id {summary.run_id} to retry them"
        )


#: exit status of a run in which not one scenario completed (README: "Exit status")
ALL_FAILED = 3


class RunFailed(OysterError):
    """Not one scenario of the run completed."""

    exit_code = ALL_FAILED


def _finished_line(t: Trajectory) -> str:
    pair = t.pair_decision.status.value if t.pair_decision else "no pair"
    return f"{t.scenario_id}: {t.status.value}, {len(t.iterations)} iteration(s), {pair} ({t.stop_reason})"


ScenariosOpt = Annotated[Path | None, typer.Option(help="JSONL/YAML scenario file [default: bundled].")]
RunIdOpt = Annotated[str | None, typer.Option(help="Resume or name a run; finished scenarios are skipped.")]
RayOpt = Annotated[
    bool | None,
    typer.Option("--ray/--no-ray", help="Run on Ray actors [default: when a cluster address is set]."),
]
ReplayOpt = Annotated[
    bool,
    typer.Option("--replay", help="Sample with the seeds of earlier replayed runs (served from the cache)."),
]
TokensOpt = Annotated[
    int | None,
    typer.Option(min=1, help="Token budget of the run id: no scenario starts that would exceed it."),
]
TurnsOpt = Annotated[
    int | None,
    typer.Option(min=1, max=20, help="Play each scenario as a dialogue of up to N turns (in process)."),
]
StackelbergOpt = Annotated[
    str | None,
    typer.Option(help="predicted | rollout: how the Stackelberg step finds each candidate's payoff."),
]


def run(
    scenarios: ScenariosOpt = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N scenarios.")] = None,
    warehouse: WarehouseOpt = None,
    config: ConfigOpt = None,
    prompts: Annotated[Path | None, typer.Option(help="Folder of templates overriding bundled ones.")] = None,
    run_id: RunIdOpt = None,
    iterations: Annotated[int | None, typer.Option(min=0, help="T max of Lingo-BP.")] = None,
    concurrency: Annotated[int | None, typer.Option(min=1, help="Scenarios in flight (in-process).")] = None,
    use_ray: RayOpt = None,
    actors: Annotated[int | None, typer.Option(min=1, help="Ray actors.")] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Do not answer from the response cache.")
    ] = False,
    replay: ReplayOpt = False,
    max_tokens_total: TokensOpt = None,
    max_calls: Annotated[
        int | None, typer.Option(min=1, help="Model-call budget of the run id, likewise.")
    ] = None,
    turns: TurnsOpt = None,
    stackelberg: StackelbergOpt = None,
) -> None:
    """Run the Lingo-BP pipeline and write trajectories and preference pairs to the warehouse."""
    request = request_of(
        scenarios=scenarios,
        limit=limit,
        warehouse=warehouse,
        config=config,
        prompts=prompts,
        run_id=run_id,
        iterations=iterations,
        concurrency=concurrency,
        use_ray=use_ray,
        actors=actors,
        cache=not no_cache,
        replay=replay,
        max_tokens_total=max_tokens_total,
        max_calls=max_calls,
        turns=turns,
        stackelberg=stackelberg,
        command=" ".join(sys.argv),
    )
    run_command(request)
