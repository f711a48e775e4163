"""Main job: `python pipelines/lingo_bp.py [--scenarios F] [--limit N] ...` (same options as `oyster run`).

Unlike `oyster run`, the script runs on Ray by default: on the cluster given by `RAY_ADDRESS` /
`ray job submit`, else on a local Ray it starts itself. `--no-ray` runs in this process.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script (also under `ray job submit --working-dir .`): make the checkout importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cli.app import script_main

if __name__ == "__main__":
    script_main("run", defaults=[(("--ray", "--no-ray"), "--ray")])
