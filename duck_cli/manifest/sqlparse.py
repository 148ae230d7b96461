"""SQL through DuckDB's own parser (``json_serialize_sql``): tables read, a canonical form, syntax errors.

It parses only, never binds: tables need not exist and ``$partition_start`` needs no value.
"""

from __future__ import annotations

import functools
import json
import os
import re
from dataclasses import dataclass
from typing import Any

from duck_cli.errors import DuckError

_LOCATION_KEYS = ("query_location", "query_location_length")


class SqlSyntaxError(DuckError):
    """SQL that DuckDB cannot parse, or that is not one SELECT; ``line``/``column`` are within the SQL."""

    code = "invalid_sql"

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None,
                 hint: str | None = None):
        super().__init__(message, hint=hint, line=line)
        self.column = column


@dataclass(frozen=True)
class ParsedSQL:
    """A parsed SELECT: base tables read (CTE names excluded), named parameters, canonical form."""

    tables: tuple[str, ...]
    normalized: str
    parameters: tuple[str, ...] = ()


SERIALIZE = "SELECT json_serialize_sql(unnest(?))"


def serialize_many(sqls: list[str]) -> dict[str, str]:
    """DuckDB's parse of many SQL texts, in one call (one call each costs ten times as much),
    for `parse_select` (`Parses` starts it on a thread while validation goes on)."""
    todo = list(dict.fromkeys(sqls))
    return _parsed(todo) if todo else {}


class Parses:
    """`serialize_many` started while validation goes on: texts `add`ed in batches of BATCH are
    parsed by DuckDB on a background thread (it releases the GIL), so on a second core the
    parse of 10,000 assets' SQL costs no wall time; `result` waits and parses what is left."""

    BATCH = 1000

    def __init__(self) -> None:
        self.pending: list[str] = []
        self.futures: list = []
        self.pool: Any = None

    def add(self, texts: list[str]) -> None:
        """Texts whose parse will be asked for; a full batch starts parsing now."""
        self.pending += texts
        if len(self.pending) >= self.BATCH and (os.cpu_count() or 1) > 1:
            if self.pool is None:
                from concurrent.futures import ThreadPoolExecutor

                _connection()  # created here, not by two threads at once
                self.pool = ThreadPoolExecutor(1, thread_name_prefix="duck-sql-parse")
            batch, self.pending = list(dict.fromkeys(self.pending)), []
            self.futures.append(self.pool.submit(_parsed, batch))

    def result(self, more: list[str]) -> dict[str, str]:
        """The parse of every text added, and of ``more``."""
        out: dict[str, str] = {}
        try:
            for future in self.futures:
                out.update(future.result())
        finally:
            if self.pool is not None:
                self.pool.shutdown()
        out.update(serialize_many([t for t in self.pending + more if t not in out]))
        return out


def _parsed(texts: list[str]) -> dict[str, str]:
    """Text -> DuckDB's parse (JSON), on a cursor of the calling thread's own."""
    return dict(zip(texts, (r[0] for r in _serialized(_connection(), texts))))


def _serialized(con: Any, texts: list[str]) -> list[tuple]:
    """`SERIALIZE` on a cursor of its own (a thread's connection to the same database)."""
    cur = con.cursor()
    try:
        return cur.execute(SERIALIZE, [texts]).fetchall()
    finally:
        cur.close()


def parse_select(sql: str, serialized: dict[str, str] | None = None) -> ParsedSQL:
    """Parse one SELECT (WITH allowed); raise SqlSyntaxError for anything else. ``serialized``
    may hold the parse already (`serialize_many`)."""
    text = (serialized or {}).get(sql)
    if text is None:
        text = _connection().execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0]
    text = without_locations(text)
    found: list[dict] = []  # without CTEs, the tables are every table node: kept as decoded
    no_ctes = _no_ctes(text)
    result = json.loads(text, object_hook=_collector(found)) if no_ctes else json.loads(text)
    if result.get("error"):
        raise _error(sql, result)
    statements = result.get("statements") or []
    if len(statements) != 1:
        what = "no statement" if not statements else f"{len(statements)} statements"
        raise SqlSyntaxError(f"the SQL holds {what}, but a materialization is one SELECT statement",
                             line=1, column=1, hint="Write a single SELECT (it may start with WITH).")
    statement = statements[0]
    tables = _dedupe(_tables_found(found) if no_ctes and _flat(found)
                     else _base_tables(statement, frozenset(), []))
    params = tuple(sorted(str(p["key"]) for p in statement.get("named_param_map") or []))
    return ParsedSQL(tables, canonical(statement), params)


def requalify(sql: str, schemas: dict[tuple[str, str], tuple[str | None, str]]) -> str:
    """``sql`` with each read of a (schema, table) in ``schemas`` (lower case) naming the
    (catalog or None: unchanged, schema) it maps to instead, through DuckDB's own parse and
    rendering; unchanged when none does.

    >>> requalify("select * from marts.orders", {("marts", "orders"): (None, "marts__pr")})
    'SELECT * FROM marts__pr.orders'
    """
    tree = json.loads(_connection().execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
    if not _requalify(tree, schemas):
        return sql
    return _connection().execute("SELECT json_deserialize_sql(?)", [json.dumps(tree)]).fetchone()[0]


def _requalify(node: Any, schemas: dict[tuple[str, str], tuple[str | None, str]]) -> bool:
    """Rewrite matching BASE_TABLE nodes below ``node`` in place; whether any matched."""
    if isinstance(node, list):
        return any([_requalify(child, schemas) for child in node])
    if not isinstance(node, dict):
        return False
    found = False
    if node.get("type") == "BASE_TABLE" and node.get("schema_name"):
        target = schemas.get((str(node["schema_name"]).lower(), str(node["table_name"]).lower()))
        if target is not None:
            catalog, node["schema_name"], found = target[0], target[1], True
            node["catalog_name"] = catalog if catalog is not None else node.get("catalog_name")
            if isinstance(node.get("qualified_name"), dict):  # DuckDB 2.x renders from it
                node["qualified_name"]["path"] = [p for p in (
                    node["catalog_name"], node["schema_name"], node["table_name"]) if p]
    return any([_requalify(v, schemas) for v in node.values()]) or found


def split_statements(text: str) -> list[str]:
    """The statements of a SQL script, as DuckDB's parser splits them; SqlSyntaxError if it
    cannot."""
    from duck_cli.engine import duckdb

    try:
        return [s.query for s in _connection().extract_statements(text)]
    except duckdb.Error as err:
        raise SqlSyntaxError(str(err).splitlines()[0]) from None


@functools.lru_cache(maxsize=1)
def _connection() -> Any:
    from duck_cli.engine import duckdb

    return duckdb.connect(":memory:")


def _error(sql: str, result: dict[str, Any]) -> SqlSyntaxError:
    message = str(result.get("error_message") or "invalid SQL")
    if "Only SELECT" in message:
        return SqlSyntaxError("a materialization is one SELECT statement", line=1, column=1,
                              hint="Write a SELECT (it may start with WITH); duck creates the table itself.")
    near = re.search(r'at or near "(.+)"', message)
    line, column = position_to_line_column(sql, result.get("position"),
                                           near.group(1) if near else None)
    return SqlSyntaxError(message, line=line, column=column)


def position_to_line_column(sql: str, position: Any, token: str | None = None) -> tuple[int, int]:
    """DuckDB's error position as a 1-based line and column in ``sql``.

    DuckDB 2.x reports a byte offset and 1.5 a character offset; they differ only after
    non-ASCII text, where the ``token`` the parser names tells which one it is.

    >>> position_to_line_column("select 1\\nfrom (", "14")
    (2, 6)
    >>> position_to_line_column("select 'é' from (", "16", "("), position_to_line_column(
    ...     "select 'é' from (", "17", "(")
    ((1, 17), (1, 17))
    >>> position_to_line_column("select", None)
    (1, 1)
    """
    try:
        offset = max(int(position), 0)
    except (TypeError, ValueError):
        return 1, 1
    by_chars = token is not None and sql[offset:].startswith(token) and not \
        sql.encode("utf-8")[offset:].startswith(token.encode("utf-8"))
    before = sql[:offset] if by_chars else sql.encode("utf-8")[:offset].decode("utf-8", "ignore")
    line = before.count("\n") + 1
    return line, len(before) - (before.rfind("\n") + 1) + 1


_LOCATION_AFTER = re.compile(r',"query_location(?:_length)?":\d+')
_LOCATION_FIRST = re.compile(r'"query_location(?:_length)?":\d+,?')


def without_locations(text: str) -> str:
    r"""The parser's JSON without ``query_location*`` fields (they change with whitespace and
    comments), cut from the text before it is decoded: three times faster than dropping them
    object by object in a decoder hook. A key's quotes inside a JSON string are escaped,
    so string values are never touched.

    >>> without_locations('{"query_location":3,"b":[{"a":1,"query_location_length":2}]}')
    '{"b":[{"a":1}]}'
    >>> without_locations(r'{"s":"\"query_location\":1"}')
    '{"s":"\\"query_location\\":1"}'
    """
    return _LOCATION_FIRST.sub("", _LOCATION_AFTER.sub("", text))


def canonical(tree: Any) -> str:
    """Compact, key-sorted JSON: the text that code versions hash.

    >>> canonical({"b": 1, "a": [2]})
    '{"a":[2],"b":1}'
    """
    return json.dumps(tree, sort_keys=True, separators=(",", ":"))


def _base_tables(node: Any, ctes: frozenset[str], out: list[str]) -> list[str]:
    """Every BASE_TABLE below ``node`` (subqueries, joins, CTE bodies, set operations) not a CTE in scope."""
    if isinstance(node, list):
        for child in node:
            if isinstance(child, (dict, list)):
                _base_tables(child, ctes, out)
        return out
    if not isinstance(node, dict):
        return out
    if "cte_map" in node:
        ctes = ctes | _cte_names(node)
    if node.get("type") == "BASE_TABLE" and node.get("table_name"):
        name = _qualified(node)
        if "." in name or name.lower() not in ctes:
            out.append(name)
    for child in node.values():
        if isinstance(child, (dict, list)):
            _base_tables(child, ctes, out)
    return out


def _no_ctes(text: str) -> bool:
    """Whether a parse (its JSON text) has no WITH anywhere: every cte_map is empty."""
    return text.count('"cte_map":{"map":[]}') == text.count('"cte_map"')


def _collector(found: list[dict]):
    """A json.loads object hook that keeps every BASE_TABLE node (in the order decoding
    finishes them) and changes nothing."""
    def hook(node: dict) -> dict:
        if node.get("type") == "BASE_TABLE":
            found.append(node)
        return node
    return hook


def _flat(found: list[dict]) -> bool:
    """Whether no table reference can hold another (only its AT clause could): then the
    order decoding finishes them in is `_base_tables`'s order."""
    return all(node.get("at_clause") is None for node in found)


def _tables_found(found: list[dict]) -> list[str]:
    """`_base_tables` for a parse without CTEs, from the nodes `_collector` kept."""
    return [_qualified(node) for node in found if node.get("table_name")]


def _cte_names(node: dict[str, Any]) -> frozenset[str]:
    cte_map = node.get("cte_map")
    if not isinstance(cte_map, dict):
        return frozenset()
    return frozenset(str(e.get("key", "")).lower() for e in cte_map.get("map") or [])


def _qualified(node: dict[str, Any]) -> str:
    parts = (node.get("catalog_name"), node.get("schema_name"), node.get("table_name"))
    return ".".join(str(p) for p in parts if p)


def _dedupe(names: list[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for name in names:
        seen.setdefault(name.lower(), name)
    return tuple(seen.values())
