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


def keep_current(con, table: str, rows: list[tuple]) -> None:
    """Bring the current_* table of a history table up to date with the rows just written, in
    the same transaction (so the latest rows never disagree with the history)."""
    keys = _keys(table, rows)
    if not keys:  # (steps that built nothing: no attempt to keep)
        return
    current = CURRENT_OF[table]
    select, columns = _unnested(rows)
    source = f"(SELECT {select})"
    if len(keys) != len(set(keys)):
        con.execute(current.upsert(source), columns)
    elif _held(con, current, keys):
        con.execute(current.upsert(source, distinct=True), columns)
    else:  # keys new to the table (a first build, new partitions): a plain INSERT, the
        # cheapest of the three (no window, no conflict to resolve)
        con.execute(f"INSERT INTO {current.table} ({current.columns}) "
                    f"{current.derive(source, distinct=True)}", columns)


def _keys(table: str, rows: list[tuple]) -> list[tuple]:
    """The keys of the current_* table among a batch's rows."""
    if table == "steps":
        return [(r.asset, p) for r in rows if r.status in ("success", "failed")
                for p in r.partitions]
    if table == "materializations":
        return [(r.asset, r.partition_key) for r in rows]
    return [(r.asset, r.partition_key, r.check_name) for r in rows]


def _held(con, current, keys: list[tuple]) -> bool:
    """Whether the current_* table holds any of ``keys`` already (the keys as JSON text:
    DuckDB 1.x binds a Python list item by item)."""
    names = [k.strip() for k in current.key.split(",")]
    pairs = ", ".join(f"unnest(from_json(?, '[\"VARCHAR\"]')) AS k{i}" for i in range(len(names)))
    on = " AND ".join(f"t.{n} = w.k{i}" for i, n in enumerate(names))
    return con.execute(f"SELECT count(*) FROM {current.table} t SEMI JOIN (SELECT {pairs}) w "
                       f"ON {on}", [json.dumps(list(c)) for c in zip(*keys)]).fetchone()[0] > 0
