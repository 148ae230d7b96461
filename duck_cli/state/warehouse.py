"""The warehouse: a DuckDB file holding the assets' tables and views, and duck's publish ledger.

Every publish is one transaction: stage, audit, swap (or delete+insert one partition slice) and a
ledger row per partition. The ledger is the warehouse's own record of what was published; the
catalog copies it, so a crash between the two is repaired by the next command (`sync`).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

from duck_cli.state import catalog as cat
from duck_cli.errors import ExecutionError
from duck_cli.state import extensions, sources
from duck_cli.models import Asset, Settings
from duck_cli.records import LedgerRow
from duck_cli import sql as sqltext
from duck_cli.sql import PROD, env_schema, key_expr, quote_ident, quote_table, split_relation
from duck_cli.state.schemas import create_schemas, relation_key as _key, set_search_path
from duck_cli.state.store import ledger_unrecorded

LEDGER = '"_duck"."ledger"'  # production's; an environment's is ledger_of(env)
READ_HINT = ("Check the files' format, delimiter and header, or pass reader options under "
             "source.options (e.g. options: {delim: ';', header: true}), or declare the columns "
             "under source.columns.")
_LEDGER_COLUMNS = """(
  seq BIGINT PRIMARY KEY, asset VARCHAR, partition_key VARCHAR, run_id VARCHAR, step INTEGER,
  created_at TIMESTAMPTZ, code_version VARCHAR, data_version VARCHAR, row_count BIGINT,
  kind VARCHAR, upstream VARCHAR)"""
_LEDGER_DDL = f"""
BEGIN TRANSACTION;
CREATE SCHEMA IF NOT EXISTS _duck;
CREATE TABLE IF NOT EXISTS _duck.ledger {_LEDGER_COLUMNS};
CREATE TABLE IF NOT EXISTS _duck.identity (id VARCHAR);
INSERT INTO _duck.identity SELECT uuid()::VARCHAR WHERE NOT EXISTS (FROM _duck.identity);
COMMIT;
"""
# the tables and views of the schemas $s (the asset schemas, as named in the environment)
_KINDS = ("SELECT schema_name AS s, lower(table_name) AS n, 'BASE TABLE' AS k FROM "
          "duckdb_tables() WHERE list_contains($s, schema_name) AND NOT temporary AND "
          "database_name = current_database() UNION ALL SELECT schema_name, lower(view_name), "
          "'VIEW' FROM duckdb_views() WHERE list_contains($s, schema_name) AND NOT internal "
          "AND NOT temporary AND database_name = current_database()")
# the warehouse's schemas, whether its ledger and identity exist (made in one transaction),
# and `_KINDS`: one query where a writer opens the file (DDL later adds no asset relation)
_LAYOUT = ("SELECT (SELECT list(schema_name) FROM duckdb_schemas() WHERE database_name = "
           "current_database()), (SELECT count(*) FROM duckdb_tables() WHERE database_name = "
           "current_database() AND schema_name = '_duck' AND table_name IN ('ledger', "
           f"'identity')), (SELECT list(r) FROM ({_KINDS}) AS r)")
_ENV_DDL = """
CREATE SCHEMA IF NOT EXISTS {tables};
CREATE SCHEMA IF NOT EXISTS {housekeeping};
CREATE TABLE IF NOT EXISTS {housekeeping}.ledger COLUMNS;
""".replace("COLUMNS", _LEDGER_COLUMNS)


def _with_main(schemas: tuple[str, ...]) -> tuple[str, ...]:
    """The asset schemas, main first."""
    return tuple(dict.fromkeys(("main", *schemas)))


def _mine(env: str, schemas: tuple[str, ...]) -> dict[str, str]:
    """The asset schemas as named in the environment, to their production names."""
    return {env_schema(env, s): s for s in schemas}


def ledger_of(env: str) -> str:
    """The publish ledger of an environment (production's: ``_duck.ledger``).

    >>> ledger_of('prod'), ledger_of('pr-42')
    ('"_duck"."ledger"', '"_duck__pr_42"."ledger"')
    """
    return f'{quote_ident(env_schema(env, "_duck"))}."ledger"'


LEDGER_COLS = LedgerRow._fields


# whether a schema holds anything (DROP SCHEMA without CASCADE fails, and a failed statement
# would abort the publish it runs in)
_SCHEMA_HOLDS = " UNION ALL ".join(
    f"SELECT 1 FROM {fn}() WHERE schema_name = $s AND database_name = current_database(){extra}"
    for fn, extra in (("duckdb_tables", ""), ("duckdb_views", ""), ("duckdb_sequences", ""),
                      ("duckdb_indexes", ""), ("duckdb_functions", " AND NOT internal"),
                      ("duckdb_types", " AND NOT internal"))) + " LIMIT 1"


class Warehouse:
    """The local `WarehouseBackend`: one connection to the DuckDB file for the whole command."""

    lake = False  # a DuckLake (state/lake.py) publishes differently: run/lake_publish.py

    def __init__(self, con, path: Path, kinds: dict[str, str] | None = None, env: str = PROD,
                 schemas: tuple[str, ...] = ("main",), found: list | None = None):
        self.con = con
        self.path = path
        self.env, self.schema, self.ledger = env, env_schema(env), ledger_of(env)
        self.schemas = _with_main(schemas)  # the asset schemas
        self.shared = kinds is not None  # a worker's connection: kinds shared with others
        # this environment's relations, by lower-case 'schema.name' (production's schema name)
        self.kinds: dict[str, str] = kinds if kinds is not None else {}
        self._undo: list[tuple[str, str | None]] | None = None  # marks made in the transaction
        self.prelude: list[tuple[str, dict]] = []  # variables of every connection
        self.deferred: list[str] = []  # and its macros
        if kinds is None:  # ``found``: `_KINDS`'s rows, read as the file was opened
            self.load_kinds(found)

    def worker(self) -> "Warehouse":
        """A connection for a worker thread: its own transactions, the same database, and the
        same picture of which relations exist."""
        con = self.con.cursor()
        con.execute("SET TimeZone = 'UTC'; SET enable_progress_bar = false")  # not inherited
        set_search_path(con, self.env, self.schemas)
        worker = Warehouse(con, self.path, kinds=self.kinds, env=self.env, schemas=self.schemas)
        worker.prepare(self.prelude, self.deferred)  # nor its variables and temporary macros
        return worker

    def prepare(self, statements: list[tuple[str, dict]], deferred: list[str] = ()) -> None:
        """Run statements every connection of this command needs (SET VARIABLE, macros);
        ``deferred`` ones may fail on a table that does not exist yet (a table macro over an
        asset not built yet): a step creates them again before it runs."""
        from duck_cli.engine import duckdb

        for sql, params in statements:
            self.con.execute(sql, params or None)
        for sql in deferred:
            try:
                self.con.execute(sql)
            except duckdb.CatalogException:
                pass
        self.prelude = list(statements)
        self.deferred = list(deferred)

    def load_kinds(self, found: list | None = None) -> None:
        """Read which tables and views exist (once; kept up to date as duck changes them).
        In place: worker connections share the dict."""
        mine = _mine(self.env, self.schemas)
        if found is None:
            found = self.con.execute(_KINDS, {"s": list(mine)}).fetchall()
        self.kinds.clear()
        self.kinds.update({f"{mine[schema]}.{name}": kind for schema, name, kind in found
                           if schema in mine})  # (a lake's listing names every schema)

    def relation(self, name: str) -> str:
        """The quoted relation duck writes for ``name`` ('schema.name', or a name in main)
        in this environment (`sql.relation`)."""
        schema, table = split_relation(name)
        return sqltext.relation(table, schema, self.env)

    def reading(self, name: str) -> str:
        """The quoted relation a read of ``name`` finds: this environment's copy when it
        built one, else production's (an environment defers what it did not build)."""
        return ".".join(sqltext.quote_ident(p) for p in self.located(name) if p is not None)

    def located(self, name: str) -> tuple[str | None, str, str]:
        """(catalog or None for the current one, schema, table) of what a read of ``name``
        ('schema.name', or a name in main) finds (`reading`)."""
        schema, table = split_relation(name)
        env = self.env if _key(name) in self.kinds else PROD
        return None, sqltext.env_schema(env, schema), table

    def mark(self, name: str, kind: str | None) -> None:
        """Record that duck created (kind) or dropped (None) a relation ('schema.name', or a
        name in main)."""
        key = _key(name)
        if self._undo is not None:
            self._undo.append((key, self.kinds.get(key)))
        if kind is None:
            self.kinds.pop(key, None)
        else:
            self.kinds[key] = kind

    @classmethod
    def open(cls, settings: Settings, *, wait: float, read_only: bool = False) -> "Warehouse":
        """Open (and prepare) the warehouse file."""
        settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
        con = cat.connect(settings.warehouse, read_only=read_only, wait=wait)
        if settings.threads:
            con.execute(f"SET threads = {int(settings.threads)}")
        if settings.memory_limit:
            con.execute("SET memory_limit = ?", [settings.memory_limit])
        found = relations = None
        if not read_only:
            mine = _mine(settings.env, _with_main(settings.asset_schemas))
            schemas, made, relations = con.execute(_LAYOUT, {"s": list(mine)}).fetchone()
            found, relations = frozenset(schemas), [tuple(r.values()) for r in relations or ()]
            if made < 2:  # a new warehouse (a CREATE IF NOT EXISTS costs a write transaction)
                con.execute(_LEDGER_DDL)
                found |= {"_duck"}
            if settings.env != PROD:
                made_env = (env_schema(settings.env), env_schema(settings.env, "_duck"))
                con.execute(_ENV_DDL.format(tables=quote_ident(made_env[0]),
                                            housekeeping=quote_ident(made_env[1])))
                found |= set(made_env)
            found = create_schemas(con, settings.env, settings.asset_schemas, found)
        set_search_path(con, settings.env, settings.asset_schemas, found)
        try:
            extensions.prepare(con, settings)
        except BaseException:
            con.close()
            raise
        return cls(con, settings.warehouse, env=settings.env, schemas=settings.asset_schemas,
                   found=relations)

    def close(self) -> None:
        """Close the connection."""
        self.con.close()

    # -- ledger --------------------------------------------------------------------------

    def ledger_unrecorded(self, recorded_max: int, store) -> list[LedgerRow]:
        """Ledger rows the state ``store`` lacks: a set difference, not a high-water mark, since
        workers commit out of order. Below the state's highest seq, rows of runs that `duck
        prune` deleted stay deleted. A local catalog attached to this connection is compared
        in one query; any other store through the ledger's (seq, run_id) index."""
        if getattr(store, "attached_to", None) is not self.con:
            index = self.con.execute(f"SELECT seq, run_id FROM {self.ledger} ORDER BY seq"
                                     ).fetchall()
            return ledger_unrecorded(store, recorded_max, index, self.ledger_rows)
        db = cat.ATTACHED
        cols = ", ".join(f"l.{c}" for c in LEDGER_COLS)
        cur = self.con.execute(
            f"SELECT {cols} FROM {self.ledger} l ANTI JOIN {db}.materializations m USING (seq) "
            f"WHERE l.seq > ? OR l.run_id IS NULL OR l.run_id IN (SELECT run_id FROM {db}.runs) "
            "ORDER BY l.seq", [recorded_max])
        return [LedgerRow._make(r) for r in cur.fetchall()]

    def ledger_rows(self, seqs: list[int]) -> list[LedgerRow]:
        """The ledger rows with these sequence numbers, in order."""
        cur = self.con.execute(f"SELECT {', '.join(LEDGER_COLS)} FROM {self.ledger} WHERE "
                               "list_contains(?, seq) ORDER BY seq", [seqs])
        return [LedgerRow._make(r) for r in cur.fetchall()]

    def identity(self) -> str | None:
        """This warehouse file's identity (made when duck first opened it)."""
        return identity(self.con)

    def max_seq(self) -> int:
        """The highest ledger sequence number."""
        return self.con.execute(f"SELECT coalesce(max(seq), 0) FROM {self.ledger}"
                                ).fetchone()[0]

    def append_ledger(self, rows: list[LedgerRow]) -> None:
        """Add ledger rows (inside the caller's transaction)."""
        cat._bulk_insert(self.con, self.ledger, rows)

    # -- transactions --------------------------------------------------------------------

    def begin(self) -> None:
        """Start a transaction."""
        self.con.execute("BEGIN TRANSACTION")
        self._undo = []

    def commit(self) -> None:
        """Commit the transaction."""
        self.con.execute("COMMIT")
        self._undo = None

    def rollback(self) -> None:
        """Roll the transaction back (a no-op if none is open)."""
        try:
            self.con.execute("ROLLBACK")
        except Exception:  # noqa: BLE001 - nothing to roll back
            pass
        undo, self._undo = self._undo or [], None
        if self.shared:  # others' uncommitted work is in the shared picture: undo only ours
            for name, kind in reversed(undo):
                if kind is None:
                    self.kinds.pop(name, None)
                else:
                    self.kinds[name] = kind
        else:
            self.load_kinds()  # what the transaction created or dropped is undone

    # -- sources -------------------------------------------------------------------------

    def expose_source(self, asset: Asset, files: list[str]) -> None:
        """Make a source readable under its asset name: a view over its files (created again
        only when what it reads changed) or over its table."""
        src, rel = asset.source, asset.relation
        if self.env != PROD and not self.lake:  # a preview reads production's sources (a
            return  # lake's are TEMP views, made again by every command, the preview's too)
        if src.table:
            if not self.exists(src.table):  # not loaded yet: a missing source, not an error
                if _key(src.table) != _key(rel) and self.table_kind(rel):
                    self.drop(rel)
                return
            if _key(src.table) != _key(rel):
                self._table_view(rel, f"SELECT * FROM {quote_table(src.table)}")
            return
        if not files:  # nothing arrived: an empty relation would hide the problem
            self.con.execute(f"DROP VIEW IF EXISTS {self.relation(rel)}")
            self.mark(rel, None)
            return
        select = sources.reader_sql(asset, files, dict(src.columns) or None)
        stamp = "duck:" + hashlib.blake2b(select.encode(), digest_size=12).hexdigest()
        if self.view_comment(rel) == stamp:
            return  # binding a view sniffs every file: the slow part, skipped when unchanged
        self.create_source_view(asset, select, stamp)

    def _table_view(self, rel: str, select: str) -> None:
        """The view a table source is read through under its asset's name, created again only
        when the table it reads changed name (a write per command otherwise)."""
        stamp = "duck:" + hashlib.blake2b(select.encode(), digest_size=12).hexdigest()
        if self.view_comment(rel) == stamp:
            return
        self.con.execute(f"CREATE OR REPLACE VIEW {self.relation(rel)} AS {select}")
        if not self.lake:  # a lake's views keep no comment duck reads back (`view_comment`)
            self.con.execute(f"COMMENT ON VIEW {self.relation(rel)} IS '{stamp}'")
        self.mark(rel, "VIEW")

    def view_comment(self, name: str) -> str | None:
        """The comment duck left on a view ('schema.name', or a name in main)."""
        if self.kinds.get(_key(name)) != "VIEW":
            return None
        schema, table = split_relation(name)
        row = self.con.execute("SELECT comment FROM duckdb_views() WHERE schema_name = ? "
                               "AND lower(view_name) = lower(?) AND database_name = "
                               "current_database()", [env_schema(self.env, schema), table]
                               ).fetchone()
        return row[0] if row else None

    def create_source_view(self, asset: Asset, select: str, stamp: str) -> None:
        """(Re)create the whole-source view; a file that cannot be read is an ExecutionError."""
        from duck_cli.engine import duckdb

        rel, target = asset.relation, self.relation(asset.relation)
        try:
            if self.kinds.get(_key(rel)) == "BASE TABLE":
                self.drop(rel)
            self.con.execute(f"CREATE OR REPLACE VIEW {target} AS {select}")
            self.con.execute(f"COMMENT ON VIEW {target} IS '{stamp}'")
        except duckdb.Error as err:
            self.con.execute(f"DROP VIEW IF EXISTS {target}")
            self.mark(rel, None)
            raise ExecutionError(
                f"source '{asset.name}' ({asset.source.path}) cannot be read: "
                f"{str(err).splitlines()[0]}", asset=asset.name, hint=READ_HINT) from err
        self.mark(rel, "VIEW")

    def restamp(self, versions: list[tuple[int, str]]) -> None:
        """Rewrite recorded observations' data versions by seq (see Catalog.restamp)."""
        self.con.executemany(f"UPDATE {self.ledger} SET data_version = ? WHERE seq = ?",
                             [[v, seq] for seq, v in versions])

    def observe_table(self, asset: Asset, keys: list[str]) -> dict[str, str | None]:
        """Data version per key of a table source (row count and a content hash)."""
        table, defn = quote_table(asset.source.table), asset.partitions
        if not self.exists(asset.source.table):
            return {k: None for k in keys}
        if defn is None:
            row = self.con.execute(f"SELECT count(*), bit_xor(hash(t)) FROM {table} t").fetchone()
            return {"": f"{row[0]}:{row[1]}" if row[0] else None}
        col = quote_ident(defn.column or "partition_key")
        expr = key_expr(defn, "v")  # keys of the distinct raw values: 5x faster than per row
        found = dict(self.con.execute(
            f"SELECT {expr} AS k, sum(n) || ':' || bit_xor(h) FROM (SELECT {col} AS v, "
            f"count(*) AS n, bit_xor(hash(t)) AS h FROM {table} t GROUP BY v) GROUP BY k"
        ).fetchall())
        return {k: found.get(k) for k in keys}

    def exists(self, name: str) -> bool:
        """Whether a table or view exists (``schema.name``, ``db.schema.name``, or ``name`` in
        main); in an asset schema, this environment's copy."""
        parts = name.split(".")
        if len(parts) == 1 or (len(parts) == 2 and parts[0].lower() in self.schemas):
            return _key(name) in self.kinds
        database, schema, table = (parts if len(parts) == 3 else
                                   self._split_two(parts[0], parts[1]))
        row = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE lower(table_name) = lower(?) "
            "AND (? IS NULL OR lower(table_schema) = lower(?)) AND lower(table_catalog) = "
            "lower(coalesce(?, current_database()))",
            [table, schema, schema, database]).fetchone()
        return bool(row[0])

    def _split_two(self, first: str, table: str) -> tuple[str | None, str | None, str]:
        """``first.table``: an attached database's table (any schema) or a schema's table."""
        attached = self.con.execute("SELECT count(*) FROM duckdb_databases() WHERE "
                                    "lower(database_name) = lower(?)", [first]).fetchone()[0]
        return (first, None, table) if attached else (None, first, table)

    def table_kind(self, name: str) -> str | None:
        """'BASE TABLE', 'VIEW' or None for a relation ('schema.name', or a name in main)."""
        return self.kinds.get(_key(name))

    def drop(self, name: str) -> None:
        """Drop this environment's relation ('schema.name', or a name in main), whichever
        kind it is."""
        kind = self.table_kind(name)
        if kind == "VIEW":
            self.con.execute(f"DROP VIEW {self.relation(name)}")
        elif kind:
            self.con.execute(f"DROP TABLE {self.relation(name)}")
        self.mark(name, None)

    def drop_relation(self, name: str) -> None:
        """Drop this environment's relation 'schema.name' whatever kind it is, in a schema no
        asset may live in any more too (where an asset moved from)."""
        schema, table = split_relation(name)
        if schema in self.schemas:
            return self.drop(name)
        found = self.con.execute(
            "SELECT 'TABLE' FROM duckdb_tables() WHERE schema_name = $s AND lower(table_name) "
            "= lower($t) AND database_name = current_database() UNION ALL SELECT 'VIEW' FROM "
            "duckdb_views() WHERE schema_name = $s AND lower(view_name) = lower($t) AND "
            "database_name = current_database()",
            {"s": env_schema(self.env, schema), "t": table}).fetchone()
        if found:
            self.con.execute(f"DROP {found[0]} {self.relation(name)}")
        if schema != "main" and not self.con.execute(_SCHEMA_HOLDS, {
                "s": env_schema(self.env, schema)}).fetchone():  # left empty: tidy it away
            self.con.execute(f"DROP SCHEMA IF EXISTS {quote_ident(env_schema(self.env, schema))}")


def identity(con) -> str | None:
    """The identity of the warehouse open on ``con`` (None before duck first wrote to it)."""
    from duck_cli.engine import duckdb

    try:
        row = con.execute('SELECT id FROM "_duck"."identity"').fetchone()
    except duckdb.CatalogException:
        return None
    return row[0] if row else None


def ledger_row(seq: int, asset: Asset, key: str, run_id: str | None, step: int | None,
               now: datetime, row_count: int | None, kind: str, data_version: str | None = None,
               upstream: str | None = None) -> LedgerRow:
    """One ledger (and catalog materialization) row."""
    return LedgerRow(seq, asset.name, key, run_id, step, now, asset.code_version, data_version,
                     row_count, kind, upstream)
