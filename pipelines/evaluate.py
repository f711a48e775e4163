"""Evaluation job: `python pipelines/evaluate.py construction|strata-sword|prompts|judges|compare ...`.

The same options as `oyster eval ...`.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script (also under `ray job submit --working-dir .`): make the checkout importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cli.app import script_main

if __name__ == "__main__":
    script_main("eval")
