"""What one Lingo-BP scenario costs in model calls and tokens, by design, on the offline mock model.

    python -m benchmarks.lingo_bp_cost [--iterations 3] [--scenarios PATH] [--turns N]
                                       [--stackelberg predicted|rollout]

Runs every bundled scenario (agents/data/scenarios.jsonl) through the real graph with the scripted
mock model at T=3. The mock's satisfaction climbs -1, 0, 0, 1 and every reply is safe, so every
scenario runs all T steps (the pearl point comes only at the last judgement) and yields one pair: the
numbers are the design's worst case without repairs. Tokens are counted on the rendered prompt
messages and the completion with a fixed, tokenizer-free rule (each CJK character, word or
punctuation mark is one token), so that English and Chinese prompts are counted alike.
Prints one row per scenario, the totals per scenario and per pair, and exits non-zero when a
scenario costs more than the budget (20 calls at T=3).

With ``--turns N`` each scenario is played as an N-turn dialogue (the mock follower never leaves):
one row per turn, whose calls are its Lingo-BP calls plus, from turn 2 on, the follower's call that
wrote its user message; then the cost per turn and per dialogue. The budget applies to each turn's
calls, the follower's included: from turn 2 on, the turn's risk assessment is made in the Stackelberg
prediction call (``stackelberg_assess``), so the follower's call takes its place. ``--stackelberg
rollout`` adds 5 calls per candidate to each turn (reply, follower turn, three verdict-only
questions), so its budget is 20 + 5k.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections import Counter
from dataclasses import dataclass

from agents.backends import ScriptedBackend
from agents.backends.base import ChatRequest
from agents.backends.mock import default_answers, responder
from agents.lingo_bp.dialogue import Dialogue
from agents.lingo_bp.graph import LingoBP
from agents.llm import CallLog
from agents.scenarios import load_scenarios
from agents.team import Agents
from schemas import LingoBPConfig, OysterConfig, Scenario
from schemas.config import ROLES
from schemas.dialogue import DialogueRecord, DialogueTurn
from schemas.trajectory import Trajectory

BUDGET = 20
_TOKEN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|\w+|[^\w\s]")


def tokens(text: str) -> int:
    return len(_TOKEN.findall(text))


@dataclass
class Cost:
    scenario: str
    language: str
    calls: int
    prompt_tokens: int
    completion_tokens: int
    pairs: int
    steps: Counter[str]
    #: the follower's call that wrote this turn's user message (dialogue turns after the first)
    follower: int = 0

    @property
    def lingo_calls(self) -> int:
        return self.calls - self.follower


async def measure(scenario: Scenario, iterations: int) -> Cost:
    (cost,) = await measure_dialogue(scenario, iterations, 1, "predicted")
    return cost


async def measure_dialogue(scenario: Scenario, iterations: int, turns: int, stackelberg: str) -> list[Cost]:
    """One Cost per turn (one turn: the single-turn scenario, run as today)."""
    # each turn's satisfaction climbs -1, 0, 0, 1 again: every turn runs all T steps
    answer = responder(default_answers(satisfaction=lambda n: [-1, 0, 0, 1][n % 4]))
    completions: list[int] = []

    def counted(request: ChatRequest) -> str:
        text = answer(request)
        assert isinstance(text, str)  # the default answers are all text
        completions.append(tokens(text))
        return text

    backend = ScriptedBackend(counted)
    config = OysterConfig(
        lingo_bp=LingoBPConfig(iterations=iterations, turns=turns, stackelberg=stackelberg)  # type: ignore[arg-type]
    )
    lingo = LingoBP(Agents.build(config, backends=dict.fromkeys(ROLES, backend), calibrations={}))
    out: list[Cost] = []

    def cost(traj: Trajectory, log: CallLog) -> Cost:
        requests, completed = list(backend.requests), sum(completions)
        backend.requests.clear()
        completions.clear()
        return Cost(
            scenario=traj.scenario_id,
            language=traj.scenario.language,
            calls=len(log.calls),
            prompt_tokens=sum(tokens(m.content) for r in requests for m in r.messages),
            completion_tokens=completed,
            pairs=1 if traj.pair is not None else 0,
            steps=Counter(c.step for c in log.calls),
            follower=1 if (traj.scenario.turn or 1) > 1 else 0,
        )

    if turns == 1:
        return [cost(*await lingo.run(scenario, "cost"))]

    async def turn(_: DialogueRecord, __: DialogueTurn, traj: Trajectory, log: CallLog) -> None:
        out.append(cost(traj, log))

    await Dialogue.of(lingo).run(scenario, "cost", turn)
    return out


def table(costs: list[Cost], iterations: int) -> str:
    lines = [
        f"Lingo-BP cost on the scripted mock model, T={iterations}, {len(costs)} bundled scenarios",
        f"{'scenario':<64} {'lang':<4} {'calls':>5} {'prompt tok':>10} {'compl tok':>9} {'pairs':>5}",
    ]
    for c in costs:
        lines.append(
            f"{c.scenario:<64} {c.language:<4} {c.calls:>5} {c.prompt_tokens:>10} "
            f"{c.completion_tokens:>9} {c.pairs:>5}"
        )
    n = len(costs) or 1
    pairs = sum(c.pairs for c in costs)
    calls = sum(c.calls for c in costs)
    prompt = sum(c.prompt_tokens for c in costs)
    completion = sum(c.completion_tokens for c in costs)
    lines += [
        "",
        f"per scenario: max {max((c.calls for c in costs), default=0)} calls, "
        f"mean {calls / n:.1f} calls, {prompt / n:.0f} prompt + {completion / n:.0f} completion tokens",
    ]
    if pairs:
        lines.append(
            f"per pair ({pairs} pairs): {calls / pairs:.1f} calls, "
            f"{prompt / pairs:.0f} prompt + {completion / pairs:.0f} completion tokens"
        )
    steps: Counter[str] = Counter()
    for c in costs:
        steps.update(c.steps)
    lines.append(
        "calls per scenario by step: " + ", ".join(f"{s} {k / n:g}" for s, k in sorted(steps.items()))
    )
    return "\n".join(lines)


def per_dialogue(costs: list[Cost], turns: int, stackelberg: str) -> str:
    """Per turn (Lingo-BP calls and the follower's) and per dialogue."""
    dialogues = {c.scenario.rsplit("#t", 1)[0] for c in costs}
    by_turn: dict[int, list[Cost]] = {}
    for c in costs:
        by_turn.setdefault(int(c.scenario.rsplit("#t", 1)[1]), []).append(c)
    lines = [f"dialogues of {turns} turns, stackelberg: {stackelberg}"]
    for t, cs in sorted(by_turn.items()):
        lines.append(
            f"turn {t}: max {max(c.calls for c in cs)} calls ({max(c.lingo_calls for c in cs)} Lingo-BP + "
            f"{max(c.follower for c in cs)} follower), mean {sum(c.calls for c in cs) / len(cs):.1f} calls, "
            f"{sum(c.prompt_tokens for c in cs) / len(cs):.0f} prompt tokens"
        )
    lines.append(
        f"per dialogue ({len(dialogues)}): mean {sum(c.calls for c in costs) / len(dialogues):.1f} calls, "
        f"{sum(c.prompt_tokens + c.completion_tokens for c in costs) / len(dialogues):.0f} tokens"
    )
    return "\n".join(lines)


def budget(stackelberg: str, candidates: int = 3) -> int:
    """Calls a turn may cost at T=3, the follower's included: 20, and 5 per candidate more when rolled
    out."""
    return BUDGET + (5 * candidates if stackelberg == "rollout" else 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--scenarios", default=None, help="JSONL of scenarios (default: the bundled set)")
    parser.add_argument("--turns", type=int, default=1, help="play each scenario as a dialogue of N turns")
    parser.add_argument("--stackelberg", choices=("predicted", "rollout"), default="predicted")
    args = parser.parse_args(argv)
    scenarios = load_scenarios(args.scenarios)

    async def run_all() -> list[Cost]:
        out: list[Cost] = []
        for s in scenarios:
            out += await measure_dialogue(s, args.iterations, args.turns, args.stackelberg)
        return out

    costs = asyncio.run(run_all())
    print(table(costs, args.iterations))
    if args.turns > 1:
        print(per_dialogue(costs, args.turns, args.stackelberg))
    limit = budget(args.stackelberg)
    over = [c.scenario for c in costs if c.calls > limit]
    if args.iterations == 3 and over:
        print(f"{len(over)} turn(s) over budget ({limit} calls), e.g. {over[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
