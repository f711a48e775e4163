"""Evaluation tasks, one module each; every module here registers its task on import (see evals.task)."""
