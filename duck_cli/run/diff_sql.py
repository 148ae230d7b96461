"""The SQL of `duck diff`: two relations compared inside DuckDB, by key or as sets of rows.

Each builder returns query text over two relations already quoted (``"main"."zone_metrics"``)
and a partition expression (see `sql.key_expr`); nothing from data is ever pasted in. Columns
are renamed positionally (b0, e0, ...) so that any column name, quoted once here, is safe.
"""

from __future__ import annotations

from dataclasses import dataclass

from duck_cli.sql import quote_ident

NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
           "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "REAL", "DECIMAL")


def numeric(column_type: str | None) -> bool:
    """Whether a DuckDB type is a number (sums, minima and maxima make sense).

    >>> numeric('DECIMAL(38,2)'), numeric('BIGINT'), numeric('VARCHAR'), numeric(None)
    (True, True, False, False)
    """
    return bool(column_type) and column_type.split("(")[0].upper() in NUMERIC


@dataclass(frozen=True)
class Shape:
    """What the two relations are compared on: their common columns (name, base type, env
    type), the key among them, and each side's partition expression."""

    base: str  # the base relation, quoted
    env: str
    columns: tuple[tuple[str, str, str], ...]
    key: tuple[str, ...] = ()
    partition: str = "NULL"  # SQL giving a row's partition key ('NULL': one slice)

    def expr(self, index: int) -> str:
        """Column ``index`` as compared: as text when its type changed to a non-number."""
        name, base_type, env_type = self.columns[index]
        same = base_type == env_type or (numeric(base_type) and numeric(env_type))
        return quote_ident(name) if same else f"CAST({quote_ident(name)} AS VARCHAR)"

    @property
    def values(self) -> list[int]:
        """Indexes of the compared columns that are not part of the key."""
        return [i for i, (name, _b, _e) in enumerate(self.columns) if name not in self.key]

    @property
    def keys(self) -> list[int]:
        """Indexes of the key columns, in the key's order."""
        names = [c[0] for c in self.columns]
        return [names.index(k) for k in self.key]


def _side(shape: Shape, relation: str, tag: str) -> str:
    cols = "".join(f", {shape.expr(i)} AS {tag}{i}" for i in range(len(shape.columns)))
    return f"SELECT {shape.partition} AS _p{cols}, true AS _in FROM {relation}"


def joined(shape: Shape) -> str:
    """The CTE ``j``: one row per key on either side, with its change (added, removed, changed,
    same), its partition, both sides' values (b0/e0...), the key (k0...) and a flag per value
    column telling whether it differs (d0...)."""
    on = " AND ".join(f"b.b{i} IS NOT DISTINCT FROM e.e{i}" for i in shape.keys)
    differs = [f"(b.b{i} IS DISTINCT FROM e.e{i})" for i in shape.values]
    flags = "".join(f", {d} AS d{i}" for d, i in zip(differs, shape.values))
    keys = "".join(f", coalesce(e.e{i}, b.b{i}) AS k{n}" for n, i in enumerate(shape.keys))
    sides = "".join(f", b.b{i}, e.e{i}" for i in range(len(shape.columns)))
    change = (f"CASE WHEN b._in IS NULL THEN 'added' WHEN e._in IS NULL THEN 'removed' "
              f"WHEN {' OR '.join(differs) or 'false'} THEN 'changed' ELSE 'same' END")
    return (f"WITH b AS ({_side(shape, shape.base, 'b')}), e AS ({_side(shape, shape.env, 'e')}), "
            f"j AS (SELECT coalesce(e._p, b._p) AS _p, {change} AS _change, b._in AS _bin, "
            f"e._in AS _ein{flags}{keys}{sides} FROM b FULL OUTER JOIN e ON {on})")


def keyed_counts(shape: Shape) -> str:
    """Per partition (and, with ``_p_total`` true, for the whole asset): rows added, removed,
    changed, the rows of each side, and per value column how many matched rows differ in it."""
    per_column = "".join(f", count(*) FILTER (WHERE _change = 'changed' AND d{i})"
                         for i in shape.values)
    return (f"{joined(shape)} SELECT _p, grouping(_p) = 1 AS _p_total, "
            "count(*) FILTER (WHERE _change = 'added'), count(*) FILTER (WHERE _change = "
            "'removed'), count(*) FILTER (WHERE _change = 'changed'), count(_bin), count(_ein)"
            f"{per_column} FROM j GROUP BY GROUPING SETS ((_p), ()) ORDER BY _p_total, _p")


def keyed_sample(shape: Shape, limit: int) -> str:
    """The first ``limit`` differing rows (by partition, then key): change, partition, key
    values, then each column's base and environment values and whether it differs."""
    keys = "".join(f", k{n}" for n in range(len(shape.keys)))
    sides = "".join(f", b{i}, e{i}" for i in range(len(shape.columns)))
    flags = "".join(f", d{i}" for i in shape.values)
    return (f"{joined(shape)} SELECT _change, _p{keys}{sides}{flags} FROM j "
            f"WHERE _change <> 'same' ORDER BY _p NULLS FIRST{keys}, _change LIMIT {int(limit)}")


def _sets(shape: Shape) -> str:
    cols = ", ".join(f"{shape.expr(i)} AS c{i}" for i in range(len(shape.columns)))
    cols = cols or "NULL AS c"
    return (f"WITH b AS (SELECT {shape.partition} AS _p, {cols} FROM {shape.base}), "
            f"e AS (SELECT {shape.partition} AS _p, {cols} FROM {shape.env}), "
            "a AS (SELECT * FROM e EXCEPT ALL SELECT * FROM b), "
            "r AS (SELECT * FROM b EXCEPT ALL SELECT * FROM e)")


def set_counts(shape: Shape) -> str:
    """Per partition, without a key: rows only in the environment (added), only in the base
    (removed), and each side's rows; a multiset difference both ways (EXCEPT ALL)."""
    return (f"{_sets(shape)} SELECT _p, sum(ad)::BIGINT, sum(rm)::BIGINT, sum(bn)::BIGINT, "
            "sum(en)::BIGINT FROM (SELECT _p, 1 AS ad, 0 AS rm, 0 AS bn, 0 AS en FROM a "
            "UNION ALL SELECT _p, 0, 1, 0, 0 FROM r UNION ALL SELECT _p, 0, 0, 1, 0 FROM b "
            "UNION ALL SELECT _p, 0, 0, 0, 1 FROM e) GROUP BY _p ORDER BY _p")


def set_sample(shape: Shape, limit: int) -> str:
    """The first ``limit`` rows only on one side: change, partition, then the columns."""
    order = "".join(f", c{i}" for i in range(len(shape.columns)))
    return (f"{_sets(shape)} SELECT * FROM (SELECT 'added' AS _change, * FROM a UNION ALL "
            f"SELECT 'removed', * FROM r) ORDER BY _p NULLS FIRST{order}, _change "
            f"LIMIT {int(limit)}")


def one_side(relation: str, partition: str) -> str:
    """Rows per partition of a relation that only one side has."""
    return (f"SELECT _p, count(*) FROM (SELECT {partition} AS _p FROM {relation}) "
            "GROUP BY _p ORDER BY _p")


def one_side_sample(relation: str, partition: str, columns: list[str], limit: int) -> str:
    """The first ``limit`` rows of a relation only one side has: partition, then its columns."""
    cols = "".join(f", {quote_ident(c)}" for c in columns)
    return (f"SELECT {partition} AS _p{cols} FROM {relation} "
            f"ORDER BY _p NULLS FIRST{cols} LIMIT {int(limit)}")


def stats(relation: str, columns: list[tuple[str, str]]) -> str:
    """One row: the row count, then per column its nulls and, for numbers, sum, min and max."""
    parts = ["count(*)"]
    for name, column_type in columns:
        col = quote_ident(name)
        parts.append(f"count(*) FILTER (WHERE {col} IS NULL)")
        if numeric(column_type):  # fsum: a double's sum exact to the last bit whatever the
            # order DuckDB's threads add it in (sum's last digit moved between 1.5 and 2.0)
            total = "fsum" if column_type.upper() in ("DOUBLE", "FLOAT", "REAL") else "sum"
            parts += [f"{total}({col})", f"min({col})", f"max({col})"]
    return f"SELECT {', '.join(parts)} FROM {relation}"


def duplicates(relation: str, key: list[str]) -> str:
    """How many rows repeat a key already seen (0: the key identifies rows)."""
    cols = ", ".join(quote_ident(k) for k in key)
    return f"SELECT count(*) - count(DISTINCT row({cols})) FROM {relation}"


RELATIONS = ("SELECT table_schema, table_name, table_type FROM information_schema.tables "
             "WHERE table_catalog = current_database() AND table_schema IN (SELECT unnest($schemas))")
SCHEMAS = ("SELECT schema_name FROM information_schema.schemata "
           "WHERE catalog_name = current_database()")
