"""The layers hold: SQL is written only where the data is stored and read.

The data flows sources → importers → stores → services → interfaces. The queries live
in the store (``cohesion.store``) and in the layers building or computing on the stored
data (``territory``, ``indicators``, ``importers``); the geography, the analyses, the
core and the interfaces (CLI, web, exports) call their named methods instead.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "cohesion"

#: The subpackages of ``cohesion`` allowed to write SQL and to import DuckDB: the
#: warehouse's layers, and the Carrefour's relational store and PostgreSQL search index.
SQL_LAYERS = ("store", "territory", "indicators", "importers", "innovations/store",
              "innovations/search")

#: Methods whose first argument is SQL (DuckDB connections, :class:`Warehouse`).
QUERY_METHODS = frozenset({"query", "execute", "executemany", "sql"})

_STATEMENT = r"""^\s*(
      SELECT\b.*?\bFROM\b
    | FROM\s+[\w"{(]
    | WITH\s+(RECURSIVE\s+)?\w+\s+AS\s*\(
    | INSERT\s+(OR\s+\w+\s+)?INTO\b
    | UPDATE\s+\w+(\s+\w+)?\s+SET\b
    | DELETE\s+FROM\b
    | (CREATE|DROP)\s+(OR\s+REPLACE\s+)?(TEMP(ORARY)?\s+)?
      (TABLE|VIEW|INDEX|SEQUENCE|SCHEMA|MACRO|TYPE)\b
)"""
#: A text starting with an SQL statement written the usual way, keywords in capitals
#: (so that prose such as « Select the rows from… » is not taken for SQL).
SQL_STATEMENT = re.compile(_STATEMENT, re.VERBOSE | re.DOTALL)
#: The same in any case, for the text handed to a query method.
SQL_STATEMENT_ANY_CASE = re.compile(_STATEMENT, re.VERBOSE | re.DOTALL | re.IGNORECASE)


def _text_of(node: ast.AST) -> str | None:
    """The text of a string constant or an f-string (``{}`` for each replacement field)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(part.value if isinstance(part, ast.Constant) else "{}"
                       for part in node.values)
    return None


def sql_offences(source: str) -> list[tuple[int, str]]:
    """The SQL written in a Python source, and its imports of DuckDB.

    Parameters
    ----------
    source : str
        The text of a Python module.

    Returns
    -------
    list of (int, str)
        The line of each string constant (f-strings included) starting with an SQL
        statement, and of each ``import duckdb``, with its first words.
    """
    tree = ast.parse(source)
    handed_to_queries = {
        id(node)
        for call in ast.walk(tree)
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
        and call.func.attr in QUERY_METHODS
        for argument in call.args[:1]
        for node in ast.walk(argument)}
    inside_f_strings = {id(part) for node in ast.walk(tree)
                        if isinstance(node, ast.JoinedStr) for part in node.values}
    offences = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) \
                else [node.module or ""]
            if any(module.split(".")[0] == "duckdb" for module in modules):
                offences.append((node.lineno, "import duckdb"))
            continue
        text = _text_of(node) if id(node) not in inside_f_strings else None
        if text is None:
            continue
        pattern = SQL_STATEMENT_ANY_CASE if id(node) in handed_to_queries else SQL_STATEMENT
        if pattern.match(text):
            offences.append((node.lineno, " ".join(text.split())[:60]))
    return sorted(offences)


def test_no_sql_outside_the_store_layers() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {excerpt}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if not any(path.relative_to(PACKAGE).as_posix().startswith(layer + "/")
                   for layer in SQL_LAYERS)
        for line, excerpt in sql_offences(path.read_text(encoding="utf-8"))]
    assert not offenders, (
        "SQL outside cohesion." + ", cohesion.".join(layer.replace("/", ".")
                                                     for layer in SQL_LAYERS) +
        " (move each query into "
        "a named method of cohesion.store.Warehouse):\n" + "\n".join(offenders))


@pytest.mark.parametrize(("source", "line"), [
    ('warehouse.query(\n    "select code from territories where level = ?", ["COM"])\n', 2),
    ('found = connection.execute("SELECT count(*) FROM observations").fetchone()\n', 1),
    ('relation = duckdb.sql(f"from {table} select code")\n', 1),
    ('SQL = """\n    SELECT code, name\n    FROM territories"""\n', 1),
    ('sql = ("SELECT code FROM geometries "\n       "WHERE level = ?")\n', 1),
    ('statement = f"DELETE FROM {table} WHERE vintage = ?"\n', 1),
    ('QUERY = "WITH wanted AS (SELECT 1) SELECT * FROM wanted"\n', 1),
    ('"INSERT OR REPLACE INTO meta VALUES (?, ?)"\n', 1),
    ('"UPDATE observations o SET value = 1"\n', 1),
    ('"CREATE TABLE IF NOT EXISTS meta (key TEXT)"\n', 1),
    ("import duckdb\n", 1),
    ("from duckdb import DuckDBPyConnection\n", 1),
])
def test_the_scanner_finds_sql(source: str, line: int) -> None:
    assert [found for found, _ in sql_offences(source)] == [line]


@pytest.mark.parametrize("source", [
    '"""Select the territories from the warehouse: with names, update as needed."""\n',
    "class Cache:\n    GZIP_FROM = 1400\n",
    'pairs = tree.query(boxes, predicate="intersects")\n',
    'kept = frame.query("value > 1 and level == \'COM\'")\n',
    'label = "Create table of the zonings"\n',
    'message = f"delete from {path} failed"\n',
])
def test_the_scanner_leaves_prose_and_names_alone(source: str) -> None:
    assert sql_offences(source) == []


def test_the_scanner_sees_the_queries_of_the_store() -> None:
    warehouse = PACKAGE / "store" / "warehouse.py"
    assert len(sql_offences(warehouse.read_text(encoding="utf-8"))) > 10
