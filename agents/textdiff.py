"""A measurable text distance, used to bound how much a chain node may change per Lingo-BP step."""

from __future__ import annotations

from difflib import SequenceMatcher


def text_distance(old: str, new: str) -> float:
    """1 - the similarity ratio of the two texts, on characters (works for English and Chinese alike)."""
    if old == new:
        return 0.0
    if not old or not new:
        return 1.0
    return 1.0 - SequenceMatcher(None, old, new, autojunk=False).ratio()
