"""Inserting many records in one statement (the catalog's and the ledger's batches)."""

from __future__ import annotations

import json

from duck_cli.state.catalog_schema import CURRENT_OF


def bulk_insert(con, table: str, rows: list[tuple]) -> None:
    """Insert records as one statement: a column of values per parameter, unnested (twice as
    fast as VALUES rows from a few rows on), or plain VALUES for one or two rows."""
    if not rows:
        return
    cols = rows[0]._fields
    if len(rows) <= 2:
        marks = "(" + ", ".join("?" * len(cols)) + ")"
        con.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                    + ", ".join([marks] * len(rows)), [v for r in rows for v in r])
        return
    select, columns = _unnested(rows)
    con.execute(f"INSERT INTO {table} BY NAME SELECT {select}", columns)


def _slow_lists() -> bool:
    from duck_cli.engine import duckdb

    return str(getattr(duckdb, "__version__", "2")).lstrip("v").startswith("1.")


def _json_shape(column: list) -> str:
    """Whole numbers as BIGINT (a batch's own ORDER BY seq must not sort them as text), every
    other value as text (the INSERT casts it to the column's type), lists as text lists.

    >>> _json_shape([3, None, 12]), _json_shape(["a", 1]), _json_shape([True, None])
    ('["BIGINT"]', '["VARCHAR"]', '["VARCHAR"]')
    >>> _json_shape([None, None]), _json_shape([["k"]])
    ('["VARCHAR"]', '[["VARCHAR"]]')
    """
    if any(isinstance(v, list) for v in column):
        return '[["VARCHAR"]]'
    values = [v for v in column if v is not None]
    whole = values and all(isinstance(v, int) and not isinstance(v, bool) for v in values)
    return '["BIGINT"]' if whole else '["VARCHAR"]'


def _json_value(value):
    """A value as JSON: times and dates as ISO text (cast back exactly by the INSERT)."""
    return value.isoformat() if hasattr(value, "isoformat") else value


def _unnested(rows: list[tuple]) -> tuple[str, list]:
    """Records as the select list of one column of values per parameter, unnested, and its
    parameters (JSON text where DuckDB binds Python lists slowly)."""
    cols = rows[0]._fields
    columns = [list(c) for c in zip(*rows)]
    if not _slow_lists():
        return ", ".join(f"unnest(${i + 1}) AS {c}" for i, c in enumerate(cols)), columns
    # DuckDB 1.x binds a Python list ~0.2 ms an item: JSON text is 10x faster
    select = ", ".join(f"unnest(from_json(${i + 1}, '{_json_shape(c)}')) AS {name}"
                       for i, (c, name) in enumerate(zip(columns, cols)))
    return select, [json.dumps([_json_value(v) for v in c]) for c in columns]


def keep_current(con, table: str, rows: list[tuple], empty: bool = False) -> None:
    """Bring the current_* table of a history table up to date with the rows just written, in
    the same transaction (so the latest rows never disagree with the history): a plain INSERT
    when none of the batch's keys is there yet (a first build, new partitions; ``empty``: the
    table holds nothing, no need to look), else an upsert (without the window that picks each
    key's latest row when no key repeats)."""
    current = CURRENT_OF[table]
    keys = current.keys_of(rows)
    if not keys:  # (steps that built nothing: no attempt to keep)
        return
    select, columns = _unnested(rows)
    source, distinct = f"(SELECT {select})", len(keys) == len(set(keys))
    held = not empty and con.execute(f"SELECT count(*) FROM {current.table} SEMI JOIN "
                                     f"({key_relation(current.key)}) USING ({current.key})",
                                     key_params(current.key, keys)).fetchone()[0]
    statement = current.upsert if held or not distinct else current.insert
    con.execute(statement(source, distinct=distinct), columns)


def key_relation(names: str) -> str:
    """A relation of keys (columns ``names``, 'a, b') bound as `key_params`: JSON text, since
    DuckDB 1.x binds a Python list item by item (730 keys: ~5 ms as lists, ~1 ms as JSON)."""
    return "SELECT " + ", ".join(f"unnest(from_json(?, '[\"VARCHAR\"]')) AS {n.strip()}"
                                 for n in names.split(","))


def key_params(names: str, keys: list[tuple]) -> list[str]:
    """The parameters of `key_relation(names)`: one JSON list per key column."""
    return [json.dumps([k[i] for k in keys]) for i in range(len(names.split(",")))]
