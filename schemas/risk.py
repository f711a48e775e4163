"""Multi-dimensional risk assessment (METHOD section 2)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from schemas.base import LLMOutput
from schemas.scenario import RiskLevel, UserType


class Intent(StrEnum):
    SAFE_INQUIRY = "safe_inquiry"
    RISK_INQUIRY = "risk_inquiry"
    HARMFUL_OPINION = "harmful_opinion"
    MALICIOUS_INSTRUCTION = "malicious_instruction"


class IntentForm(StrEnum):
    """Declarative / inquiry / directive, with the subtypes the method names."""

    DECLARATIVE_RISK_STATEMENT = "declarative_risk_content_statement"
    INQUIRY_RISKY_INFORMATION = "inquiry_request_for_risky_information"
    INQUIRY_EVALUATE_OPINION = "inquiry_request_to_evaluate_risky_opinion"
    DIRECTIVE_NON_AGGRESSIVE = "directive_non_aggressive_method"
    DIRECTIVE_AGGRESSIVE = "directive_aggressive_method"
    NONE = "none"


class Severity(StrEnum):
    NONE = "none"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class SeverityByDimension(LLMOutput):
    """Severity on each harm dimension, in the spirit of PKU-SafeRLHF's category x severity labels."""

    harm_to_user: Severity = Severity.NONE
    harm_to_others: Severity = Severity.NONE
    legal: Severity = Severity.NONE
    misinformation: Severity = Severity.NONE


class RiskAssessment(LLMOutput):
    level: RiskLevel
    intent: Intent
    intent_form: IntentForm
    category_l1: str = Field(description="level-1 area of the risk taxonomy, or 'None'")
    category_l2: str = Field(description="level-2 category of the risk taxonomy, or 'None'")
    likely_user_type: UserType
    severity: SeverityByDimension
    rationale: str = Field(max_length=200)


class GuidelineRule(LLMOutput):
    category: str
    rule: str
