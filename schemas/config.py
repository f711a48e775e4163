"""Run configuration: one YAML file, every field defaulted so no file is needed on the embedded default."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
)

from schemas.base import Record, omit_defaults
from schemas.chain import MAX_REPLY_CHARS, NODE_MAX_CHARS, ChainNode
from schemas.errors import OysterError
from schemas.files import read_user_text
from schemas.gradient import ActiveLoss
from schemas.judgement import SafetyVerdict
from schemas.roles import (
    _BY_BACKEND,
    BACKEND_ENTRY_POINTS,
    BUILTIN_BACKENDS,
    AnyRole,
    EmbeddedRole,
    GuardKind,
    HttpClientKind,
    LangChainRole,
    OpenAIRole,
    PluginRole,
    R,
    RoleModel,
    ScriptedRole,
    ServeMode,
    StructuredMethod,
    backend_names,
    declare_backend,
    role_model,
    settings_of,
)
from schemas.stackelberg import FollowerReaction
from schemas.training import TrainConfig

ROLES: tuple[str, ...] = ("user", "leader", "risk", "critic")
#: scenarios (or evaluation samples) in flight in one process, unless a config or flag says otherwise
DEFAULT_CONCURRENCY = 2


class ConfigError(OysterError, ValueError):
    """A user-facing configuration problem; str() is one line naming the file and the problem."""


#: the leader samples more freely than the judges: Lingo-BP improves by re-synthesis, and a
#: near-greedy small model returns the same reply whatever the chain says
LEADER_TEMPERATURE = 0.7


def _leader_defaults(leader: R) -> R:
    """The leader with its own default temperature where none was given (still counted as not given)."""
    if "temperature" in leader.model_fields_set:
        return leader
    out = leader.model_copy(update={"temperature": LEADER_TEMPERATURE})
    out.__pydantic_fields_set__.discard("temperature")
    return out


class RolesConfig(Record):
    user: AnyRole = Field(default_factory=EmbeddedRole)
    leader: AnyRole = Field(default_factory=lambda: _leader_defaults(EmbeddedRole()))
    risk: AnyRole = Field(default_factory=EmbeddedRole)
    critic: AnyRole = Field(default_factory=EmbeddedRole)

    @field_validator("leader")
    @classmethod
    def _leader_default_temperature(cls, v: RoleModel) -> RoleModel:
        # A role's defaults do not depend on whether the config names it: a leader given without a
        # temperature samples at the leader's default, not at the judges'.
        return _leader_defaults(v)

    def get(self, role: str) -> RoleModel:
        if role not in ROLES:
            raise KeyError(role)
        value: RoleModel = getattr(self, role)
        return value


def _default_freeze() -> dict[ActiveLoss, list[ChainNode]]:
    # A safety epoch must not rewrite what the user needs; a satisfaction epoch must not argue
    # the risk analysis away to please the user.
    return {
        ActiveLoss.SAFETY: [ChainNode.USER_NEEDS],
        ActiveLoss.SATISFACTION: [ChainNode.RISK_INTENT],
        ActiveLoss.JOINT: [],
    }


def _default_reaction_risk() -> dict[FollowerReaction, float]:
    return {
        FollowerReaction.ACCEPTS_GUIDANCE: 0.0,
        FollowerReaction.REPHRASES_OR_RETRIES: 0.3,
        FollowerReaction.ESCALATES_OR_ATTACKS: 0.7,
        FollowerReaction.LEAVES_FOR_RISKIER_PLACE: 1.0,
    }


class TextLimits(Record):
    """Caps that stop a runaway small model; never above the schema ceilings in schemas/chain.py.

    Text over a cap is sent back for a rewrite; a reply still over it is cut, flagged ``truncated``
    on its row and never chosen.
    """

    user_needs: int = Field(
        default=NODE_MAX_CHARS[ChainNode.USER_NEEDS], ge=50, le=NODE_MAX_CHARS[ChainNode.USER_NEEDS]
    )
    risk_intent: int = Field(
        default=NODE_MAX_CHARS[ChainNode.RISK_INTENT], ge=50, le=NODE_MAX_CHARS[ChainNode.RISK_INTENT]
    )
    safety_guidelines: int = Field(
        default=NODE_MAX_CHARS[ChainNode.SAFETY_GUIDELINES],
        ge=50,
        le=NODE_MAX_CHARS[ChainNode.SAFETY_GUIDELINES],
    )
    reply: int = Field(default=MAX_REPLY_CHARS, ge=200, le=MAX_REPLY_CHARS)

    def node(self, node: ChainNode) -> int:
        value: int = getattr(self, node.value)
        return value


_DIALOGUE_DEFAULTS: dict[str, Any] = {"turns": 1, "dialogue_reply": "chosen", "stackelberg": "predicted"}


class LingoBPConfig(Record):
    iterations: int = Field(default=3, ge=0, le=20, description="T max")
    alpha: float = Field(default=1.0, gt=0, le=100)
    beta: float = Field(default=2.0, gt=0, le=100)
    candidates: int = Field(default=3, ge=2, le=6, description="k strategy sets in the Stackelberg step")
    pair_margin: float = Field(
        default=0.1, ge=0.0, le=2.0, description="minimum Construction Score margin for a pair"
    )
    chosen_verdicts: list[SafetyVerdict] = Field(
        default_factory=lambda: [SafetyVerdict.SAFE, SafetyVerdict.GENERALLY_SAFE],
        min_length=1,
        description="verdicts inside the safe boundary, from which the chosen response is taken",
    )
    pair_min_distance: float = Field(
        default=0.1,
        ge=0.0,
        le=1.0,
        description="replies closer than this (share of differing words, agents.textdiff) never pair",
    )
    node_change_bound: float = Field(
        default=0.75, gt=0.0, le=1.0, description="max normalised edit distance of a node per step"
    )
    epochs: Literal["auto"] | list[ActiveLoss] = "auto"
    freeze: dict[ActiveLoss, list[ChainNode]] = Field(default_factory=_default_freeze)
    reaction_risk: dict[FollowerReaction, Annotated[float, Field(ge=0.0, le=1.0)]] = Field(
        default_factory=_default_reaction_risk
    )
    predict_next_turn: bool = True
    limits: TextLimits = Field(default_factory=TextLimits)
    #: a dialogue of up to N turns per scenario, the simulated user writing each next turn (1: none)
    turns: int = Field(default=1, ge=1, le=20, description="turns per dialogue; 1 = single-turn")
    #: which of a turn's replies the dialogue goes on from: the pair's chosen one, or the last iteration's
    dialogue_reply: Literal["chosen", "last"] = "chosen"
    #: how a candidate strategy's payoff is found: from the judge's predicted reaction and the
    #: reaction_risk table, or by rolling out a short reply and the follower's actual next turn
    stackelberg: Literal["predicted", "rollout"] = "predicted"

    @model_serializer(mode="wrap")
    def _omit_unset(self, handler: SerializerFunctionWrapHandler) -> Any:
        # A run's stored config stays as it was for a single-turn run with predicted payoffs.
        return omit_defaults(handler(self), _DIALOGUE_DEFAULTS)

    @field_validator("chosen_verdicts")
    @classmethod
    def _never_choose_unsafe(cls, v: list[SafetyVerdict]) -> list[SafetyVerdict]:
        if SafetyVerdict.UNSAFE in v:
            raise ValueError("may not contain 'unsafe': a reply judged unsafe is never the chosen side")
        return v


class TrustConfig(Record):
    """When a pair may be trusted: every judge that chose it has a validity record (schemas.trust) whose
    macro-F1 reaches its threshold and, with ``above_constant``, beats the best constant answer."""

    min_macro_f1: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]] = Field(
        default_factory=lambda: {"safety": 0.75, "satisfaction": 0.7}
    )
    above_constant: bool = True


class RayConfig(Record):
    address: str | None = None
    actors: int = Field(default=1, ge=1)
    concurrency_per_actor: int = Field(default=4, ge=1)
    num_cpus_per_actor: float = Field(default=1.0, ge=0)
    num_gpus_per_actor: float = Field(default=0.0, ge=0)


class BudgetConfig(Record):
    """Limits of one run id, across its resumes; calls answered from the response cache are free."""

    max_tokens_total: int | None = Field(default=None, ge=1, description="prompt + completion tokens")
    max_calls: int | None = Field(default=None, ge=1, description="model calls")


class OysterConfig(Record):
    roles: RolesConfig = Field(default_factory=RolesConfig)
    lingo_bp: LingoBPConfig = Field(default_factory=LingoBPConfig)
    ray: RayConfig = Field(default_factory=RayConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    trust: TrustConfig = Field(default_factory=TrustConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    warehouse: str | None = None
    prompts: str | None = None
    concurrency: int = Field(
        default=DEFAULT_CONCURRENCY, ge=1, description="scenarios in flight in one process"
    )
    cache: bool = Field(default=True, description="answer repeated identical calls from the response cache")
    replay: bool = Field(
        default=False,
        description="sample with the same seeds as any earlier run (and so replay its cached answers); "
        "by default each run id samples anew",
    )

    @field_validator("warehouse", "prompts")
    @classmethod
    def _expand(cls, v: str | None) -> str | None:
        return None if v is None else str(Path(v).expanduser())


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc, msg = list(err["loc"]), err["msg"]
    if len(loc) > 2 and loc[0] == "roles" and loc[2] in (*_BY_BACKEND, "plugin"):
        # The union's tag is pydantic's bookkeeping, not a key of the file: name the role's own key.
        kind = loc.pop(2)
        if err["type"] == "extra_forbidden":
            msg = f"not a setting of the {kind} backend"
    where = ".".join(str(p) for p in loc) or "(top level)"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {msg}{more}"


def load_config(path: str | Path | None, overrides: dict[str, Any] | None = None) -> OysterConfig:
    """Read and validate a YAML config; raise ConfigError with one line naming the file and the problem."""
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        text = read_user_text(p, "config file", ConfigError)
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f" at line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"{p}: not valid YAML{line}") from None
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{p}: top level must be a mapping, got {type(raw).__name__}")
        data = raw
    return _validated(apply_overrides(data, overrides or {}), str(path or "config"))


class _Null:
    """An override that sets a field to null (``None`` itself means "flag not given")."""

    def __repr__(self) -> str:
        return "NULL"


NULL = _Null()


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``data`` with dotted keys set (``{"lingo_bp.iterations": 2}``); ``None``: not given."""
    merged = copy.deepcopy(data)
    for dotted, given in overrides.items():
        if given is None:
            continue
        value = None if given is NULL else given
        *parents, leaf = dotted.split(".")
        node = merged
        for key in parents:
            child = node.get(key)
            node[key] = child = dict(child) if isinstance(child, dict) else {}
            node = child
        node[leaf] = value
    return merged


def _validated(data: dict[str, Any], source: str) -> OysterConfig:
    try:
        return OysterConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_first_error(exc)}") from None


#: the roles' names are re-exported here: a config's roles are schemas.roles' models
__all__ = [
    "BACKEND_ENTRY_POINTS",
    "BUILTIN_BACKENDS",
    "DEFAULT_CONCURRENCY",
    "NULL",
    "ROLES",
    "AnyRole",
    "BudgetConfig",
    "ConfigError",
    "EmbeddedRole",
    "GuardKind",
    "HttpClientKind",
    "LangChainRole",
    "LingoBPConfig",
    "OpenAIRole",
    "OysterConfig",
    "PluginRole",
    "RayConfig",
    "RoleModel",
    "RolesConfig",
    "ScriptedRole",
    "ServeMode",
    "StructuredMethod",
    "TextLimits",
    "TrustConfig",
    "apply_overrides",
    "backend_names",
    "declare_backend",
    "load_config",
    "role_model",
    "settings_of",
]
