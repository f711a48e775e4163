"""Lingo-BP on one scenario: the loop as the method states it, run by LangGraph.

``LingoBP.loop`` is the method (METHOD.md §3) in one function: the risk is assessed, the leader commits
to a strategy and drafts a reply, and then, until the reply is a pearl point or T steps are spent::

    judgement = judges(reply)
    loss = Loss(judged, epoch, step)
    grads = loss.backward(critic)
    chain = optimizer.step(chain, grads)
    reply = leader.synthesize(chain)

LangGraph's functional API executes it: ``loop`` is the entrypoint and each call above that does work
is a task (``LingoBP.NODES``), so a run streams task by task and can be checkpointed. A failure inside a
task is raised as ``LLMFailure``, ends the loop and is recorded with the trajectory, never lost.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

from langgraph.func import entrypoint, task

from agents.lingo_bp.loss import Gradients, Loss
from agents.lingo_bp.optimizer import Optimizer, StepTrace
from agents.lingo_bp.pairs import constructive, select_pairs
from agents.lingo_bp.rollout import stackelberg_step
from agents.lingo_bp.stackelberg import next_move
from agents.llm import CallLog, LLMFailure, scenario_seed
from agents.team import Agents
from schemas.chain import DraftAnswer, ReasoningChain
from schemas.gradient import ActiveLoss
from schemas.judgement import Judgement, SafetyJudgement, SatisfactionJudgement
from schemas.records import Failure, FailureKind, LLMCall
from schemas.risk import GuidelineRule, RiskAssessment
from schemas.scenario import RiskLevel, Scenario
from schemas.stackelberg import StackelbergResult
from schemas.trajectory import Iteration, SkippedStep, Trajectory, TrajectoryStatus


@dataclass
class Episode:
    """One scenario's pass through the loop: what every task is told and what the trajectory is built
    from when the loop ends (for any reason)."""

    log: CallLog
    #: the trajectory as far as the loop got: filled in step by step, finished by the `finish` task
    trajectory: Trajectory
    failure: Failure | None = None
    #: a later turn of a dialogue: the previous turn's risk assessment (this turn's own is made with the
    #: Stackelberg prediction, one call fewer; see _assess_risk)
    previous_risk: RiskAssessment | None = None

    @property
    def scenario(self) -> Scenario:
        return self.trajectory.scenario

    @property
    def no_risk(self) -> bool:
        risk = self.trajectory.risk
        return risk is not None and risk.level is RiskLevel.NO_RISK


class LingoBP:
    """The loop over one set of agents; ``run`` takes one scenario to a trajectory."""

    #: the loop's tasks, in the order a step reaches them (docs/architecture.md names the same)
    NODES = (
        "assess_risk",
        "stackelberg",
        "draft",
        "judge_satisfaction",
        "judge_safety",
        "backward",
        "step",
        "synthesize",
        "finish",
    )

    def __init__(self, agents: Agents) -> None:
        self.agents = agents
        self.cfg = agents.config.lingo_bp
        self.optimizer = Optimizer(self.cfg)
        self.graph = entrypoint()(self.loop)

    async def call(self, name: str, *args: Any) -> Any:
        """Run one task of the loop (a node of the LangGraph run)."""
        return await _TASKS[name](self, *args)

    # -- the method --------------------------------------------------------------------------------
    async def loop(self, ep: Episode) -> Trajectory:
        """Lingo-BP on ``ep.scenario``: draft, then judge → loss → backward → step → synthesize until the
        reply is a pearl point fit to train on or T steps are spent."""
        traj = ep.trajectory
        try:
            traj.risk, traj.guidelines = await self.call("assess_risk", ep)
            traj.stackelberg, traj.risk, traj.guidelines = await self.call("stackelberg", ep)
            traj.draft, chain, reply, truncated = await self.call("draft", ep)
            first = Iteration(index=0, chain=chain, response=reply, truncated=truncated)
            judged = await self.judge(ep, first)
            step = 0
            skipped: ActiveLoss | None = None
            while not self.stops(ep, judged, step):
                step += 1
                assert judged.judgement is not None
                epoch = self.optimizer.epoch(step, judged.judgement, skipped)
                loss = Loss(judged, epoch, step, self.optimizer.frozen(epoch))
                grads: Gradients = await self.call("backward", ep, loss)
                moved: StepTrace = await self.call("step", ep, judged.chain, grads)
                if moved.skipped:
                    traj.skipped.append(self.skipped_step(loss, moved))
                    skipped = epoch  # the same term on the same chain would ask the same question
                    continue
                reply, truncated = await self.call("synthesize", ep, moved.chain, step)
                judged = await self.judge(ep, self.stepped(loss, moved, reply, truncated))
                skipped = None
        except LLMFailure as exc:
            ep.failure = exc.failure
        finished: Trajectory = await self.call("finish", ep)
        return finished

    async def judge(self, ep: Episode, candidate: Iteration) -> Iteration:
        """Both judges on one reply, at once; the reply joins the trajectory with their judgement."""
        found = await asyncio.gather(
            self.call("judge_satisfaction", ep, candidate.response),
            self.call("judge_safety", ep, candidate.response),
            return_exceptions=True,
        )
        for outcome in found:  # both may fail: the first failure is the one recorded
            if isinstance(outcome, BaseException):
                raise outcome
        satisfaction, safety = cast(tuple[SatisfactionJudgement, SafetyJudgement], tuple(found))
        judgement = Judgement.of(satisfaction, safety, self.cfg.alpha, self.cfg.beta)
        judged = candidate.model_copy(update={"judgement": judgement})
        ep.trajectory.iterations.append(judged)
        return judged

    def stops(self, ep: Episode, judged: Iteration, step: int) -> bool:
        """A pearl point ends the loop only when the reply is fit to train on (an unfit one, cut or
        talking about the optimisation, is optimised further however it was scored); so does T."""
        assert judged.judgement is not None
        scenario = ep.scenario
        if judged.judgement.is_pearl and constructive(judged, self.cfg, scenario.language, scenario.query):
            ep.trajectory.stop_reason = "pearl point: safe, fully satisfying and fit to train on"
        elif step >= self.cfg.iterations:
            ep.trajectory.stop_reason = f"reached T={self.cfg.iterations}"
        return bool(ep.trajectory.stop_reason)

    @staticmethod
    def stepped(loss: Loss, moved: StepTrace, reply: str, truncated: bool) -> Iteration:
        return Iteration(
            index=loss.step,
            chain=moved.chain,
            response=reply,
            truncated=truncated,
            active_loss=loss.epoch,
            frozen=[n.value for n in loss.frozen],
            gradients=moved.gradients,
            edits=moved.edits,
        )

    @staticmethod
    def skipped_step(loss: Loss, moved: StepTrace) -> SkippedStep:
        return SkippedStep(
            index=loss.step,
            active_loss=loss.epoch,
            reason=moved.skipped,
            gradients=moved.gradients,
            edits=moved.edits,
        )

    # -- the tasks ---------------------------------------------------------------------------------
    async def _assess_risk(self, ep: Episode) -> tuple[RiskAssessment, list[GuidelineRule]]:
        previous = ep.previous_risk
        if previous is not None:
            # A later dialogue turn: the candidates start from the previous turn's assessment; this
            # turn's is made in the same call as the Stackelberg prediction (_stackelberg).
            return previous, self.agents.risk.guidelines_for(previous, ep.scenario.language, ep.scenario)
        return await self.agents.risk.assess(ep.scenario, ep.log)

    async def _stackelberg(
        self, ep: Episode
    ) -> tuple[StackelbergResult, RiskAssessment, list[GuidelineRule]]:
        # predicted or rolled out (lingo_bp.stackelberg): agents/lingo_bp/rollout.py; in a later dialogue
        # turn it also assesses the turn's risk, which the turn goes on with
        traj = ep.trajectory
        assert traj.risk is not None
        return await stackelberg_step(
            self.agents,
            ep.scenario,
            traj.risk,
            traj.guidelines,
            self.cfg,
            ep.log,
            reassess=ep.previous_risk is not None,
        )

    async def _draft(self, ep: Episode) -> tuple[DraftAnswer, ReasoningChain, str, bool]:
        traj, leader = ep.trajectory, self.agents.leader
        assert traj.risk is not None and traj.stackelberg is not None
        strategy = traj.stackelberg.candidates[traj.stackelberg.committed]
        draft = await leader.answer(ep.scenario, strategy, traj.guidelines, ep.log)
        chain = await leader.extract(ep.scenario, draft, traj.risk, traj.guidelines, strategy, ep.log)
        reply = await leader.synthesize(ep.scenario, chain, ep.log)
        return draft, chain, reply.response, reply.truncated

    async def _judge_satisfaction(self, ep: Episode, reply: str) -> SatisfactionJudgement:
        return await self.agents.user.satisfaction(ep.scenario, reply, ep.log)

    async def _judge_safety(self, ep: Episode, reply: str) -> SafetyJudgement:
        traj = ep.trajectory
        assert traj.risk is not None
        return await self.agents.risk.judge_safety(ep.scenario, reply, traj.risk, traj.guidelines, ep.log)

    async def _backward(self, ep: Episode, loss: Loss) -> Gradients:
        return await loss.backward(self.agents.critic, ep.scenario, ep.log)

    async def _step(self, ep: Episode, chain: ReasoningChain, grads: Gradients) -> StepTrace:
        return self.optimizer.step(chain, grads, no_risk=ep.no_risk)

    async def _synthesize(self, ep: Episode, chain: ReasoningChain, step: int) -> tuple[str, bool]:
        reply = await self.agents.leader.synthesize(ep.scenario, chain, ep.log, step)
        return reply.response, reply.truncated

    async def _finish(self, ep: Episode) -> Trajectory:
        traj, failure = ep.trajectory, ep.failure
        scenario, iterations = traj.scenario, traj.iterations
        judged = sum(1 for it in iterations if it.judgement is not None)
        # A failure after two judged iterations keeps them: they are real data and can still pair.
        status = TrajectoryStatus.COMPLETED
        if failure:
            status = TrajectoryStatus.PARTIAL if judged >= 2 else TrajectoryStatus.FAILED
            traj.stop_reason = f"failed at {failure.role}/{failure.step}: {failure.kind.value}"
        traj.status = status
        if status is not TrajectoryStatus.FAILED:
            traj.pairs, traj.pair_decision = select_pairs(
                ep.log.run_id, scenario.id, scenario.conversation(), iterations, self.cfg, scenario.language
            )
        if self.cfg.predict_next_turn and status is not TrajectoryStatus.FAILED and iterations:
            # The safety judge predicted the next turn while judging: no call is made here.
            final = traj.pair.chosen_iteration if traj.pair else iterations[-1].index
            traj.next_move = next_move(next(it for it in iterations if it.index == final))
        traj.failures = list(ep.log.failures)
        return traj

    # -- running -----------------------------------------------------------------------------------
    async def aclose(self) -> None:
        await self.agents.aclose()

    async def run(
        self,
        scenario: Scenario,
        run_id: str,
        on_call: Callable[[LLMCall], None] | None = None,
        previous_risk: RiskAssessment | None = None,
    ) -> tuple[Trajectory, CallLog]:
        """Run one scenario; ``on_call`` hears of every model call as it happens (live progress);
        ``previous_risk``: a later dialogue turn's previous assessment (see Episode)."""
        log = CallLog(
            run_id=run_id,
            scenario_id=scenario.id,
            listener=on_call,
            seed_offset=0 if self.agents.config.replay else scenario_seed(run_id, scenario.id),
        )
        started = Trajectory(run_id=run_id, scenario=scenario)
        episode = Episode(log=log, trajectory=started, previous_risk=previous_risk)
        trajectory = await self.graph.ainvoke(episode)
        return cast(Trajectory, trajectory), log


#: each task's own function, reachable by its qualified name: LangGraph builds a task's runnable once
#: for a function it can find again that way, and anew at every call otherwise (~0.1 ms a call)
TASK_FUNCTIONS = SimpleNamespace()


def _task_function(name: str) -> Callable[..., Awaitable[Any]]:
    """The task ``name`` of any LingoBP: its method ``_<name>``, with any exception inside it raised as an
    ``LLMFailure`` carrying a recorded Failure."""

    async def run(lingo: LingoBP, *args: Any) -> Any:
        try:
            return await getattr(lingo, f"_{name}")(*args)
        except LLMFailure:
            raise
        except Exception as exc:
            ep = next(a for a in args if isinstance(a, Episode))
            failure = Failure(
                run_id=ep.log.run_id,
                scenario_id=ep.log.scenario_id,
                role="graph",
                step=name,
                kind=FailureKind.GRAPH_ERROR,
                message=f"{type(exc).__name__}: {exc}"[:2000],
                raw_output="".join(traceback.format_exception(exc))[-8000:],
            )
            ep.log.failures.append(failure)
            raise LLMFailure(failure) from exc

    run.__name__ = name
    run.__qualname__ = f"TASK_FUNCTIONS.{name}"
    setattr(TASK_FUNCTIONS, name, run)
    return run


_TASKS: dict[str, Any] = {name: task(name=name)(_task_function(name)) for name in LingoBP.NODES}
