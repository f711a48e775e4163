"""What one Lingo-BP scenario costs in model calls and tokens, by design, on the offline mock model.

    python -m benchmarks.lingo_bp_cost [--iterations 3] [--scenarios PATH]

Runs every bundled scenario (agents/data/scenarios.jsonl) through the real graph with the scripted
mock model at T=3. The mock's satisfaction climbs -1, 0, 0, 1 and every reply is safe, so every
scenario runs all T steps (the pearl point comes only at the last judgement) and yields one pair: the
numbers are the design's worst case without repairs. Tokens are counted on the rendered prompt
messages and the completion with a fixed, tokenizer-free rule (each CJK character, word or
punctuation mark is one token), so that English and Chinese prompts are counted alike.
Prints one row per scenario, the totals per scenario and per pair, and exits non-zero when a
scenario costs more than the budget (20 calls at T=3).
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
from agents.lingo_bp.graph import Agents, LingoBP
from agents.scenarios import load_scenarios
from schemas import LingoBPConfig, OysterConfig, Scenario
from schemas.config import ROLES

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


async def measure(scenario: Scenario, iterations: int) -> Cost:
    answer = responder(default_answers(satisfaction=lambda n: [-1, 0, 0, 1][min(n, 3)]))
    completions: list[int] = []

    def counted(request: ChatRequest) -> str:
        text = answer(request)
        completions.append(tokens(text))
        return text

    backend = ScriptedBackend(counted)
    config = OysterConfig(lingo_bp=LingoBPConfig(iterations=iterations))
    lingo = LingoBP(Agents.build(config, backends=dict.fromkeys(ROLES, backend), calibrations={}))
    traj, log = await lingo.run(scenario, "cost")
    return Cost(
        scenario=scenario.id,
        language=scenario.language,
        calls=len(log.calls),
        prompt_tokens=sum(tokens(m.content) for r in backend.requests for m in r.messages),
        completion_tokens=sum(completions),
        pairs=1 if traj.pair is not None else 0,
        steps=Counter(c.step for c in log.calls),
    )


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--scenarios", default=None, help="JSONL of scenarios (default: the bundled set)")
    args = parser.parse_args(argv)
    scenarios = load_scenarios(args.scenarios)

    async def run_all() -> list[Cost]:
        return [await measure(s, args.iterations) for s in scenarios]

    costs = asyncio.run(run_all())
    print(table(costs, args.iterations))
    over = [c.scenario for c in costs if c.calls > BUDGET]
    if args.iterations == 3 and over:
        print(f"{len(over)} scenario(s) over budget ({BUDGET} calls), e.g. {over[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
