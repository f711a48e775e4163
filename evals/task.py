"""An evaluation task (inspect_ai style): its options, its samples, its scorers and what it reports.

A task is one module under `evals/tasks/` holding an :class:`EvalTask` subclass decorated with
:func:`register`; the command line (`oyster eval NAME`), the Ray workers and :func:`evals.run.run_task`
find it by name in the registry, so nothing else names tasks.
"""

from __future__ import annotations

import importlib
import pkgutil
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from evals.errors import EvalError
from schemas.config import DEFAULT_CONCURRENCY as DEFAULT_CONCURRENCY  # one default for runs and evaluations
from schemas.evaluation import EvalSample, SampleScore

if TYPE_CHECKING:
    from agents.team import Agents
    from evals.sample import Solver
    from evals.scorers import Scorer
    from schemas.config import OysterConfig
    from warehouse.evaluation import EvalStore
    from warehouse.store import QueryResult, Store

#: what the command line prints after a run: (title, table)
Summary = tuple[str, "QueryResult"]
#: the metadata keys a limited run spreads its samples over unless a task says otherwise
SPREAD_BY = ("language", "level", "kind")
#: the defaults of every evaluation, defined here only: new tokens a target may generate (a task may
#: ask for more, see EvalTask.max_tokens), and samples in flight in one process
DEFAULT_MAX_TOKENS = 200


def option(
    default: Any = ...,
    help: str = "",
    *,
    flag: str | None = None,
    argument: bool = False,
    split: bool = False,
    repeat: bool = False,
    hidden: bool = False,
) -> Any:
    """A task option and how it is spelled on the command line.

    `flag` defaults to `--field-name`; `argument` makes it positional; `split` reads one
    comma-separated value ("en,zh"); `repeat` takes the option several times; `hidden` keeps it off the
    command line (the run sets it, see `EvalTask.bind`).
    """
    cli = {"flag": flag, "argument": argument, "split": split, "repeat": repeat, "hidden": hidden}
    return Field(default, description=help, json_schema_extra={"cli": {k: v for k, v in cli.items() if v}})


@dataclass(frozen=True)
class CliOption:
    """One task option as the command line shows it."""

    field: str
    flag: str
    help: str
    annotation: Any
    default: Any
    required: bool
    argument: bool
    split: bool
    repeat: bool


class TaskOptions(BaseModel):
    """A task's own options, validated; their JSON travels to Ray workers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _split_commas(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        split = {o.field for o in cli_options(cls) if o.split}
        return {
            k: tuple(x.strip() for x in v.split(",")) if k in split and isinstance(v, str) else v
            for k, v in data.items()
        }


def _flag(field: str, *, argument: bool) -> str:
    return field.upper() if argument else "--" + field.replace("_", "-")


def cli_options(model: type[TaskOptions]) -> list[CliOption]:
    """The options the command line shows (every field but the hidden ones)."""
    out = []
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        cli: dict[str, Any] = extra.get("cli", {})  # type: ignore[assignment]
        if cli.get("hidden"):
            continue
        out.append(
            CliOption(
                field=name,
                flag=cli.get("flag") or _flag(name, argument=bool(cli.get("argument"))),
                help=info.description or "",
                annotation=info.annotation,
                default=None if info.is_required() else info.default,
                required=info.is_required(),
                argument=bool(cli.get("argument")),
                split=bool(cli.get("split")),
                repeat=bool(cli.get("repeat")),
            )
        )
    return out


OptionsT = TypeVar("OptionsT", bound=TaskOptions)


class EvalTask(ABC, Generic[OptionsT]):
    """One kind of evaluation. Subclasses set the class attributes and implement the abstract methods."""

    name: ClassVar[str]
    #: one line for `oyster eval --help` and the command's help
    help: ClassVar[str]
    options_model: type[OptionsT]
    #: False: the samples carry their responses and the scorers are under test (no --model)
    needs_target: ClassVar[bool] = True
    #: default of --max-tokens
    max_tokens: ClassVar[int] = DEFAULT_MAX_TOKENS

    def parse(self, values: Mapping[str, Any]) -> OptionsT:
        """Options from plain values (command-line strings or JSON); a bad one is one line naming it."""
        try:
            return self.options_model.model_validate(dict(values))
        except ValidationError as exc:
            err = exc.errors()[0]
            if not err["loc"]:  # a rule over several options: its message names them
                raise EvalError(f"{self.name}: {err['msg'].removeprefix('Value error, ')}") from None
            field = str(err["loc"][0])
            flag = {o.field: o.flag for o in cli_options(self.options_model)}.get(field, field)
            given = "" if err["type"] == "missing" else f" {err['input']!r}"
            raise EvalError(f"{self.name} {flag}{given}: {err['msg']}") from None

    def bind(self, options: OptionsT, warehouse: Store) -> OptionsT:
        """The options completed with what the task reads from the warehouse the run writes to (e.g.
        the reviews it takes its cases from); called before `samples`. By default unchanged."""
        return options

    @abstractmethod
    def samples(self, options: OptionsT) -> tuple[list[EvalSample], str]:
        """The samples and a label of where they came from (stored with the run)."""

    @abstractmethod
    def scorers(self, agents: Agents, options: OptionsT) -> list[Scorer]: ...

    def solver(self, agents: Agents, options: OptionsT) -> Solver | None:
        """How a sample is played when one reply of the target is not all (e.g. a dialogue of several
        turns, each reply scored by `scorers`); None (the default): one reply, scored once."""
        return None

    def recorded_scorers(self, options: OptionsT) -> list[Scorer] | None:
        """Scorers that read a verdict each sample already carries, so that no model is checked, built or
        called; None (the default): `scorers` judges with the config's models."""
        return None

    def annotate(self, sample: EvalSample, scores: list[SampleScore], options: OptionsT) -> list[SampleScore]:
        """A last look at one sample's scores before they are stored; by default unchanged."""
        return scores

    def spread_by(self, options: OptionsT) -> tuple[str, ...]:
        """Metadata keys a `--limit` run takes samples round-robin over; the expected label comes last."""
        return SPREAD_BY

    def completed(self, store: EvalStore, eval_id: str, options: OptionsT, config: OysterConfig) -> None:
        """Called once after a completed run (every sample tried): derive and store what the task keeps
        per run (figures, a fitted calibration); by default nothing."""
        return None

    @abstractmethod
    def summaries(self, store: EvalStore, eval_id: str, options: OptionsT) -> list[Summary]:
        """The tables the command line prints after a run."""

    def comparison(self, store: EvalStore, eval_ids: list[str]) -> list[Summary]:
        """Tables for `oyster eval compare`: one run per model on the default options."""
        raise EvalError(f"task '{self.name}' cannot be compared across models")

    @property
    def comparable(self) -> bool:
        return type(self).comparison is not EvalTask.comparison


_REGISTRY: dict[str, EvalTask[Any]] = {}
T = TypeVar("T", bound=type[EvalTask[Any]])


def register(cls: T) -> T:
    """Class decorator: make the task available by its name."""
    task = cls()
    if task.name in _REGISTRY and type(_REGISTRY[task.name]) is not cls:
        raise ValueError(f"two evaluation tasks are named '{task.name}'")
    _REGISTRY[task.name] = task
    return cls


def _load_tasks() -> None:
    # Every module in evals/tasks registers itself on import: a new task is one new file there.
    import evals.tasks

    for module in pkgutil.iter_modules(evals.tasks.__path__):
        importlib.import_module(f"evals.tasks.{module.name}")


def tasks() -> list[EvalTask[Any]]:
    """Every task, by name."""
    _load_tasks()
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


def get_task(name: str) -> EvalTask[Any]:
    _load_tasks()
    if name not in _REGISTRY:
        raise EvalError(f"unknown evaluation task '{name}' (use {', '.join(sorted(_REGISTRY))})")
    return _REGISTRY[name]
