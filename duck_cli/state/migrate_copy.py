"""Moving the records and the tables themselves, on one DuckDB connection that has both sides
attached (the local files, the PostgreSQL state through DuckDB's postgres extension, the lake):
every copy is ``INSERT INTO target SELECT ... FROM source`` run by DuckDB, one transaction per
part, and every check a row count and an order-independent hash computed by DuckDB on each side.

The hash of a relation is the sum (as HUGEINT, so it never wraps) of one 64-bit hash per row,
over the row's columns cast to text: equal rows in any order give equal sums, and the text
form makes a PostgreSQL ``integer`` and a DuckDB ``BIGINT`` holding the same number agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from duck_cli.sql import quote_ident
from duck_cli.state.catalog_schema import CURRENT, TABLES as STATE_TABLES

LEDGER_COLUMNS = """(
  seq BIGINT PRIMARY KEY, asset VARCHAR, partition_key VARCHAR, run_id VARCHAR, step INTEGER,
  created_at TIMESTAMPTZ, code_version VARCHAR, data_version VARCHAR, row_count BIGINT,
  kind VARCHAR, upstream VARCHAR)"""  # the local warehouse's ledger (the lake's has no key)
MARK = "migration"  # the meta key (state) and the _duck table (warehouse) of an unfinished move
SKIPPED_META = ("schema_version", MARK)  # each side's own, never copied


@dataclass(frozen=True)
class Db:
    """One side of one part, as attached to the migrate connection."""

    alias: str  # the attached database's name: loc_cat, loc_wh, pg_state, duck_lake
    schema: str  # where duck's records or the assets are: main, or duck in PostgreSQL
    backend: str  # local | postgres | ducklake

    def at(self, table: str, schema: str | None = None) -> str:
        """A table of this side, fully qualified."""
        return f"{self.alias}.{quote_ident(schema or self.schema)}.{quote_ident(table)}"

    @property
    def meta(self) -> str:
        """The meta values' table (duck_meta locally, meta in PostgreSQL)."""
        return self.at("meta" if self.backend == "postgres" else "duck_meta")


@dataclass(frozen=True)
class Relation:
    """A table or view of the warehouse, as the source holds it."""

    name: str
    kind: str  # table | view
    sql: str | None = None  # a view's definition
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Compared:
    """One relation or record table on both sides: its rows and their hash."""

    part: str  # state | warehouse
    name: str
    kind: str  # table | view | ledger | records
    source_rows: int
    target_rows: int
    source_hash: str
    target_hash: str

    @property
    def match(self) -> bool:
        """Whether both sides hold the same rows."""
        return (self.source_rows, self.source_hash) == (self.target_rows, self.target_hash)


def columns(con, db: Db, table: str, schema: str | None = None) -> tuple[str, ...]:
    """The columns of a relation of ``db``, in order."""
    return tuple(r[0] for r in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = ? AND schema_name = ? "
        "AND table_name = ? ORDER BY column_index", [db.alias, schema or db.schema, table]
    ).fetchall())


def relations(con, db: Db) -> list[Relation]:
    """The tables and views duck keeps in a warehouse's main schema (not the source views a
    local warehouse makes over files: every command makes those again, and a lake keeps them
    TEMP, out of the lake)."""
    tables = [Relation(n, "table", None, columns(con, db, n)) for (n,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = ? "
        "AND NOT temporary ORDER BY 1", [db.alias, db.schema]).fetchall()]
    views = [Relation(n, "view", sql, columns(con, db, n)) for n, sql in con.execute(
        "SELECT view_name, sql FROM duckdb_views() WHERE database_name = ? AND schema_name = ? "
        "AND NOT internal AND NOT temporary AND coalesce(comment, '') NOT LIKE 'duck:%' "
        "ORDER BY 1", [db.alias, db.schema]).fetchall()]
    return tables + views


def source_views(con, db: Db) -> list[tuple[str, str]]:
    """The local warehouse's source views (name, definition): made TEMP on the migrate
    connection, so a view asset over a source can be created in the lake."""
    return con.execute("SELECT view_name, sql FROM duckdb_views() WHERE database_name = ? AND "
                       "schema_name = ? AND NOT internal AND NOT temporary AND "
                       "coalesce(comment, '') LIKE 'duck:%'", [db.alias, db.schema]).fetchall()


def holds_tables(con, db: Db) -> list[str]:
    """The tables and views a warehouse holds in main (what a non-empty target shows)."""
    return [r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = $d AND schema_name = $s "
        "UNION ALL SELECT view_name FROM duckdb_views() WHERE database_name = $d AND "
        "schema_name = $s AND NOT internal ORDER BY 1", {"d": db.alias, "s": db.schema}
    ).fetchall()]


def copy_warehouse(con, source: Db, target: Db, rels: list[Relation]) -> None:
    """Every table and view, the ledger and the identity, in one transaction of the target."""
    con.execute("BEGIN TRANSACTION")
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {target.alias}._duck")
    ledger = target.at("ledger", "_duck")
    if target.backend == "local":
        con.execute(f"CREATE TABLE {ledger} {LEDGER_COLUMNS}")
        con.execute(f"INSERT INTO {ledger} SELECT * FROM {source.at('ledger', '_duck')}")
    else:
        con.execute(f"CREATE TABLE {ledger} AS SELECT * FROM {source.at('ledger', '_duck')}")
    con.execute(f"CREATE TABLE {target.at('identity', '_duck')} AS SELECT id FROM "
                f"{source.at('identity', '_duck')}")
    for rel in rels:
        if rel.kind == "table":
            con.execute(f"CREATE TABLE {target.at(rel.name)} AS SELECT * FROM "
                        f"{source.at(rel.name)}")
    _create_views(con, target, [r for r in rels if r.kind == "view"])
    con.execute("COMMIT")


def _create_views(con, target: Db, views: list[Relation]) -> None:
    """Create the views in the target, in rounds: a view over another view waits for it."""
    from duck_cli.engine import duckdb

    con.execute(f"USE {target.alias}.{quote_ident(target.schema)}")  # names resolve there
    left, last = list(views), None
    while left:
        failed = []
        for view in left:
            try:
                con.execute(view.sql)
            except duckdb.CatalogException as err:
                failed.append(view)
                last = err
        if len(failed) == len(left):
            raise last
        left = failed


def copy_state(con, source: Db, target: Db) -> None:
    """Every record table and the meta values, in one transaction of the target; a local
    target's tables of latest rows are derived again, a PostgreSQL one's sequence counters
    start above the copied numbers."""
    con.execute("BEGIN TRANSACTION")
    for table in STATE_TABLES:
        cols = ", ".join(quote_ident(c) for c in columns(con, _local(source, target), table))
        con.execute(f"INSERT INTO {target.at(table)} ({cols}) SELECT {cols} FROM "
                    f"{source.at(table)}" + (" WHERE name IN ('r', 'b')" if table == "counters"
                                             else ""))
    skipped = ", ".join(f"'{k}'" for k in SKIPPED_META)
    con.execute(f"DELETE FROM {target.meta} WHERE key NOT IN ({skipped})")
    con.execute(f"INSERT INTO {target.meta} (key, value) SELECT key, value FROM {source.meta} "
                f"WHERE key NOT IN ({skipped})")
    if target.backend == "postgres":
        con.execute(f"INSERT INTO {target.at('counters')} SELECT 'mat_seq', greatest(("
                    f"SELECT coalesce(max(seq), 0) FROM {source.at('materializations')}), 0) "
                    f"UNION ALL SELECT 'step_seq', greatest((SELECT coalesce(max(seq), 0) FROM "
                    f"{source.at('steps')}), (SELECT coalesce(max(seq), 0) FROM "
                    f"{source.at('check_results')}))")
    else:
        con.execute(f"USE {target.alias}")  # the derivations name the tables unqualified
        for current in CURRENT:
            for statement in current.rebuild():
                con.execute(statement)
    con.execute("COMMIT")


def _local(source: Db, target: Db) -> Db:
    """The local catalog of the two: its tables name the columns both sides share."""
    return source if source.backend == "local" else target


def fingerprint(con, relation: str, cols: tuple[str, ...], where: str = "") -> tuple[int, str]:
    """(rows, hash) of a relation, computed in DuckDB; equal for equal rows in any order."""
    text = ", ".join(f"CAST({quote_ident(c)} AS VARCHAR)" for c in cols)
    rows, total = con.execute(f"SELECT count(*), coalesce(sum(hash({text})::HUGEINT), 0) "
                              f"FROM {relation} {where}").fetchone()
    return int(rows), format(int(total), "x")


def verify_warehouse(con, source: Db, target: Db, rels: list[Relation]) -> list[Compared]:
    """Rows and hash of every relation, the ledger and the identity, on both sides."""
    out = []
    for rel in rels:
        out.append(_compare(con, "warehouse", rel.name, rel.kind, source.at(rel.name),
                            target.at(rel.name), rel.columns))
    for name in ("ledger", "identity"):
        cols = columns(con, source, name, "_duck")
        out.append(_compare(con, "warehouse", f"_duck.{name}", "ledger",
                            source.at(name, "_duck"), target.at(name, "_duck"), cols))
    return out


def verify_state(con, source: Db, target: Db) -> list[Compared]:
    """Rows and hash of every record table (the counters duck issues ids from, the meta
    values) on both sides."""
    local = _local(source, target)
    out = []
    for table in STATE_TABLES:
        where = "WHERE name IN ('r', 'b')" if table == "counters" else ""
        cols = columns(con, local, table)
        out.append(_compare(con, "state", table, "records", source.at(table), target.at(table),
                            cols, where))
    skipped = ", ".join(f"'{k}'" for k in SKIPPED_META)
    out.append(_compare(con, "state", "meta", "records", source.meta, target.meta,
                        ("key", "value"), f"WHERE key NOT IN ({skipped})"))
    return out


def _compare(con, part: str, name: str, kind: str, source: str, target: str,
             cols: tuple[str, ...], where: str = "") -> Compared:
    rows, digest = fingerprint(con, source, cols, where)
    rows2, digest2 = fingerprint(con, target, cols, where)
    return Compared(part, name, kind, rows, rows2, digest, digest2)
