"""Fine-tuning nouns: how to train on the warehouse's pairs, and what a training run records."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from schemas.base import Record


class TrainMethod(StrEnum):
    DPO = "dpo"
    ORPO = "orpo"
    SFT = "sft"

    @property
    def view(self) -> str:
        """The warehouse view a method trains on: preference methods on pairs, SFT on the best safe
        replies (the trusted rows only; see ``source``)."""
        return "sft" if self is TrainMethod.SFT else "dpo"

    def source(self, target: str = "reply") -> str:
        """The view rows are read from, trusted or not: the trust gate then keeps the trusted ones
        unless untrusted pairs are allowed (`oyster train --allow-untrusted`)."""
        if self is TrainMethod.SFT:
            return "sft_all"
        return "dpo_reasoning" if target == "reasoning" else "dpo_per_prompt"


class LoraConfig(Record):
    r: int = Field(default=8, gt=0)
    alpha: int = Field(default=16, gt=0)
    dropout: float = Field(default=0.05, ge=0.0, lt=1.0)
    target_modules: list[str] = Field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])


class TrainConfig(Record):
    """Hyper-parameters of `oyster train` (the `train:` section of the config file)."""

    lora: LoraConfig | None = Field(default_factory=LoraConfig, description="null = full fine-tuning")
    learning_rate: float = Field(default=5e-5, gt=0)
    epochs: float = Field(default=1.0, gt=0)
    max_steps: int = Field(default=-1, description="> 0 overrides epochs")
    batch_size: int = Field(default=2, gt=0, description="per device")
    gradient_accumulation_steps: int = Field(default=1, gt=0)
    beta: float = Field(default=0.1, gt=0, description="DPO temperature / ORPO odds-ratio weight")
    max_length: int = Field(default=1024, gt=0, description="tokens per prompt + completion")
    eval_fraction: float = Field(default=0.0, ge=0.0, lt=1.0, description="share held out, by seed")
    seed: int = 0
    logging_steps: int = Field(default=1, gt=0)
    bf16: bool | None = Field(default=None, description="null = on when a CUDA GPU supports it")
    gradient_checkpointing: bool | None = Field(default=None, description="null = on with a GPU")
    target: Literal["reply", "reasoning"] = Field(
        default="reply",
        description="reply: chosen/rejected are the replies; reasoning: the reasoning path, then the reply "
        "(dpo / orpo; view dpo_reasoning)",
    )
    allow_untrusted: bool = Field(
        default=False, description="also train on pairs whose judges were never validated (see trust)"
    )
    convert_adapter_to_gguf: bool = Field(
        default=True, description="write adapter.gguf for the embedded backend when the base is a preset"
    )
