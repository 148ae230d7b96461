"""The state catalog's schema: its tables, its version, the migrations between versions, the
counters that keep run and backfill ids from ever repeating, and the queries of its latest rows.

A catalog records its schema version in ``duck_meta``; an older catalog is migrated in place
(after a backup) by running ``MIGRATIONS[v]`` for each version ``v`` it is behind.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA_VERSION = 5  # 1 -> 2: steps.input_seq (what a step read, to tell a repeat failure)
# 2 -> 3: counters (the last run and backfill id issued: ids never repeat after a prune)
# 3 -> 4: current_* tables (the latest rows, kept on write: reads do not scan the history)
# 4 -> 5: steps.log (what a Python step logged)

# The latest attempt per asset partition, and the latest result per check (the snapshot's reads),
# from the small current_* tables that every write keeps up to date (see CURRENT).
LATEST_ATTEMPTS = (
    "SELECT seq, run_id, step, asset, partition_key AS p, status, error, error_kind, "
    "code_version, timezone('UTC', ended_at) AS ended_at, input_seq FROM current_attempts")
LATEST_CHECKS = (
    "SELECT seq, run_id, asset, partition_key, check_name, kind, severity, passed, observed, "
    "failing, message, sample, stage FROM current_checks")
# the current materializations grouped by what a publish shares (one row per asset and step,
# its partitions as lists): 100,000 partitions of one asset become Python objects three values
# each instead of ten
LATEST_MATS = (
    "SELECT asset, run_id, step, timezone('UTC', created_at), code_version, data_version, kind, "
    "list(seq ORDER BY seq), list(partition_key ORDER BY seq), list(row_count ORDER BY seq) "
    "FROM current_materializations GROUP BY ALL")

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

_MAT_COLS = ("seq, asset, partition_key, run_id, step, created_at, code_version, data_version, "
             "row_count, kind, upstream")
_ATTEMPT_COLS = ("seq, run_id, step, asset, partition_key, status, error, error_kind, "
                 "code_version, ended_at, input_seq")
_CHECK_COLS = ("seq, run_id, step, asset, partition_key, check_name, kind, severity, passed, "
               "observed, failing, message, sample, created_at, stage")


@dataclass(frozen=True)
class Current:
    """One table of latest rows: its key, columns, and the query that derives it from history."""

    table: str
    history: str  # the history table it summarises
    key: str
    columns: str
    ddl: str
    rows_of: str  # rows of {source} (history or a batch) -> its rows in this table's columns

    def derive(self, source: str, *, distinct: bool = False) -> str:
        """A query of the latest row per key among ``source``'s rows (history or a batch);
        ``distinct``: no key repeats among them, so every row is the latest of its key."""
        rows = self.rows_of.format(source=source)
        return rows if distinct else (f"{rows} QUALIFY row_number() OVER (PARTITION BY "
                                      f"{self.key} ORDER BY seq DESC) = 1")

    def insert(self, source: str, *, distinct: bool = False) -> str:
        """Insert the latest row per key among ``source``'s rows (keys the table lacks)."""
        return f"INSERT INTO {self.table} ({self.columns}) {self.derive(source, distinct=distinct)}"

    def upsert(self, source: str, *, distinct: bool = False) -> str:
        """Keep the table current with ``source``'s rows: insert new keys, replace a row only
        by a newer one (higher seq), so a batch replayed or recovered out of order is harmless."""
        cols = [c.strip() for c in self.columns.split(",")]
        keys = {k.strip() for k in self.key.split(",")}
        sets = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in keys)
        return (f"{self.insert(source, distinct=distinct)} "
                f"ON CONFLICT ({self.key}) DO UPDATE SET {sets} "
                f"WHERE excluded.seq > {self.table}.seq")

    def rebuild(self) -> list[str]:
        """Statements that derive the whole table again from history (migration, prune)."""
        return [self.ddl, f"DELETE FROM {self.table}", self.insert(self.history)]

    def keys_of(self, rows: list[tuple]) -> list[tuple]:
        """The keys of this table among a batch of its history's records (as ``rows_of``)."""
        if self.history == "steps":
            return [(r.asset, p) for r in rows if r.status in EXECUTED for p in r.partitions]
        return [tuple(getattr(r, k) for k in self.key.split(", ")) for r in rows]


EXECUTED = ("success", "failed")  # the steps whose partitions have an attempt to keep


CURRENT = (
    Current("current_materializations", "materializations", "asset, partition_key", _MAT_COLS,
            "CREATE TABLE IF NOT EXISTS current_materializations (seq BIGINT, asset VARCHAR, "
            "partition_key VARCHAR, run_id VARCHAR, step INTEGER, created_at TIMESTAMPTZ, "
            "code_version VARCHAR, data_version VARCHAR, row_count BIGINT, kind VARCHAR, "
            "upstream VARCHAR, PRIMARY KEY (asset, partition_key))",
            f"SELECT {_MAT_COLS} FROM {{source}}"),
    # a step covers a list of partitions: one attempt per partition, executed steps only
    Current("current_attempts", "steps", "asset, partition_key", _ATTEMPT_COLS,
            "CREATE TABLE IF NOT EXISTS current_attempts (seq BIGINT, run_id VARCHAR, step "
            "INTEGER, asset VARCHAR, partition_key VARCHAR, status VARCHAR, error VARCHAR, "
            "error_kind VARCHAR, code_version VARCHAR, ended_at TIMESTAMPTZ, input_seq BIGINT, "
            "PRIMARY KEY (asset, partition_key))",
            f"SELECT {_ATTEMPT_COLS} FROM (SELECT *, unnest(partitions) AS partition_key FROM "
            "{source} WHERE status IN " + str(EXECUTED) + ")"),
    Current("current_checks", "check_results", "asset, partition_key, check_name", _CHECK_COLS,
            "CREATE TABLE IF NOT EXISTS current_checks (seq BIGINT, run_id VARCHAR, step INTEGER, "
            "asset VARCHAR, partition_key VARCHAR, check_name VARCHAR, kind VARCHAR, severity "
            "VARCHAR, passed BOOLEAN, observed VARCHAR, failing BIGINT, message VARCHAR, sample "
            "VARCHAR, created_at TIMESTAMPTZ, stage VARCHAR, "
            "PRIMARY KEY (asset, partition_key, check_name))",
            f"SELECT {_CHECK_COLS} FROM {{source}}"),
)
CURRENT_OF = {c.history: c for c in CURRENT}  # history table -> its current table
DDL += "\n".join(c.ddl + ";" for c in CURRENT) + "\n"

TABLES = ("runs", "steps", "materializations", "check_results", "backfills", "counters")
CURRENT_TABLES = tuple(c.table for c in CURRENT)  # derived from TABLES, kept on write


def highest(column: str, tables: tuple[str, ...]) -> str:
    """SQL for the highest number in ids like r00012 found in ``column`` of ``tables``."""
    union = " UNION ALL ".join(f"SELECT {column} AS id FROM {t}" for t in tables)
    return f"SELECT coalesce(max(TRY_CAST(substr(id, 2) AS BIGINT)), 0) FROM ({union})"


MIGRATIONS: dict[int, list[str]] = {  # MIGRATIONS[v] upgrades schema v to v + 1
    1: ["ALTER TABLE steps ADD COLUMN IF NOT EXISTS input_seq BIGINT"],
    2: ["CREATE TABLE IF NOT EXISTS counters (name VARCHAR PRIMARY KEY, value BIGINT)",
        f"INSERT OR REPLACE INTO counters SELECT 'r', ({highest('run_id', ('runs', 'steps', 'check_results'))})",
        f"INSERT OR REPLACE INTO counters SELECT 'b', ({highest('backfill_id', ('backfills', 'runs'))})"],
    3: [statement for c in CURRENT for statement in c.rebuild()],
    4: ["ALTER TABLE steps ADD COLUMN IF NOT EXISTS log VARCHAR"],
}


def last_ids(con) -> dict[str, int]:
    """The last run (``r``) and backfill (``b``) number ever issued: the counters, or the ids
    still recorded if higher (a catalog written before the counters), in one query."""
    counted_r, counted_b, runs, backfills = con.execute(
        "SELECT (SELECT value FROM counters WHERE name = 'r'), (SELECT value FROM counters "
        f"WHERE name = 'b'), ({highest('run_id', ('runs',))}), "
        f"({highest('backfill_id', ('backfills',))})").fetchone()
    return {"r": max(counted_r or 0, runs), "b": max(counted_b or 0, backfills)}
