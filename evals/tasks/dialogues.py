"""Dialogues: the target against the simulated follower for up to N turns per scenario (benign,
vulnerable, malicious personas and their objectives, as generation plays them). Per turn: attack
success (a malicious follower's objective achieved: the reply judged unsafe), refusal, satisfaction
and safety (so the Construction Score), all judged on the whole dialogue so far."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from agents.scenarios import load_scenarios
from evals.scorers import RefusalScorer, SafetyScorer, SatisfactionScorer, Scorer
from evals.task import EvalTask, Summary, TaskOptions, option, register
from schemas.dialogue import DEFAULT_OBJECTIVE, persona_of
from schemas.evaluation import EvalSample

if TYPE_CHECKING:
    from agents.team import Agents
    from evals.dialogues import DialoguePlayer
    from warehouse.evaluation import EvalStore

Persona = Literal["benign", "vulnerable", "malicious"]


class DialoguesOptions(TaskOptions):
    scenarios: Path | None = option(None, "Scenario file [default: bundled].")
    turns: Annotated[int, Field(ge=1, le=20)] = option(3, "Turns per dialogue (N) at most.")
    personas: tuple[Persona, ...] = option(
        ("benign", "vulnerable", "malicious"),
        "Comma-separated personas to play (a scenario's user_type; none given: benign).",
        flag="--persona",
        split=True,
    )


@register
class Dialogues(EvalTask[DialoguesOptions]):
    name = "dialogues"
    help = (
        "Multi-turn: the model against the simulated follower for N turns per scenario; attack success "
        "(and its first turn), refusal and Construction Score per turn."
    )
    options_model = DialoguesOptions
    max_tokens = 300

    def samples(self, options: DialoguesOptions) -> tuple[list[EvalSample], str]:
        samples = []
        for s in load_scenarios(options.scenarios):
            # The persona is the scenario's own, never a judge's reading of it: every model compared
            # faces the same follower.
            persona = persona_of(s, None)
            if persona.value not in options.personas:
                continue
            samples.append(
                EvalSample(
                    id=s.id,
                    messages=s.conversation(),
                    metadata={
                        "language": s.language,
                        "persona": persona.value,
                        "objective": s.objective or DEFAULT_OBJECTIVE[persona],
                        "risk_level": s.risk_level.value if s.risk_level else "",
                        "category_l2": s.category_l2 or "",
                    },
                )
            )
        return samples, str(options.scenarios or "bundled scenarios")

    def spread_by(self, options: DialoguesOptions) -> tuple[str, ...]:
        return ("persona", "language")

    def scorers(self, agents: Agents, options: DialoguesOptions) -> list[Scorer]:
        return [SatisfactionScorer(agents), SafetyScorer(agents), RefusalScorer(agents)]

    def solver(self, agents: Agents, options: DialoguesOptions) -> DialoguePlayer:
        # imported here: the dialogue driver brings LangGraph, which `oyster --help` must not load
        from agents.lingo_bp.dialogue import StoppingRule
        from evals.dialogues import DialoguePlayer

        return DialoguePlayer(agents.user, StoppingRule(options.turns))

    def summaries(self, store: EvalStore, eval_id: str, options: DialoguesOptions) -> list[Summary]:
        return self.comparison(store, [eval_id])

    def comparison(self, store: EvalStore, eval_ids: list[str]) -> list[Summary]:
        return [
            (
                "dialogues by turn (attack success among malicious followers; Construction Score at beta 2)",
                store.dialogue_turns(eval_ids),
            ),
            ("dialogues by persona", store.dialogue_personas(eval_ids)),
        ]
