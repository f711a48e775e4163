"""Fine-tuning on the warehouse.

data (views -> datasets), plan (what to train on what, and how metrics are recorded), trainer (model
loading, TRL, the local executor and the run's bookkeeping), ray_executor (Ray Train), gguf (preset
GGUF -> transformers, LoRA adapter -> GGUF).
"""

from __future__ import annotations

from schemas.errors import OysterError


class TrainError(OysterError, RuntimeError):
    """A user-facing training problem; str() is one line."""
