"""docs/architecture.md and docs/method.md say what the code is: the loop's tasks, the views, the loop
itself (quoted), and nothing outside the repository."""

from __future__ import annotations

import inspect
import re
import textwrap
from pathlib import Path

from agents.lingo_bp.graph import LingoBP

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def _views_in_code() -> set[str]:
    sql = (ROOT / "warehouse" / "sql" / "views.sql").read_text(encoding="utf-8")
    return set(re.findall(r"CREATE OR REPLACE VIEW (\w+)", sql))


def test_the_tasks_named_in_the_docs_are_the_loops_tasks_in_order() -> None:
    found = re.search(r"task, in this order: ([a-z_, \n]+)\.", ARCHITECTURE)
    assert found, "docs/architecture.md names the loop's tasks"
    named = [n.strip() for n in found.group(1).replace("\n", " ").split(",")]
    assert tuple(named) == LingoBP.NODES


def test_the_views_named_in_the_docs_are_the_views_in_the_code() -> None:
    section = ARCHITECTURE.split("The views the README and the dataset card name:")[1].split("##")[0]
    named = set(re.findall(r"`(\w+)`", section))
    assert named == _views_in_code()
    # and every view the data-path diagram names exists
    path = ARCHITECTURE.split("## One scenario's way through")[1].split("##")[0]
    views = path.split("-> views:")[1].split("-> oyster sql")[0]
    assert set(re.findall(r"[a-z_]+", views)) - {"trusted"} <= _views_in_code()


def test_the_loop_quoted_in_method_md_is_the_code() -> None:
    method = (ROOT / "docs" / "method.md").read_text(encoding="utf-8")
    quoted = method.split("## The loop, as it is in the code")[1].split("```python\n")[1].split("```")[0]
    assert quoted.rstrip() == textwrap.dedent(inspect.getsource(LingoBP.loop)).rstrip()


def test_the_docs_cite_no_file_outside_the_repository() -> None:
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = doc.read_text(encoding="utf-8")
        assert "../shared" not in text and "/work/" not in text, doc.name
