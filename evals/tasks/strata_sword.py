"""Strata-Sword: the 700 bundled jailbreak prompts, category-rule judge, attack success rate."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from evals.datasets import load_strata_sword
from evals.scorers import Scorer, StrataScorer
from evals.task import EvalTask, Summary, TaskOptions, option, register
from schemas.evaluation import EvalSample

if TYPE_CHECKING:
    from agents.team import Agents
    from warehouse.evaluation import EvalStore

BREAKDOWNS = ("overall", "level", "attack_method", "language")


class StrataSwordOptions(TaskOptions):
    languages: tuple[Literal["en", "zh", "cn"], ...] = option(
        ("en", "zh"), "Comma-separated: en, zh.", flag="--language", split=True
    )
    levels: tuple[Annotated[int, Field(ge=1, le=3)], ...] = option(
        (1, 2, 3), "Comma-separated levels 1-3.", flag="--level", split=True
    )


@register
class StrataSword(EvalTask[StrataSwordOptions]):
    name = "strata-sword"
    help = "Strata-Sword: attack success rate per level, attack method and language (category-rule judge)."
    options_model = StrataSwordOptions

    def samples(self, options: StrataSwordOptions) -> tuple[list[EvalSample], str]:
        return load_strata_sword(languages=options.languages, levels=options.levels), "strata-sword"

    def scorers(self, agents: Agents, options: StrataSwordOptions) -> list[Scorer]:
        return [StrataScorer(agents)]

    def summaries(self, store: EvalStore, eval_id: str, options: StrataSwordOptions) -> list[Summary]:
        return [(f"attack success rate by {by}", store.strata(eval_id, by)) for by in BREAKDOWNS]

    def comparison(self, store: EvalStore, eval_ids: list[str]) -> list[Summary]:
        return [(f"{eid}: attack success rate", store.strata(eid, "overall")) for eid in eval_ids]
