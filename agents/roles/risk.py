"""The risk assessor: multi-dimensional assessment of the query, of candidate strategies and of responses."""

from __future__ import annotations

import copy
from typing import Any

from agents.guards import JUDGES_REFUSAL, READERS, GuardReading, guard_conversation
from agents.judges.safety import SAFETY
from agents.llm import CallLog, RoleLLM
from agents.replies import list_of_exactly
from agents.roles.verdicts import VerdictJudge
from agents.steps import StepName
from agents.taxonomy import Taxonomy
from schemas.evaluation import RefusalJudgement, StrataJudgement
from schemas.judgement import SafetyJudgement, SafetyVerdict
from schemas.messages import ChatMessage, transcript
from schemas.risk import GuidelineRule, RiskAssessment
from schemas.scenario import RiskLevel, Scenario
from schemas.stackelberg import AssessedOutcomes, CandidateOutcomes, CandidateStrategy

NONE = "None"


class RiskAssessor:
    role = "risk"

    def __init__(self, llm: RoleLLM, taxonomy: Taxonomy, verdicts: VerdictJudge | None = None) -> None:
        self.llm = llm
        self.taxonomy = taxonomy
        #: a dedicated guard model judges in its own format (agents.guards); it follows none of our prompts
        self.guard = llm.cfg.guard
        #: where a safety calibration exists for this role's model, it decides safe versus unsafe
        self.verdicts = verdicts
        self._l1 = [*taxonomy.level1_names(), NONE]
        self._l2 = [*taxonomy.level2_names(), NONE]
        # Constrain the category fields to the taxonomy's names so a small model cannot invent one.
        schema: dict[str, Any] = copy.deepcopy(RiskAssessment.model_json_schema())
        schema["properties"]["category_l1"]["enum"] = self._l1
        schema["properties"]["category_l2"]["enum"] = self._l2
        self._assess_schema = schema

    def _known_categories(self, out: RiskAssessment) -> str | None:
        if out.category_l1 not in self._l1:
            return f"category_l1 '{out.category_l1}' is not a taxonomy level-1 name"
        if out.category_l2 not in self._l2:
            return f"category_l2 '{out.category_l2}' is not a taxonomy level-2 name"
        return None

    def _read(self, scenario: Scenario) -> dict[str, object]:
        """What every reading of the conversation is given: the conversation and its dialogue turn (0
        outside dialogues), so that a later turn is judged against everything asked before it."""
        return {"transcript": scenario.transcript(), "turn": scenario.turn or 0}

    def _categories(self) -> dict[str, list[str]]:
        return {"categories_l1": self._l1[:-1], "categories_l2": self._l2[:-1]}

    async def assess(self, scenario: Scenario, log: CallLog) -> tuple[RiskAssessment, list[GuidelineRule]]:
        risk: RiskAssessment = await self.llm.ask(
            StepName.RISK_ASSESS,
            {**self._read(scenario), **self._categories()},
            log,
            check=self._known_categories,
            json_schema=self._assess_schema,
            language=scenario.language,
        )
        return risk, self.guidelines_for(risk, scenario.language, scenario)

    def guidelines_for(
        self, risk: RiskAssessment, language: str, scenario: Scenario | None = None
    ) -> list[GuidelineRule]:
        """The rules of the scenario's own category where it is labelled with a known one (a label is
        ground truth; the assessor's guess is not), else of the category the assessor found."""
        if scenario is not None and (scenario.category_l2 or scenario.category_l1):
            labelled = self.taxonomy.rules_for(scenario.category_l2, scenario.category_l1, language)
            if labelled:
                return labelled
        if risk.level is RiskLevel.NO_RISK and risk.category_l2 == NONE:
            return []
        l2 = None if risk.category_l2 == NONE else risk.category_l2
        l1 = None if risk.category_l1 == NONE else risk.category_l1
        return self.taxonomy.rules_for(l2, l1, language)

    async def predict_outcomes(
        self, scenario: Scenario, risk: RiskAssessment, candidates: list[CandidateStrategy], log: CallLog
    ) -> CandidateOutcomes:
        """The Stackelberg prediction in one call: who the follower is, how they would react to each
        candidate, and how much harm each candidate could do (the developer judge's user analysis)."""
        k = len(candidates)

        def one_per_candidate(out: CandidateOutcomes) -> str | None:
            return _one_per_candidate(len(out.outcomes), k)

        result: CandidateOutcomes = await self.llm.ask(
            StepName.STACKELBERG_PREDICT,
            {"transcript": scenario.transcript(), "risk": risk, "candidates": candidates},
            log,
            check=one_per_candidate,
            json_schema=list_of_exactly(CandidateOutcomes, "outcomes", k),
            language=scenario.language,
        )
        return result

    async def reassess_and_predict(
        self, scenario: Scenario, previous: RiskAssessment, candidates: list[CandidateStrategy], log: CallLog
    ) -> tuple[RiskAssessment, list[GuidelineRule], CandidateOutcomes]:
        """A later turn of a dialogue in one call: the risk of its last user turn, assessed in the whole
        dialogue, and the Stackelberg prediction for ``candidates`` (proposed under ``previous``, the
        previous turn's assessment)."""
        k = len(candidates)

        def checked(out: AssessedOutcomes) -> str | None:
            return _one_per_candidate(len(out.outcomes), k) or self._known_categories(out.risk)

        schema = copy.deepcopy(list_of_exactly(AssessedOutcomes, "outcomes", k))
        fields = schema["$defs"]["RiskAssessment"]["properties"]
        fields["category_l1"]["enum"], fields["category_l2"]["enum"] = self._l1, self._l2
        inputs = {**self._read(scenario), "previous_risk": previous, "candidates": candidates}
        result: AssessedOutcomes = await self.llm.ask(
            StepName.STACKELBERG_ASSESS,
            {**inputs, **self._categories()},
            log,
            check=checked,
            json_schema=schema,
            language=scenario.language,
        )
        return result.risk, self.guidelines_for(result.risk, scenario.language, scenario), result.prediction()

    async def judge_safety(
        self,
        scenario: Scenario,
        response: str,
        risk: RiskAssessment,
        guidelines: list[GuidelineRule],
        log: CallLog,
    ) -> SafetyJudgement:
        result: SafetyJudgement = await self.llm.ask(
            StepName.RISK_SAFETY,
            {**self._read(scenario), "response": response, "risk": risk, "guidelines": guidelines},
            log,
            language=scenario.language,
        )
        if self.verdicts is None or self.verdicts.calibration(SAFETY) is None:
            # Uncalibrated: the generated verdict, naming no calibration whatever the model wrote.
            return result.model_copy(update={"p_unsafe": None, "calibration": None})
        # The critic consumes the generated rationale, so it stays; the calibrated probability
        # decides safe versus unsafe. Within safe the generated grade is kept, and a generated
        # "unsafe" the calibrated judge overrules becomes the weaker safe grade.
        v = await self.verdicts.judge(SAFETY, scenario.transcript(), response, log)
        if SAFETY.is_positive(v.label):
            verdict = SafetyVerdict.UNSAFE
        elif result.verdict is SafetyVerdict.UNSAFE:
            verdict = SafetyVerdict.GENERALLY_SAFE
        else:
            verdict = result.verdict
        return result.model_copy(
            update={"verdict": verdict, "p_unsafe": v.score, "calibration": v.calibration}
        )

    async def judge_strata(
        self, prompt: str, response: str, category: str, rules: list[GuidelineRule], log: CallLog
    ) -> StrataJudgement:
        """Strata-Sword's category-rule method, second half: judge the reply against the category's rule."""
        result: StrataJudgement = await self.llm.ask(
            StepName.EVAL_STRATA_JUDGE,
            {"prompt": prompt, "response": response, "category": category, "rules": rules},
            log,
        )
        return result

    @property
    def judges_refusal(self) -> bool:
        return self.guard is None or self.guard in JUDGES_REFUSAL

    async def read_guard(self, messages: list[ChatMessage], response: str, log: CallLog) -> GuardReading:
        """The guard model's reading of `response` as the reply to the conversation `messages`."""
        if self.guard is None:
            raise ValueError("the risk role has no guard model (roles.risk.guard)")
        return await self.llm.classify(
            StepName.GUARD, guard_conversation(messages, response), log, READERS[self.guard]
        )

    async def judge_refusal(
        self, messages: list[ChatMessage], response: str, log: CallLog
    ) -> RefusalJudgement:
        """Whether ``response`` refuses the last user turn of ``messages``, read in that conversation."""
        if self.guard is not None:
            return (await self.read_guard(messages, response, log)).refusal()
        result: RefusalJudgement = await self.llm.ask(
            StepName.EVAL_REFUSAL,
            {"history": transcript(messages[:-1]), "prompt": messages[-1].content, "response": response},
            log,
        )
        return result


def _one_per_candidate(n: int, k: int) -> str | None:
    return None if n == k else f"outcomes has {n} entries, expected exactly {k} (one per candidate)"
