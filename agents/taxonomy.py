"""The 2-level risk taxonomy and its guideline rules (data shipped in agents/data, Apache-2.0)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from schemas.errors import OysterError
from schemas.risk import GuidelineRule


class TaxonomyError(OysterError, ValueError):
    pass


@dataclass(frozen=True)
class Category:
    name_en: str
    name_cn: str
    parent_en: str | None
    description: str
    rule_en: str | None
    rule_cn: str | None


class Taxonomy:
    def __init__(self, data: dict[str, Any], source: str) -> None:
        try:
            self.level1 = [
                Category(c["name_en"], c.get("name_cn", ""), None, c.get("description_en", ""), None, None)
                for c in data["level1"]
            ]
            self.level2 = [
                Category(
                    c["name_en"],
                    c.get("name_cn", ""),
                    c.get("parent_en"),
                    c.get("description_en", ""),
                    c.get("rule_en"),
                    c.get("rule_cn"),
                )
                for c in data["level2"]
            ]
        except (KeyError, TypeError) as exc:
            raise TaxonomyError(f"{source}: not a taxonomy file (missing {exc})") from None
        seen: set[str] = set()
        for c in self.level2:
            key = c.name_en.strip().lower()
            if key in seen:
                # the second entry's rule could never be reached: find() returns the first
                raise TaxonomyError(f"{source}: level-2 category '{c.name_en}' is listed twice")
            seen.add(key)
        self.source = source

    @classmethod
    def load(cls, path: str | Path | None = None) -> Taxonomy:
        if path is None:
            f = resources.files("agents").joinpath("data/risk_taxonomy/taxonomy.json")
            return cls(json.loads(f.read_text(encoding="utf-8")), "agents/data/risk_taxonomy/taxonomy.json")
        p = Path(path)
        try:
            return cls(json.loads(p.read_text(encoding="utf-8")), str(p))
        except FileNotFoundError:
            raise TaxonomyError(f"{p}: taxonomy file not found") from None
        except json.JSONDecodeError as exc:
            raise TaxonomyError(f"{p}: not valid JSON ({exc.msg} at line {exc.lineno})") from None

    def level1_names(self) -> list[str]:
        return [c.name_en for c in self.level1]

    def level2_names(self) -> list[str]:
        return [c.name_en for c in self.level2]

    def find(self, name: str | None) -> Category | None:
        if not name:
            return None
        key = name.strip().lower()
        for c in self.level2:
            if key in (c.name_en.lower(), c.name_cn):
                return c
        return None

    def find_area(self, name: str | None) -> Category | None:
        key = (name or "").strip().lower()
        return next((c for c in self.level1 if key and key in (c.name_en.lower(), c.name_cn)), None)

    def rules_for(
        self, category_l2: str | None, category_l1: str | None, language: str
    ) -> list[GuidelineRule]:
        """The guideline rules that apply: the level-2 category's published rule (else its description);
        with only a level-1 area, that area's description. A sibling category's rule is never borrowed:
        it would steer the reply with rules written for a different risk."""
        cat = self.find(category_l2)
        cats = [cat] if cat else []
        if not cats and category_l1:
            area = self.find_area(category_l1)
            if area is not None:
                hint = (
                    f"Risk area {area.name_en}: {area.description} Do not produce such content; help safely."
                )
                return [GuidelineRule(category=area.name_en, rule=hint)]
        rules = []
        for c in cats:
            published = (c.rule_cn if language.startswith("zh") else c.rule_en) or c.rule_en or c.rule_cn
            text = published or f"No published rule; avoid producing content of this kind: {c.description}"
            rules.append(GuidelineRule(category=c.name_en, rule=text))
        return rules
