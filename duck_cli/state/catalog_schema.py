"""The state catalog's schema: its tables, its version, the migrations between versions, the
counters that keep run and backfill ids from ever repeating, and the queries of its latest rows.

A catalog records its schema version in ``duck_meta``; an older catalog is migrated in place
(after a backup) by running ``MIGRATIONS[v]`` for each version ``v`` it is behind.
"""

from __future__ import annotations

SCHEMA_VERSION = 4  # 1 -> 2: steps.input_seq (what a step read, to tell a repeat failure)
# 2 -> 3: counters (the last run and backfill id issued: ids never repeat after a prune)
# 3 -> 4: steps.log (what a Python step logged)

# The latest attempt per asset partition, and the latest result per check (the snapshot's reads).
LATEST_ATTEMPTS = (
    "SELECT seq, run_id, step, asset, p, status, error, error_kind, code_version, "
    "timezone('UTC', ended_at) AS ended_at, input_seq FROM (SELECT *, unnest(partitions) AS p "
    "FROM steps WHERE status IN ('success', 'failed')) "
    "QUALIFY row_number() OVER (PARTITION BY asset, p ORDER BY seq DESC) = 1")
LATEST_CHECKS = (
    "SELECT seq, run_id, asset, partition_key, check_name, kind, severity, passed, observed, "
    "failing, message, sample, stage FROM check_results QUALIFY row_number() OVER (PARTITION BY "
    "asset, partition_key, check_name ORDER BY seq DESC) = 1")

DDL = """
CREATE TABLE IF NOT EXISTS duck_meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS runs (
  run_id VARCHAR PRIMARY KEY, command VARCHAR, status VARCHAR, started_at TIMESTAMPTZ,
  ended_at TIMESTAMPTZ, pid INTEGER, host VARCHAR, args VARCHAR, backfill_id VARCHAR,
  error VARCHAR, duck_version VARCHAR);
CREATE TABLE IF NOT EXISTS steps (
  seq BIGINT, run_id VARCHAR, step INTEGER, asset VARCHAR, partitions VARCHAR[], status VARCHAR,
  started_at TIMESTAMPTZ, ended_at TIMESTAMPTZ, error VARCHAR, error_kind VARCHAR,
  row_count BIGINT, blocked_by VARCHAR, code_version VARCHAR, reasons VARCHAR,
  input_seq BIGINT, log VARCHAR);
CREATE TABLE IF NOT EXISTS materializations (
  seq BIGINT PRIMARY KEY, asset VARCHAR, partition_key VARCHAR, run_id VARCHAR, step INTEGER,
  created_at TIMESTAMPTZ, code_version VARCHAR, data_version VARCHAR, row_count BIGINT,
  kind VARCHAR, upstream VARCHAR);
CREATE TABLE IF NOT EXISTS check_results (
  seq BIGINT, run_id VARCHAR, step INTEGER, asset VARCHAR, partition_key VARCHAR,
  check_name VARCHAR, kind VARCHAR, severity VARCHAR, passed BOOLEAN, observed VARCHAR,
  failing BIGINT, message VARCHAR, sample VARCHAR, created_at TIMESTAMPTZ, stage VARCHAR);
CREATE TABLE IF NOT EXISTS backfills (
  backfill_id VARCHAR PRIMARY KEY, created_at TIMESTAMPTZ, selection VARCHAR,
  requested VARCHAR, options VARCHAR, status VARCHAR);
CREATE TABLE IF NOT EXISTS counters (name VARCHAR PRIMARY KEY, value BIGINT);
"""

TABLES = ("runs", "steps", "materializations", "check_results", "backfills", "counters")


def highest(column: str, tables: tuple[str, ...]) -> str:
    """SQL for the highest number in ids like r00012 found in ``column`` of ``tables``."""
    union = " UNION ALL ".join(f"SELECT {column} AS id FROM {t}" for t in tables)
    return f"SELECT coalesce(max(TRY_CAST(substr(id, 2) AS BIGINT)), 0) FROM ({union})"


MIGRATIONS: dict[int, list[str]] = {  # MIGRATIONS[v] upgrades schema v to v + 1
    1: ["ALTER TABLE steps ADD COLUMN IF NOT EXISTS input_seq BIGINT"],
    2: ["CREATE TABLE IF NOT EXISTS counters (name VARCHAR PRIMARY KEY, value BIGINT)",
        f"INSERT OR REPLACE INTO counters SELECT 'r', ({highest('run_id', ('runs', 'steps', 'check_results'))})",
        f"INSERT OR REPLACE INTO counters SELECT 'b', ({highest('backfill_id', ('backfills', 'runs'))})"],
    3: ["ALTER TABLE steps ADD COLUMN IF NOT EXISTS log VARCHAR"],
}


def count_issued(con, issued: str) -> None:
    """Keep the counter of ids like ``issued`` (r00012) at or above it."""
    number = int(issued[1:]) if issued[1:].isdigit() else 0
    con.execute("INSERT INTO counters VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET "
                "value = greatest(value, excluded.value)", [issued[:1], number])


def last_ids(con) -> dict[str, int]:
    """The last run (``r``) and backfill (``b``) number ever issued: the counters, or the ids
    still recorded if higher (a catalog written before the counters)."""
    counted = dict(con.execute("SELECT name, value FROM counters").fetchall())
    return {prefix: max(counted.get(prefix, 0), con.execute(
        f"SELECT ({highest(col, tables)})").fetchone()[0])
        for prefix, col, tables in (("r", "run_id", ("runs",)),
                                    ("b", "backfill_id", ("backfills",)))}
