"""Construction Score: scenarios answered by the target, judged for satisfaction and safety.

The score itself is computed in SQL (view `eval_construction`) for every beta, so any beta is
reported without judging again.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from agents.scenarios import load_scenarios
from evals.scorers import ConstructionScorer, Scorer
from evals.task import EvalTask, Summary, TaskOptions, option, register
from schemas.evaluation import EvalSample

if TYPE_CHECKING:
    from agents.team import Agents
    from warehouse.evaluation import EvalStore


class ConstructionOptions(TaskOptions):
    scenarios: Path | None = option(None, "Scenario file [default: bundled].")


@register
class Construction(EvalTask[ConstructionOptions]):
    name = "construction"
    help = "Construction Score (alpha = 1, beta in 0.1 … 10) of a model's replies to scenarios."
    options_model = ConstructionOptions
    max_tokens = 300

    def samples(self, options: ConstructionOptions) -> tuple[list[EvalSample], str]:
        samples = [
            EvalSample(
                id=s.id,
                messages=s.conversation(),
                metadata={
                    "language": s.language,
                    "risk_level": s.risk_level.value if s.risk_level else "",
                    "user_type": s.user_type.value if s.user_type else "",
                    "category_l2": s.category_l2 or "",
                },
            )
            for s in load_scenarios(options.scenarios)
        ]
        return samples, str(options.scenarios or "bundled scenarios")

    def scorers(self, agents: Agents, options: ConstructionOptions) -> list[Scorer]:
        return [ConstructionScorer(agents)]

    def summaries(self, store: EvalStore, eval_id: str, options: ConstructionOptions) -> list[Summary]:
        return [("Construction Score", store.construction([eval_id]))]

    def comparison(self, store: EvalStore, eval_ids: list[str]) -> list[Summary]:
        return [("Construction Score by model", store.construction(eval_ids))]
