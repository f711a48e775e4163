"""A measurable text distance, used to bound how much a chain node may change per Lingo-BP step."""

from __future__ import annotations

import re
from difflib import SequenceMatcher

# Words for Latin scripts, single characters for CJK (which writes no spaces), punctuation apart.
_TOKEN = re.compile(
    r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[^\w\s]"
)


def text_distance(old: str, new: str) -> float:
    """1 - the similarity ratio of the two texts, on characters (works for English and Chinese alike)."""
    if old == new:
        return 0.0
    if not old or not new:
        return 1.0
    return 1.0 - SequenceMatcher(None, old, new, autojunk=False).ratio()


def reply_distance(a: str, b: str) -> float:
    """How much of the wording two replies do not share, in [0, 1]: 1 - the similarity ratio of their
    word sequences (CJK by character), case and spacing ignored — a double space is no difference."""
    ta, tb = _TOKEN.findall(a.casefold()), _TOKEN.findall(b.casefold())
    if ta == tb:
        return 0.0
    if not ta or not tb:
        return 1.0
    return 1.0 - SequenceMatcher(None, ta, tb, autojunk=False).ratio()
