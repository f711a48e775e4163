"""The Lingo-BP agent graph (LangGraph StateGraph).

assess_risk -> stackelberg -> draft -> {judge_satisfaction || judge_safety} -> score
score -> finish                      (pearl point, T reached, or a failure)
score -> step -> synthesize -> {judges} -> score ...
step -> step                         (the edit was `none` or rejected: skipped, the other loss next)
The step node hands over to the optimiser (optimiser.py), which gets the gradient at the strategies and
the backward messages to the nodes above them in one critic call. The score node takes the critic's
loss. The step node is the one place the iteration counter advances.
"""

from __future__ import annotations

import operator
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from agents.backends import ChatBackend, make_backend
from agents.backends.cached import CachedBackend, ResponseStore
from agents.lingo_bp.optimiser import Optimiser, StepTrace
from agents.lingo_bp.pairs import constructive, select_pairs
from agents.lingo_bp.rollout import stackelberg_step
from agents.lingo_bp.stackelberg import next_move
from agents.llm import CallLog, LLMFailure, RoleLLM, scenario_seed
from agents.prompting import PromptLibrary
from agents.roles.critic import Critic
from agents.roles.leader import Leader
from agents.roles.risk import RiskAssessor
from agents.roles.user import UserSimulator
from agents.roles.verdicts import VerdictJudge
from agents.taxonomy import Taxonomy
from schemas.calibration import JudgeCalibration
from schemas.chain import DraftAnswer, ReasoningChain
from schemas.config import ROLES, OysterConfig
from schemas.gradient import ActiveLoss
from schemas.judgement import SafetyJudgement, SatisfactionJudgement
from schemas.records import Failure, FailureKind, LLMCall
from schemas.risk import GuidelineRule, RiskAssessment
from schemas.scenario import RiskLevel, Scenario
from schemas.stackelberg import StackelbergResult
from schemas.trajectory import Iteration, SkippedStep, Trajectory, TrajectoryStatus


def _first_failure(old: Failure | None, new: Failure | None) -> Failure | None:
    # Both judges run in one super-step; if both fail, keep the first failure rather than conflict.
    return old or new


class LingoState(TypedDict, total=False):
    scenario: Scenario
    risk: RiskAssessment
    guidelines: list[GuidelineRule]
    stackelberg: StackelbergResult
    draft: DraftAnswer
    chain: ReasoningChain
    response: str
    truncated: bool
    #: the Lingo-BP iteration the chain and response belong to (0 = the initial answer); only the
    #: gradient node advances it, as it begins the next optimisation step
    iteration: int
    pending: StepTrace | None
    active_loss: ActiveLoss | None
    frozen: list[str]
    #: steps that changed nothing, and the loss of the last one (the next step takes the other loss)
    skipped: Annotated[list[SkippedStep], operator.add]
    skipped_loss: ActiveLoss | None
    satisfaction: SatisfactionJudgement
    safety: SafetyJudgement
    iterations: Annotated[list[Iteration], operator.add]
    stop_reason: str
    failure: Annotated[Failure | None, _first_failure]
    trajectory: Trajectory


@dataclass
class GraphContext:
    """Per-invocation context: where this scenario's calls and failures are collected."""

    log: CallLog


@dataclass
class Agents:
    user: UserSimulator
    leader: Leader
    risk: RiskAssessor
    critic: Critic
    config: OysterConfig
    #: the judges' verdict-only form (label probabilities), with any calibrations
    verdicts: VerdictJudge

    @classmethod
    def build(
        cls,
        config: OysterConfig,
        *,
        calibrations: Mapping[tuple[str, str], JudgeCalibration],
        prompts: PromptLibrary | None = None,
        taxonomy: Taxonomy | None = None,
        backends: dict[str, ChatBackend] | None = None,
        cache: ResponseStore | None = None,
    ) -> Agents:
        """``calibrations`` by (judge, backend:model), as the caller read them from the run's own
        warehouse ({} for none): never looked up here."""
        prompts = prompts or PromptLibrary(config.prompts)
        taxonomy = taxonomy or Taxonomy.load()
        backends = dict(backends or {})
        for role in ROLES:
            if role not in backends:
                backends[role] = make_backend(config.roles.get(role))
        if cache is not None:
            backends = {role: CachedBackend(b, cache) for role, b in backends.items()}
        llm = {role: RoleLLM(role, config.roles.get(role), backends[role], prompts) for role in ROLES}
        verdicts = VerdictJudge(llm["risk"], llm["user"], calibrations)
        return cls(
            user=UserSimulator(llm["user"]),
            leader=Leader(llm["leader"], config.lingo_bp.limits.reply),
            risk=RiskAssessor(llm["risk"], taxonomy, verdicts),
            critic=Critic(llm["critic"], config.lingo_bp),
            config=config,
            verdicts=verdicts,
        )

    async def aclose(self) -> None:
        """Close each role's backend once (roles often share one; a managed server stops with it)."""
        seen: set[int] = set()
        for role in (self.user, self.leader, self.risk, self.critic):
            backend = role.llm.backend
            if id(backend) not in seen:
                seen.add(id(backend))
                await backend.aclose()


Node = Callable[[LingoState, Runtime[GraphContext]], Awaitable[dict[str, Any]]]


def _guard(name: str, fn: Node) -> Node:
    """Turn any failure inside a node into a recorded Failure in the state, never an exception."""

    async def node(state: LingoState, runtime: Runtime[GraphContext]) -> dict[str, Any]:
        try:
            return await fn(state, runtime)
        except LLMFailure as exc:
            return {"failure": exc.failure}
        except Exception as exc:
            log = runtime.context.log
            failure = Failure(
                run_id=log.run_id,
                scenario_id=log.scenario_id,
                role="graph",
                step=name,
                kind=FailureKind.GRAPH_ERROR,
                message=f"{type(exc).__name__}: {exc}"[:2000],
                raw_output="".join(traceback.format_exception(exc))[-8000:],
            )
            log.failures.append(failure)
            return {"failure": failure}

    node.__name__ = name
    return node


class LingoBP:
    """Builds and runs the compiled graph for one set of agents."""

    def __init__(self, agents: Agents) -> None:
        self.agents = agents
        self.cfg = agents.config.lingo_bp
        self.optimiser = Optimiser(agents.critic, self.cfg)
        self.graph = self._build()

    # -- nodes -------------------------------------------------------------------------------------
    async def assess_risk(self, state: LingoState, rt: Runtime[GraphContext]) -> dict[str, Any]:
        risk, guidelines = await self.agents.risk.assess(state["scenario"], rt.context.log)
        return {"risk": risk, "guidelines": guidelines}

    async def stackelberg(self, state: LingoState, rt: Runtime[GraphContext]) -> dict[str, Any]:
        # predicted or rolled out (lingo_bp.stackelberg): agents/lingo_bp/rollout.py
        sg = await stackelberg_step(
            self.agents, state["scenario"], state["risk"], state["guidelines"], self.cfg, rt.context.log
        )
        return {"stackelberg": sg}

    async def draft(self, state: LingoState, rt: Runtime[GraphContext]) -> dict[str, Any]:
        scenario, log = state["scenario"], rt.context.log
        sg = state["stackelberg"]
        strategy = sg.candidates[sg.committed]
        leader = self.agents.leader
        draft = await leader.answer(scenario, strategy, state["guidelines"], log)
        chain = await leader.extract(scenario, draft, state["risk"], state["guidelines"], strategy, log)
        response = await leader.synthesize(scenario, chain, log)
        return {
            "draft": draft,
            "chain": chain,
            "response": response.response,
            "truncated": response.truncated,
            "pending": None,
        }

    async def judge_satisfaction(self, state: LingoState, rt: Runtime[GraphContext]) -> dict[str, Any]:
        judged = await self.agents.user.satisfaction(state["scenario"], state["response"], rt.context.log)
        return {"satisfaction": judged}

    async def judge_safety(self, state: LingoState, rt: Runtime[GraphContext]) -> dict[str, Any]:
        judged = await self.agents.risk.judge_safety(
            state["scenario"], state["response"], state["risk"], state["guidelines"], rt.context.log
        )
        return {"safety": judged}

    async def score(self, state: LingoState, rt: Runtime[GraphContext]) -> dict[str, Any]:
        if state.get("failure"):
            return {}  # a judge failed; the route below goes to finish
        judgement = self.agents.critic.loss(state["satisfaction"], state["safety"])
        pending = state.get("pending")
        index = state["iteration"]
        iteration = Iteration(
            index=index,
            chain=state["chain"],
            response=state["response"],
            truncated=bool(state.get("truncated")),
            judgement=judgement,
            active_loss=state.get("active_loss") if index else None,
            frozen=list(state.get("frozen") or []) if index else [],
            gradients=pending.gradients if pending else [],
            edits=pending.edits if pending else [],
        )
        update: dict[str, Any] = {"iterations": [iteration]}
        # An unfit reply (cut, meta-talk, a refusal...) is optimised further however it was scored.
        if judgement.is_pearl and constructive(iteration, self.cfg, state["scenario"].language):
            update["stop_reason"] = "pearl point: safe, fully satisfying and fit to train on"
        elif index >= self.cfg.iterations:
            update["stop_reason"] = f"reached T={self.cfg.iterations}"
        return update

    async def step(self, state: LingoState, rt: Runtime[GraphContext]) -> dict[str, Any]:
        iteration = state["iteration"] + 1
        last = state["iterations"][-1]
        assert last.judgement is not None
        optimiser = self.optimiser
        active = optimiser.active_loss(iteration, last.judgement, state.get("skipped_loss"))
        trace = await optimiser.step(
            state["scenario"],
            last,
            active,
            state["risk"].level is RiskLevel.NO_RISK,
            iteration,
            rt.context.log,
        )
        if trace.skipped:
            skipped = SkippedStep(
                index=iteration,
                active_loss=active,
                reason=trace.skipped,
                gradients=trace.gradients,
                edits=trace.edits,
            )
            update: dict[str, Any] = {
                "iteration": iteration,
                "pending": None,
                "skipped": [skipped],
                "skipped_loss": active,
            }
            if iteration >= self.cfg.iterations:
                update["stop_reason"] = f"reached T={self.cfg.iterations}"
            return update
        return {
            "iteration": iteration,
            "pending": trace,
            "chain": trace.chain,
            "active_loss": active,
            "frozen": [n.value for n in optimiser.frozen(active)],
            "skipped_loss": None,
        }

    async def synthesize(self, state: LingoState, rt: Runtime[GraphContext]) -> dict[str, Any]:
        response = await self.agents.leader.synthesize(
            state["scenario"], state["chain"], rt.context.log, state["iteration"]
        )
        return {"response": response.response, "truncated": response.truncated}

    async def finish(self, state: LingoState, rt: Runtime[GraphContext]) -> dict[str, Any]:
        log = rt.context.log
        scenario = state["scenario"]
        failure = state.get("failure")
        iterations = list(state.get("iterations") or [])
        judged = sum(1 for it in iterations if it.judgement is not None)
        # A failure after two judged iterations keeps them: they are real data and can still pair.
        status = TrajectoryStatus.COMPLETED
        if failure:
            status = TrajectoryStatus.PARTIAL if judged >= 2 else TrajectoryStatus.FAILED
        traj = Trajectory(
            run_id=log.run_id,
            scenario=scenario,
            status=status,
            risk=state.get("risk"),
            guidelines=state.get("guidelines") or [],
            stackelberg=state.get("stackelberg"),
            draft=state.get("draft"),
            iterations=iterations,
            skipped=list(state.get("skipped") or []),
            stop_reason=(
                f"failed at {failure.role}/{failure.step}: {failure.kind.value}"
                if failure
                else state.get("stop_reason", "")
            ),
        )
        if status is not TrajectoryStatus.FAILED:
            traj.pairs, traj.pair_decision = select_pairs(
                log.run_id, scenario.id, scenario.conversation(), iterations, self.cfg, scenario.language
            )
        if self.cfg.predict_next_turn and status is not TrajectoryStatus.FAILED and iterations:
            # The safety judge predicted the next turn while judging: no call is made here.
            final = traj.pair.chosen_iteration if traj.pair else iterations[-1].index
            traj.next_move = next_move(next(it for it in iterations if it.index == final))
        traj.failures = list(log.failures)
        return {"trajectory": traj}

    # -- wiring ------------------------------------------------------------------------------------
    def _build(self) -> Any:
        g: StateGraph[LingoState, GraphContext, LingoState, LingoState] = StateGraph(
            LingoState, context_schema=GraphContext
        )
        for name in (
            "assess_risk",
            "stackelberg",
            "draft",
            "judge_satisfaction",
            "judge_safety",
            "score",
            "step",
            "synthesize",
            "finish",
        ):
            g.add_node(name, _guard(name, getattr(self, name)))  # type: ignore[call-overload]

        # The routers are coroutines: LangGraph runs a plain function on a thread pool, which costs
        # a thread hand-off per routing decision for a dictionary lookup.
        def then(target: str | list[str]) -> Callable[[LingoState], Awaitable[str | list[str]]]:
            async def route(s: LingoState) -> str | list[str]:
                return "finish" if s.get("failure") else target

            return route

        async def after_score(s: LingoState) -> str:
            return "finish" if s.get("failure") or s.get("stop_reason") else "step"

        judges = ["judge_satisfaction", "judge_safety"]
        g.add_edge(START, "assess_risk")
        g.add_conditional_edges("assess_risk", then("stackelberg"), ["stackelberg", "finish"])
        g.add_conditional_edges("stackelberg", then("draft"), ["draft", "finish"])
        g.add_conditional_edges("draft", then(judges), [*judges, "finish"])
        g.add_edge(judges, "score")
        g.add_conditional_edges("score", after_score, ["step", "finish"])

        async def after_step(s: LingoState) -> str:
            if s.get("failure") or s.get("stop_reason"):
                return "finish"
            return "synthesize" if s.get("pending") else "step"

        g.add_conditional_edges("step", after_step, ["synthesize", "step", "finish"])
        g.add_conditional_edges("synthesize", then(judges), [*judges, "finish"])
        g.add_edge("finish", END)
        return g.compile()

    async def aclose(self) -> None:
        await self.agents.aclose()

    async def run(
        self, scenario: Scenario, run_id: str, on_call: Callable[[LLMCall], None] | None = None
    ) -> tuple[Trajectory, CallLog]:
        """Run one scenario; ``on_call`` hears of every model call as it happens (live progress)."""
        log = CallLog(
            run_id=run_id,
            scenario_id=scenario.id,
            listener=on_call,
            seed_offset=0 if self.agents.config.replay else scenario_seed(run_id, scenario.id),
        )
        # Each Lingo-BP step is ~5 graph steps (a skipped one, 1); leave generous head-room over T.
        limit = 20 + 8 * (self.cfg.iterations + 1)
        out = await self.graph.ainvoke(
            {"scenario": scenario, "iteration": 0, "iterations": [], "failure": None},
            context=GraphContext(log=log),
            config={"recursion_limit": limit},
        )
        return out["trajectory"], log
