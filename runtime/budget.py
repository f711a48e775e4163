"""A run's budget of model calls and tokens: whether one more scenario may start.

The rule: a scenario starts only if what the run has spent, plus what the scenarios in flight are
still expected to spend, plus one more scenario, stays within every limit. A scenario is expected to
cost the mean of the run's finished scenarios (those of earlier resumes included); until one has
finished, scenarios start while anything is left. Scenarios in flight always finish and are
written, so a run ends at most about one scenario per concurrency slot past its budget, and
usually within it. Once a scenario is refused, none starts again in this process: a resume with a
larger budget goes on. Calls answered from the response cache cost nothing and are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.config import BudgetConfig
from schemas.records import LLMCall, Spend
from schemas.scenario import Scenario


@dataclass
class Budget:
    limits: BudgetConfig
    spent: Spend = field(default_factory=Spend)
    #: spend of the run's finished scenarios and how many they are: the per-scenario estimate
    finished: Spend = field(default_factory=Spend)
    finished_count: int = 0
    in_flight: dict[str, Spend] = field(default_factory=dict)
    exhausted: bool = False

    @property
    def limited(self) -> bool:
        return self.limits.max_calls is not None or self.limits.max_tokens_total is not None

    def heard(self, call: LLMCall) -> None:
        self.spent.add(call)
        if call.scenario_id in self.in_flight:
            self.in_flight[call.scenario_id].add(call)

    def admit(self, scenario: Scenario) -> bool:
        if not self.exhausted and self.limited:
            self.exhausted = any(
                spent + sum(max(0.0, mean - part) for part in parts) + mean > limit or spent >= limit
                for limit, spent, mean, parts in self._dimensions()
            )
        if self.exhausted:
            return False
        self.in_flight[scenario.id] = Spend()
        return True

    def scenario_finished(self, scenario_id: str, calls: list[LLMCall]) -> None:
        self.in_flight.pop(scenario_id, None)
        for call in calls:
            self.finished.add(call)
        self.finished_count += 1

    def _dimensions(self) -> list[tuple[int, int, float, list[int]]]:
        n = self.finished_count or 1
        out = []
        if self.limits.max_calls is not None:
            parts = [s.calls for s in self.in_flight.values()]
            out.append((self.limits.max_calls, self.spent.calls, self.finished.calls / n, parts))
        if self.limits.max_tokens_total is not None:
            parts = [s.tokens for s in self.in_flight.values()]
            out.append((self.limits.max_tokens_total, self.spent.tokens, self.finished.tokens / n, parts))
        return out

    def describe(self) -> str:
        shown = []
        if self.limits.max_calls is not None:
            shown.append(f"{self.spent.calls} of {self.limits.max_calls} calls")
        if self.limits.max_tokens_total is not None:
            shown.append(f"{self.spent.tokens} of {self.limits.max_tokens_total} tokens")
        return ", ".join(shown)
