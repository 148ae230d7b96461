"""The DuckLake warehouse: assets as DuckLake tables and views (catalog in PostgreSQL, data as
Parquet in a shared folder or object storage), behind the same methods as the local file.

duck's connection is an in-memory DuckDB with the lake attached and in use, so the SQL that
stages, checks and publishes is the same as on the local file; staging tables are TEMP (local
to the process: computing and auditing a step holds nothing in the lake). The publish ledger
lives in the lake too, since one DuckLake transaction may write only one attached database,
and without a primary key (DuckLake has none): its rows are identified by run, step and
partition, which no two publishes share. Readers (duck's and any DuckDB client) see the last
committed snapshot, never a publish in progress. An environment's tables are the lake's schema
``main__<slug>`` and its ledger ``_duck__<slug>.ledger``, through the connection's search_path
as on the local file (`warehouse.search_path`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

from duck_cli.errors import ExecutionError, StateError
from duck_cli.models import Settings
from duck_cli.state import extensions
from duck_cli.state.lake_tables import LakeTables
from duck_cli.state.lake_config import (ALIAS, SETUP_HINT, LakeConfig, attach_error, attach_sql,
                                        config, extensions_needed, redact, shown_catalog)
from duck_cli.sql import PROD, env_schema, env_slug, of_environment, quote_ident
from duck_cli.state.schemas import missing_schemas, set_search_path
from duck_cli.state.warehouse import READ_HINT, Warehouse

LEDGER_DDL = """
CREATE SCHEMA IF NOT EXISTS _duck;
CREATE TABLE IF NOT EXISTS _duck.ledger (
  seq BIGINT, asset VARCHAR, partition_key VARCHAR, run_id VARCHAR, step INTEGER,
  created_at TIMESTAMPTZ, code_version VARCHAR, data_version VARCHAR, row_count BIGINT,
  kind VARCHAR, upstream VARCHAR);
CREATE TABLE IF NOT EXISTS _duck.identity (id VARCHAR);
"""
# an environment's schemas in the lake: its tables, and its own ledger (production's never
# sees a preview's rows)
ENV_DDL = """
CREATE SCHEMA IF NOT EXISTS {tables};
CREATE SCHEMA IF NOT EXISTS {housekeeping};
""" + LEDGER_DDL.split(";")[1].replace("_duck.ledger", "{housekeeping}.ledger") + ";"


def lake_of(settings: Settings, root: Path | None = None) -> LakeConfig | None:
    """The project's lake settings, or None for the local warehouse file."""
    body = getattr(settings, "lake", None)
    if not body:
        return None
    # in lake mode settings.warehouse stays the default .duck/warehouse.duckdb: the project root
    return config(body, root or settings.warehouse.parent.parent)


def connect(settings: Settings, cfg: LakeConfig, *, read_only: bool = False):
    """An in-memory DuckDB with the project's extensions and secrets, and the lake attached
    and in use (StateError naming what is wrong when it cannot be)."""
    from duck_cli.engine import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'; SET enable_progress_bar = false")  # as catalog.connect
        # The only file this in-memory DuckDB writes is a local state catalog attached to it
        # (`catalog.attach`), detached twice a command. A detach need not checkpoint (40-90 ms):
        # what was committed is in the write-ahead log already, replayed by the next open;
        # `catalog._detach` checkpoints only a log long enough to make that replay cost more.
        con.execute("PRAGMA disable_checkpoint_on_shutdown")
        if settings.threads:
            con.execute(f"SET threads = {int(settings.threads)}")
        if settings.memory_limit:
            con.execute("SET memory_limit = ?", [settings.memory_limit])
        needed = tuple(n for n in extensions_needed(cfg) if n not in settings.extensions)
        extensions.load(con, needed, settings.catalog.parent)
        extensions.prepare(con, settings)  # the secrets the data path reads
        _attach(con, cfg, read_only)
        con.execute(f"USE {ALIAS}")
    except BaseException:
        con.close()
        raise
    return con


def _attach(con, cfg: LakeConfig, read_only: bool) -> None:
    """Attach the lake. Runners started together on a new lake race to create its catalog
    tables: the losers' attach fails on a duplicate; attaching again finds the catalog made."""
    from duck_cli.engine import duckdb

    for attempt in range(4):
        try:
            con.execute(attach_sql(cfg, read_only=read_only))
            return
        except duckdb.Error as err:
            text = str(err)
            racing = "Failed to initialize DuckLake" in text and (
                "duplicate key" in text or "already exists" in text)
            if not racing or attempt == 3:
                raise attach_error(cfg, err) from None
            time.sleep(0.2 * (attempt + 1))


@dataclass(frozen=True)
class Listing:
    """What the lake holds, read in one query: its schemas and its relations."""

    schemas: frozenset[str]
    relations: tuple[tuple[str, str, str], ...]  # (schema, lower-case name, kind)

    def has(self, schema: str, *names: str) -> bool:
        """Whether ``schema`` holds every one of the tables ``names``."""
        held = {n for s, n, _k in self.relations if s == schema}
        return all(n in held for n in names)


def read_listing(con) -> Listing:
    """The lake's schemas and relations, in one statement (each is a round trip to the lake's
    catalog)."""
    rows = con.execute(
        "SELECT schema_name, NULL, NULL FROM duckdb_schemas() WHERE database_name = $db "
        "UNION ALL SELECT schema_name, lower(table_name), 'BASE TABLE' FROM duckdb_tables() "
        "WHERE database_name = $db AND NOT temporary UNION ALL SELECT schema_name, "
        "lower(view_name), 'VIEW' FROM duckdb_views() WHERE database_name = $db AND NOT "
        "internal AND NOT temporary", {"db": ALIAS}).fetchall()
    return Listing(frozenset(r[0] for r in rows if r[1] is None),
                   tuple(r for r in rows if r[1] is not None))


class LakeWarehouse(Warehouse):
    """A `Warehouse` whose tables are a DuckLake's: one connection for the whole command."""

    lake = True  # publishes stage locally and retry on a DuckLake conflict (run/lake_publish)

    def __init__(self, con, path: Path, kinds: dict[str, str] | None = None,
                 cfg: LakeConfig | None = None, views: dict[str, str] | None = None,
                 env: str = PROD, schemas: tuple[str, ...] = ("main",),
                 listing: Listing | None = None):
        self.cfg = cfg
        # the sources' TEMP views by name, shared with the workers (each connection its own)
        self.views: dict[str, str] = views if views is not None else {}
        self.opened = listing  # kept: where `_lake_table` finds a source's table
        self.tables: LakeTables | None = None  # table sources' versions while unchanged
        # the relations listed at open: the first `load_kinds` needs no query
        super().__init__(con, path, kinds, env=env, schemas=schemas,
                         found=None if listing is None else listing.relations)

    @classmethod
    def open(cls, settings: Settings, *, wait: float, read_only: bool = False,
             root: Path | None = None) -> "LakeWarehouse":
        """Attach the lake (and prepare its ledger, environment and schemas)."""
        cfg = lake_of(settings, root)
        settings.catalog.parent.mkdir(parents=True, exist_ok=True)
        con = connect(settings, cfg, read_only=read_only)
        try:
            listing = read_listing(con)
            if not read_only:
                listing = prepare(con, cfg, settings, listing)
            set_search_path(con, settings.env, settings.asset_schemas, found=listing.schemas)
        except BaseException:
            con.close()
            raise
        wh = cls(con, Path(cfg.data_path), cfg=cfg, env=settings.env,
                 schemas=settings.asset_schemas, listing=listing)
        wh.tables = LakeTables(settings.catalog.parent / "cache" / "lake_tables.pickle", ALIAS)
        return wh

    def worker(self) -> "LakeWarehouse":
        """A worker thread's cursor, in the lake (a cursor does not inherit USE)."""
        con = self.con.cursor()
        con.execute("SET TimeZone = 'UTC'; SET enable_progress_bar = false")
        con.execute(f"USE {ALIAS}")
        set_search_path(con, self.env, self.schemas)
        for name, select in list(self.views.items()):
            con.execute(f"CREATE OR REPLACE TEMP VIEW {quote_ident(name)} AS {select}")
        return LakeWarehouse(con, self.path, kinds=self.kinds, cfg=self.cfg, views=self.views,
                             env=self.env, schemas=self.schemas)

    def located(self, name: str) -> tuple[str | None, str, str]:
        """A source is a TEMP view here (``temp.main.NAME``), in no schema of the lake;
        the rest as for any warehouse."""
        table = name.rpartition(".")[2]
        if any(table.lower() == n.lower() for n in self.views):
            return "temp", "main", table
        return super().located(name)

    def view_comment(self, name: str) -> str | None:
        """None: source views are TEMP in a lake (made again by each command)."""
        return None

    def create_source_view(self, asset, select: str, stamp: str) -> None:
        """A source as a TEMP view: its files are this runner's, not something every reader
        of the lake can open, so it never enters the lake (only what duck builds does)."""
        from duck_cli.engine import duckdb

        try:
            self.con.execute(f"CREATE OR REPLACE TEMP VIEW {quote_ident(asset.name)} AS {select}")
        except duckdb.Error as err:
            self.con.execute(f"DROP VIEW IF EXISTS temp.main.{quote_ident(asset.name)}")
            self.mark(asset.relation, None)
            self.views.pop(asset.name, None)
            raise ExecutionError(
                f"source '{asset.name}' ({asset.source.path}) cannot be read: "
                f"{str(err).splitlines()[0]}", asset=asset.name, hint=READ_HINT) from err
        self.views[asset.name] = select
        self.mark(asset.relation, "VIEW")

    def observe_table(self, asset, keys: list[str]) -> dict[str, str | None]:
        """As `Warehouse.observe_table`, without hashing the rows again while the lake's
        snapshots show no change to the table since they were last hashed (`lake_tables`)."""
        where = self._lake_table(asset.source.table) if self.tables is not None else None
        if where is None:
            return super().observe_table(asset, keys)
        return self.tables.versions(self.con, asset, keys, where,
                                    lambda: super(LakeWarehouse, self).observe_table(asset, keys))

    def _lake_table(self, name: str) -> tuple[str, str] | None:
        """(schema, table) of the lake table a read of ``name`` finds: the first schema of the
        search path holding it; None for a name in another attached database."""
        parts = [p.strip('"') for p in name.split(".")]
        if len(parts) == 2:
            other = self.con.execute("SELECT count(*) FROM duckdb_databases() WHERE "
                                     "lower(database_name) = lower(?)", [parts[0]]).fetchone()
            return None if other[0] else (parts[0], parts[1])
        if len(parts) != 1:
            return None
        if self.opened is not None:  # the tables listed at open: no round trip to the lake
            # (a table made or dropped since only costs a hash of its rows: `observe_table`)
            setting = self.con.execute("SELECT current_setting('search_path')").fetchone()[0]
            found = [s.lower() for s, n, kind in self.opened.relations
                     if n == parts[0].lower() and kind == "BASE TABLE"]
        else:
            setting, found = self.con.execute(
                "SELECT current_setting('search_path'), (SELECT list(lower(schema_name)) FROM "
                "duckdb_tables() WHERE database_name = ? AND lower(table_name) = lower(?) AND "
                "NOT temporary)", [ALIAS, parts[0]]).fetchone()
        path = [p.strip().strip('"').rpartition(".")[2] for p in setting.split(",") if p.strip()]
        return next(((s, parts[0]) for s in (path or ["main"]) if s.lower() in (found or [])),
                    None)

    def snapshot_id(self) -> int | None:
        """The lake snapshot the last commit on this connection made (what readers now see)."""
        row = self.con.execute(f"FROM {ALIAS}.current_snapshot()").fetchone()
        return int(row[0]) if row else None

    def label_commit(self, run_id: str | None, steps: list[tuple[int | None, str]]) -> None:
        """Name the transaction's snapshot after the run and its steps (readable in the lake's
        snapshot list by any client), inside the caller's transaction: "r00003 step 4: orders"
        for one step, "r00003 step 4: a; step 5: b" for a group sharing the commit."""
        (step, asset), more = steps[0], len(steps) > 1
        info = {"run_id": run_id, "step": step, "asset": asset}
        if more:
            info["steps"] = [{"step": n, "asset": a} for n, a in steps]
        self.con.execute(f"CALL {ALIAS}.set_commit_message('duck', ?, extra_info => ?)",
                         [f"{run_id} " + "; ".join(f"step {n}: {a}" for n, a in steps),
                          json.dumps(info)])


def prepare(con, cfg: LakeConfig, settings: Settings, listing: Listing) -> Listing:
    """Create what a writer needs and the lake lacks (the ledger and the lake's identity, an
    environment's schemas and ledger, the asset schemas) in one lake commit, none when nothing
    is missing; the listing after. Runners started together on a new lake race to create
    them: the loser reads the lake again and makes what is still missing."""
    from duck_cli.engine import duckdb

    for attempt in range(4):
        statements, schemas = _missing(settings, listing)
        if not statements:
            return listing
        try:
            con.execute("BEGIN TRANSACTION")
            for sql in statements:
                con.execute(sql)
            con.execute("COMMIT")
            return replace(listing, schemas=listing.schemas | schemas)  # no table of an asset
        except duckdb.Error as err:
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:  # the failed commit ended the transaction already
                pass
            if attempt == 3:
                raise StateError(f"duck's tables cannot be made in the DuckLake catalog "
                                 f"{shown_catalog(cfg)}: {redact(str(err).splitlines()[0])}",
                                 hint=SETUP_HINT) from None
        time.sleep(0.1 * (attempt + 1))
        listing = read_listing(con)
    return listing


def _missing(settings: Settings, listing: Listing) -> tuple[list[str], frozenset[str]]:
    """The statements making what a writer needs that ``listing`` lacks, and the schemas they
    make (DuckLake has no primary keys: the identity is one row, inserted with its table)."""
    out, env = [], settings.env
    if not listing.has("_duck", "ledger", "identity"):
        out += [LEDGER_DDL, "INSERT INTO _duck.identity SELECT uuid()::VARCHAR WHERE NOT "
                "EXISTS (FROM _duck.identity)"]
    tables, housekeeping = env_schema(env), env_schema(env, "_duck")
    if env != PROD and (not listing.has(housekeeping, "ledger")
                        or tables not in listing.schemas):
        out.append(ENV_DDL.format(tables=quote_ident(tables),
                                  housekeeping=quote_ident(housekeeping)))
    made = listing.schemas | {tables, housekeeping}  # made by the DDL above, or there before
    schemas = missing_schemas(env, settings.asset_schemas, made)
    out += [f"CREATE SCHEMA IF NOT EXISTS {quote_ident(n)}" for n in schemas]
    return out, frozenset(schemas) | ({"_duck", tables, housekeeping} if out else frozenset())


def drop_environment(settings: Settings, env: str, *, wait: float) -> bool:
    """Drop an environment's schemas (its copy of every asset schema, and its ledger) from the lake; whether it had any."""
    wh = LakeWarehouse.open(replace(settings, env=PROD), wait=wait)
    try:
        found = [r[0] for r in wh.con.execute(
            "SELECT schema_name FROM duckdb_schemas() WHERE database_name = ?", [ALIAS]
        ).fetchall() if of_environment(r[0], env_slug(env))]  # any asset schema it ever used
        if found:
            wh.con.execute("BEGIN TRANSACTION")
            for schema in found:
                wh.con.execute(f"DROP SCHEMA {quote_ident(schema)} CASCADE")
            wh.con.execute("COMMIT")
        return bool(found)
    finally:
        wh.close()


def housekeeping(con, cfg: LakeConfig) -> dict[str, int]:
    """Expire snapshots older than the retention, then delete the files nothing references
    any more (old data files and orphans): how many of each."""
    from duck_cli.engine import duckdb

    try:
        older = con.execute("SELECT now() - ?::INTERVAL", [cfg.retention]).fetchone()[0]
    except duckdb.Error:
        raise StateError(f"the DuckLake retention '{cfg.retention}' (duck.yaml "
                         "warehouse.ducklake.retention) is not a duration",
                         hint="Write it as DuckDB reads an interval, e.g. '7 days' or '12 hours'."
                         ) from None
    expired = con.execute(f"CALL ducklake_expire_snapshots('{ALIAS}', older_than => ?)",
                          [older]).fetchall()
    old = con.execute(f"CALL ducklake_cleanup_old_files('{ALIAS}', older_than => ?)",
                      [older]).fetchall()
    orphans = con.execute(f"CALL ducklake_delete_orphaned_files('{ALIAS}', older_than => ?)",
                          [older]).fetchall()
    return {"snapshots_expired": len(expired), "old_files_deleted": len(old),
            "orphaned_files_deleted": len(orphans)}


def housekeep(settings: Settings, *, wait: float) -> dict[str, int] | None:
    """The lake's housekeeping (`housekeeping`), or None for the local warehouse file."""
    if lake_of(settings) is None:
        return None
    wh = LakeWarehouse.open(settings, wait=wait)
    try:
        return housekeeping(wh.con, wh.cfg)
    finally:
        wh.close()
