"""Item 7 of issue 11: `oyster train --where` reads only rows of the view it names."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import scripted_pairs
from warehouse import WarehouseError
from warehouse.training import TrainingStore


def test_07_train_where_fabricates_no_examples(tmp_path: Path) -> None:
    wh = scripted_pairs(tmp_path / "w.duckdb", 2)
    store = TrainingStore(wh)
    pairs = [r[0] for r in wh.query("SELECT pair_id FROM dpo ORDER BY pair_id").rows]
    assert [e["example_id"] for e in store.examples("dpo")] == pairs
    readme = "pair_id IN (SELECT pair_id FROM dpo ORDER BY margin DESC, pair_id LIMIT 1)"
    assert [e["example_id"] for e in store.examples("dpo", readme)] == pairs[:1]
    assert [e["example_id"] for e in store.examples("dpo", "margin > 0.3")] == pairs
    fabricated = (
        "1=0) UNION ALL SELECT 'fake', [{'role': 'user', 'content': 'x'}], [], [], 1.0 FROM dpo WHERE (1=1",
        "1=0) UNION ALL SELECT content, [], [], [], 1.0 FROM read_text('/etc/hostname') WHERE (1=1",
        "pair_id IN (SELECT content FROM read_text('/etc/hostname'))",
    )
    for where in fabricated:
        with pytest.raises(WarehouseError) as exc:
            store.examples("dpo", where)
        assert str(exc.value).startswith("--where: refused") and "\n" not in str(exc.value)
    with pytest.raises(WarehouseError, match=r"--where: .*no_such_column"):
        store.examples("dpo", "no_such_column > 1")
