"""What SQL from a user may do, decided on DuckDB's own parse tree.

`oyster sql` runs one read-only SELECT (or EXPLAIN of one): no COPY, ATTACH, PRAGMA, SET, no table
function that reads files or runs SQL, not even wrapped in a CTE or behind EXPLAIN ANALYZE, which
execute what they wrap. A `--where` condition filters one view: the statement around it must stay
`SELECT * FROM <view>`, and any subquery in it may read that view and nothing else (and defines no
WITH query, which could take the view's name or recurse without end).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import duckdb

from warehouse.errors import WarehouseError, first_line

Node = dict[str, Any]

#: table functions `oyster sql` may call: they compute or describe the database and touch no file
SAFE_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest", "json_each", "json_tree"})
_QUERY_NODES = frozenset({"SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE"})
_TABLE_REFS = frozenset(
    {"BASE_TABLE", "TABLE_FUNCTION", "SUBQUERY", "JOIN", "EMPTY", "EXPRESSION_LIST", "SHOW_REF"}
)
_EXPLAIN = re.compile(r"\s*EXPLAIN\s+(?:ANALY[SZ]E\s+)?", re.IGNORECASE)
# A name DuckDB would resolve by reading a file (a replacement scan such as FROM 'x.csv').
_FILE_LIKE = re.compile(r"[./\\:]")


def _statements(sql: str, prefix: str) -> list[duckdb.Statement]:
    try:
        return list(duckdb.extract_statements(sql))
    except duckdb.Error as exc:
        raise WarehouseError(f"{prefix}{first_line(exc)}") from None


def _tree(sql: str, prefix: str) -> Node:
    """The parse tree of one SELECT statement, as DuckDB's json_serialize_sql writes it."""
    with duckdb.connect() as con:
        row = con.execute("SELECT json_serialize_sql(?::VARCHAR)", [sql]).fetchone()
    parsed: Node = json.loads(row[0]) if row else {"error": True, "error_message": "nothing parsed"}
    if parsed.get("error"):
        raise WarehouseError(f"{prefix}{parsed.get('error_message', 'not a SELECT statement')}")
    node: Node = parsed["statements"][0]["node"]
    return node


def _walk(value: Any) -> Iterator[Node]:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            yield v
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)


def _problem(tree: Node, table_ok: Callable[[Node], bool], function_ok: Callable[[str], bool]) -> str | None:
    """The first thing in the tree that reads or writes outside what is allowed, in words; None if none."""
    for node in _walk(tree):
        kind = str(node.get("type", ""))
        if "info_type" in node:
            return f"it contains a {node['info_type'].removesuffix('_INFO')} statement"
        if "cte_map" in node:
            if kind not in _QUERY_NODES:
                return f"it contains a {kind.removesuffix('_QUERY_NODE').removesuffix('_NODE')} statement"
        elif "sample" in node and "class" not in node:
            if kind not in _TABLE_REFS:
                return f"it reads from a {kind}"
            if kind == "TABLE_FUNCTION":
                name = str(node["function"].get("function_name", "")).lower()
                if not function_ok(name):
                    return f"it calls the table function {name}()"
            if kind == "BASE_TABLE" and not table_ok(node):
                return f"it reads {_qualified(node)}"
    return None


def _qualified(table: Node) -> str:
    parts = (table.get("catalog_name"), table.get("schema_name"), table.get("table_name"))
    return ".".join(str(p) for p in parts if p)


def _reads_no_file(table: Node) -> bool:
    return not _FILE_LIKE.search(str(table.get("table_name", "")))


def _safe_function(name: str) -> bool:
    return name in SAFE_TABLE_FUNCTIONS or name.startswith("duckdb_")


def check_read_only(sql: str) -> None:
    """Refuse, before the warehouse is opened, anything but one read-only SELECT (or EXPLAIN of one)."""
    statements = _statements(sql, "SQL error: ")
    if not statements:
        raise WarehouseError("SQL error: empty statement")
    if len(statements) > 1:
        raise WarehouseError(f"refused: `oyster sql` runs one statement at a time, not {len(statements)}")
    text, kind = statements[0].query, statements[0].type
    if kind is duckdb.StatementType.EXPLAIN:
        # EXPLAIN ANALYZE runs the statement it explains: what it wraps must pass on its own.
        explained = _EXPLAIN.match(text)
        inner = _statements(text[explained.end() :], "SQL error: ") if explained else []
        if len(inner) != 1 or inner[0].type is not duckdb.StatementType.SELECT:
            raise WarehouseError("refused: `oyster sql` explains SELECT statements only")
        text, kind = inner[0].query, inner[0].type
    if kind is not duckdb.StatementType.SELECT:
        raise WarehouseError(f"refused: `oyster sql` is read-only and runs no {kind.name} statement")
    problem = _problem(_tree(text, "SQL error: "), _reads_no_file, _safe_function)
    if problem:
        raise WarehouseError(f"refused: `oyster sql` runs read-only SELECTs on the warehouse, and {problem}")


def view_select(view: str, where: str | None) -> str:
    """`SELECT * FROM "view" WHERE (where)`, once DuckDB's parser shows `where` only filters that view.

    The condition may use the view's columns, any scalar function, and subqueries over the same view
    (`pair_id IN (SELECT pair_id FROM dpo ORDER BY margin DESC LIMIT 16)`); it may not change the
    statement around it (UNION, ORDER BY, LIMIT, a second statement) nor read another table, a table
    function or a file. Callers embed the result as a subquery on lines of its own, so a trailing
    line comment in the condition cannot reach their SQL.
    """
    prefix = "--where: "
    base = f'SELECT * FROM "{view}"'
    if not where:
        return base
    refused = f"{prefix}refused: a condition is a read-only filter on the columns of {view}, and"
    select = f"{base} WHERE ({where})"
    statements = _statements(select, prefix)
    if len(statements) != 1 or statements[0].type is not duckdb.StatementType.SELECT:
        raise WarehouseError(f"{refused} this one ends the SELECT and adds a statement")
    tree = _tree(select, prefix)
    around = {k: v for k, v in tree.items() if k != "where_clause"}
    if around != {k: v for k, v in _tree(base, prefix).items() if k != "where_clause"}:
        raise WarehouseError(f"{refused} this one adds to the SELECT around it (UNION, ORDER BY, LIMIT …)")

    def same_view(table: Node) -> bool:
        return str(table.get("table_name", "")).lower() == view.lower() and not (
            table.get("schema_name") or table.get("catalog_name")
        )

    condition = tree.get("where_clause") or {}
    # A WITH inside the condition may name itself after the view (and a recursive one never ends):
    # the subqueries a filter needs read the view directly.
    if any((node.get("cte_map") or {}).get("map") for node in _walk(condition)):
        raise WarehouseError(f"{refused} it defines a WITH query (CTE); use a subquery over {view}")
    problem = _problem(condition, same_view, lambda _: False)
    if problem:
        raise WarehouseError(f"{refused} {problem}")
    return select
