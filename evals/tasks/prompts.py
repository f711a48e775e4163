"""Any labelled prompt file (answer / refuse), judged by the refusal classifier: over-refusal rates."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from evals.datasets import load_prompt_set
from evals.scorers import RefusalScorer, Scorer
from evals.task import EvalTask, Summary, TaskOptions, option, register
from schemas.evaluation import EvalSample

if TYPE_CHECKING:
    from agents.lingo_bp.graph import Agents
    from warehouse.evaluation import EvalStore


class PromptsOptions(TaskOptions):
    file: Path = option(help="CSV or JSONL of prompts with an answer/refuse label.", argument=True)
    prompt_column: str = option("prompt", "Column holding the prompt.")
    label_column: str = option("label", "Column saying answer / refuse.")
    category_columns: tuple[str, ...] = option(
        (), "Column(s) to report rates by (repeatable).", flag="--category", repeat=True
    )


@register
class Prompts(EvalTask[PromptsOptions]):
    name = "prompts"
    help = "Over-refusal (or any labelled prompt set): compliance / partial / full refusal rates per label."
    options_model = PromptsOptions

    def samples(self, options: PromptsOptions) -> tuple[list[EvalSample], str]:
        samples = load_prompt_set(
            options.file,
            prompt_column=options.prompt_column,
            label_column=options.label_column,
            category_columns=options.category_columns,
        )
        return samples, str(options.file)

    def scorers(self, agents: Agents, options: PromptsOptions) -> list[Scorer]:
        return [RefusalScorer(agents)]

    def summaries(self, store: EvalStore, eval_id: str, options: PromptsOptions) -> list[Summary]:
        return [
            ("refusal rates by expected label", store.refusal(eval_id)),
            *((f"refusal rates by {c}", store.refusal(eval_id, c)) for c in options.category_columns),
        ]
