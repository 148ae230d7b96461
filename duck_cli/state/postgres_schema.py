"""The PostgreSQL state's schema: its tables in the schema ``duck`` (an environment's in
``duck__<env>``: the connection's search_path names it), its version, and the migrations
between versions.

``meta`` records the schema version. A writer creates the schema on first use and
migrates an older one (``MIGRATIONS[v]`` upgrades v to v + 1, in one transaction, under a
transaction-level advisory lock so two commands never migrate at once); every command refuses
a schema from a newer duck. The tables mirror the local catalog's (`catalog_schema.py`).
"""

from __future__ import annotations

from duck_cli.errors import StateError

SCHEMA_VERSION = 3  # 1 -> 2: steps.log (what a Python step logged); 2 -> 3: claims.stage
MIGRATE_KEY = 0x6475636B_6D696772  # the advisory lock taken while creating or migrating

DDL = """
CREATE TABLE IF NOT EXISTS meta (key text PRIMARY KEY, value text);
CREATE TABLE IF NOT EXISTS runs (
  run_id text PRIMARY KEY, command text, status text, started_at timestamptz,
  ended_at timestamptz, pid integer, host text, args text, backfill_id text, error text,
  duck_version text);
CREATE TABLE IF NOT EXISTS steps (
  seq bigint, run_id text, step integer, asset text, partitions text[], status text,
  started_at timestamptz, ended_at timestamptz, error text, error_kind text, row_count bigint,
  blocked_by text, code_version text, reasons text, input_seq bigint, log text);
CREATE INDEX IF NOT EXISTS steps_run ON steps (run_id, step, seq);
CREATE INDEX IF NOT EXISTS steps_asset ON steps (asset, seq);
CREATE TABLE IF NOT EXISTS materializations (
  seq bigint PRIMARY KEY, asset text, partition_key text, run_id text, step integer,
  created_at timestamptz, code_version text, data_version text, row_count bigint, kind text,
  upstream text);
CREATE INDEX IF NOT EXISTS mats_latest ON materializations (asset, partition_key, seq);
CREATE TABLE IF NOT EXISTS check_results (
  seq bigint, run_id text, step integer, asset text, partition_key text, check_name text,
  kind text, severity text, passed boolean, observed text, failing bigint, message text,
  sample text, created_at timestamptz, stage text);
CREATE INDEX IF NOT EXISTS checks_run ON check_results (run_id, seq);
CREATE TABLE IF NOT EXISTS backfills (
  backfill_id text PRIMARY KEY, created_at timestamptz, selection text, requested text,
  options text, status text);
CREATE TABLE IF NOT EXISTS counters (name text PRIMARY KEY, value bigint);
CREATE TABLE IF NOT EXISTS claims (
  backfill_id text, asset text, partition_key text, status text NOT NULL DEFAULT 'pending',
  runner text, lease_until timestamptz, claims integer NOT NULL DEFAULT 0, built_by text,
  done_at timestamptz, stage integer NOT NULL DEFAULT 0,
  PRIMARY KEY (backfill_id, asset, partition_key));
CREATE TABLE IF NOT EXISTS holders (
  backend_pid integer PRIMARY KEY, command text, pid integer, host text, since timestamptz);
"""

TABLES = ("runs", "steps", "materializations", "check_results", "backfills", "counters",
          "claims")

MIGRATIONS: dict[int, list[str]] = {  # MIGRATIONS[v] upgrades schema v to v + 1
    1: ["ALTER TABLE steps ADD COLUMN IF NOT EXISTS log text"],
    # a shared backfill's items are claimed stage by stage (an item waits for the ones it reads)
    2: ["ALTER TABLE claims ADD COLUMN IF NOT EXISTS stage integer NOT NULL DEFAULT 0"],
}


def found_version(con, schema: str = "duck") -> int | None:
    """The schema version recorded (None: duck has not made its schema in this database)."""
    exists = con.execute("SELECT to_regclass(%s) IS NOT NULL", [f'"{schema}".meta']).fetchone()[0]
    if not exists:
        return None
    row = con.execute(f'SELECT value FROM "{schema}".meta WHERE key = \'schema_version\''
                      ).fetchone()
    return int(row[0]) if row else None


def prepare(con, *, read_only: bool, where: str, schema: str = "duck") -> bool:
    """Check (and as a writer create or migrate) the schema; False when a reader finds none."""
    version = found_version(con, schema)
    if version is not None and version > SCHEMA_VERSION:
        raise newer(version, where)
    if version == SCHEMA_VERSION:
        return True
    if read_only and version is None:
        return False
    with con.transaction():
        con.execute("SELECT pg_advisory_xact_lock(%s)", [MIGRATE_KEY])
        con.execute(f'SET LOCAL search_path TO "{schema}"')  # the statements are unqualified
        version = found_version(con, schema)  # another command may have done it meanwhile
        if version is not None and version > SCHEMA_VERSION:
            raise newer(version, where)
        if version is None:
            con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')  # the connection's search_path
            con.execute(DDL)
        else:
            for v in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[v]:
                    con.execute(statement)
        con.execute("INSERT INTO meta VALUES ('schema_version', %s) ON CONFLICT (key) "
                    "DO UPDATE SET value = excluded.value", [str(SCHEMA_VERSION)])
    return True


def newer(version: int, where: str) -> StateError:
    """The error for a schema written by a newer duck."""
    return StateError(f"the state in {where} was written by a newer duck (state schema "
                      f"{version}, this duck knows {SCHEMA_VERSION})",
                      hint="Upgrade duck (pip install -U duck-cli); nothing was changed.")
