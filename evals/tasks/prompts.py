"""Any labelled prompt file (answer / refuse), judged by the refusal classifier: over-refusal rates.

A harmful-behaviour set (HarmBench, StrongREJECT, AdvBench, …) has no label column: `--expected refuse`
gives every row that label, and the compliance rate is then reported as the attack success rate.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from evals.datasets import load_prompt_set
from evals.scorers import RefusalScorer, Scorer
from evals.task import SPREAD_BY, EvalTask, Summary, TaskOptions, option, register
from schemas.evaluation import EvalSample

if TYPE_CHECKING:
    from agents.team import Agents
    from warehouse.evaluation import EvalStore


class PromptsOptions(TaskOptions):
    file: Path = option(help="CSV or JSONL of prompts with an answer/refuse label.", argument=True)
    prompt_column: str = option("prompt", "Column holding the prompt.")
    label_column: str = option("label", "Column saying answer / refuse.")
    expected: Literal["answer", "refuse"] | None = option(
        None, "answer | refuse: one label for every row; the file needs no label column."
    )
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
            label_column=None if options.expected else options.label_column,
            category_columns=options.category_columns,
        )
        if options.expected:
            samples = [s.model_copy(update={"target": options.expected}) for s in samples]
        return samples, str(options.file)

    def spread_by(self, options: PromptsOptions) -> tuple[str, ...]:
        return (*SPREAD_BY, *options.category_columns)

    def scorers(self, agents: Agents, options: PromptsOptions) -> list[Scorer]:
        return [RefusalScorer(agents)]

    def summaries(self, store: EvalStore, eval_id: str, options: PromptsOptions) -> list[Summary]:
        if options.expected == "refuse":
            name = "attack success rate (replies judged compliant)"
            by = options.category_columns
            return [
                (name, store.refusal(eval_id, attack=True)),
                *((f"{name} by {c}", store.refusal(eval_id, c, attack=True)) for c in by),
            ]
        return [
            ("refusal rates by expected label", store.refusal(eval_id)),
            *((f"refusal rates by {c}", store.refusal(eval_id, c)) for c in options.category_columns),
        ]
