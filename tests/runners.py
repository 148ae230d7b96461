"""A small project for the tests (and the bench) of several runners on one backfill: state in
PostgreSQL, warehouse a DuckLake (catalog in PostgreSQL, data in a local folder), and two daily
assets whose SQL makes its own rows (no source files: every runner builds the same data). The
runners are processes running the installed `duck`, as on N CI machines."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

NOW = "2026-03-01T12:00:00+00:00"
FIRST, LAST = "2026-01-01", "2026-01-20"

DUCK_YAML = """threads: 1
state: {{postgres: "dbname={state}"}}
warehouse:
  ducklake: {{catalog: "postgres:dbname={lake}", data_path: {data}}}
"""

# ``{rows}`` rows a day of $partition_start..$partition_end (a runner builds adjacent days it
# claimed in one statement, as the local backfill does); ``{cost}`` extra rows counted away per
# statement make its SQL cost time without changing what it returns.
ASSETS = """assets:
  - name: events
    kind: table
    partitions: {{daily: {{start: "{first}", column: day}}}}
    materialize:
      strategy: incremental
      sql: |
        SELECT d::DATE AS day, i AS n, hash(i, d::DATE) % 1000 AS v
        FROM range($partition_start::TIMESTAMP, $partition_end::TIMESTAMP, INTERVAL 1 DAY) r(d),
             range({rows}) t(i)
        WHERE (SELECT count(*) FROM range({cost}) c(j) WHERE hash(j) % 7 = 8) = 0
        UNION ALL SELECT DATE '{bad}', 0, 0
        WHERE DATE '{bad}' >= $partition_start AND DATE '{bad}' < $partition_end
        
    checks:
      - {{name: has_rows, row_count: {{min: 1}}}}
      - {{name: one_row_per_n, unique: [day, n]}}
  - name: daily_totals
    kind: table
    deps: [events]
    partitions: {{daily: {{start: "{first}", column: day}}}}
    materialize:
      strategy: incremental
      sql: |
        SELECT day, count(*) AS events, sum(v) AS total FROM events
        WHERE day >= $partition_start AND day < $partition_end GROUP BY day
  - name: weather
    kind: table
    materialize:
      sql: SELECT i AS station, i * 1.5 AS rain FROM range(10) t(i)
"""

# The same rows straight from DuckDB, for comparing the final tables with.
DIRECT = ("SELECT d::DATE AS day, i AS n, hash(i, d::DATE) % 1000 AS v FROM "
          "range(DATE '{first}', DATE '{last}' + 1, INTERVAL 1 DAY) r(d), range({rows}) t(i)")


def make_project(root: Path, postgres, *, rows: int = 50, cost: int = 0,
                 first: str = FIRST, bad: str = "1999-01-01") -> dict[str, str]:
    """Write the project in ``root`` (a new state and lake database each); the environment
    (libpq's variables) its runners need. On day ``bad`` events gets a duplicate row: its
    unique check fails before publish."""
    root.mkdir(parents=True, exist_ok=True)
    state, lake = postgres.create_database("state"), postgres.create_database("lake")
    (root / "duck.yaml").write_text(DUCK_YAML.format(state=state, lake=lake,
                                                      data=root / "lake-data"))
    (root / "assets.yaml").write_text(ASSETS.format(first=first, rows=rows, cost=cost, bad=bad))
    env = postgres.env(state)
    env.pop("PGDATABASE")
    return {**env, "DUCK_NOW": NOW, "STATE_DB": state, "LAKE_DB": lake}


def duck() -> str:
    """The installed `duck` beside this Python."""
    found = Path(sys.executable).with_name("duck")
    return str(found) if found.exists() else shutil.which("duck") or "duck"


def start(root: Path, env: dict[str, str], *args: str, runner: str | None = None,
          lease: float = 2.0, fault: str | None = None) -> subprocess.Popen:
    """One runner: `duck backfill` (or another command) as a process of its own."""
    extra = {"DUCK_LEASE_SECONDS": str(lease), "NO_COLOR": "1", "COLUMNS": "200"}
    if fault:
        extra["DUCK_FAULT"] = fault
    cmd = [duck(), *args, "-p", str(root)] + (["--runner", runner] if runner else [])
    return subprocess.Popen(cmd, env={**os.environ, **env, **extra}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def backfill(root: Path, env: dict[str, str], runner: str | None = None, *, first: str = FIRST,
             last: str = LAST, lease: float = 2.0, extra: tuple[str, ...] = ()
             ) -> subprocess.Popen:
    """A runner of the backfill of both assets over ``first``..``last``."""
    return start(root, env, "backfill", "events+", "--from", first, "--to", last,
                 "--no-progress", *extra, runner=runner, lease=lease)


def state_rows(env: dict[str, str], sql: str, params=None) -> list[tuple]:
    """Rows of the PostgreSQL state."""
    import psycopg

    with psycopg.connect(dbname=env["STATE_DB"], host=env["PGHOST"], port=env["PGPORT"],
                         user=env["PGUSER"], password=env["PGPASSWORD"]) as con:
        return con.execute(sql, params).fetchall()


def lake_connection(root: Path, env: dict[str, str]):
    """A consumer's DuckDB with the lake attached read-only."""
    import duckdb

    from duck_cli.state import extensions

    con = duckdb.connect()
    extensions.load(con, ("ducklake", "postgres"), root / ".duck")
    dsn = (f"host={env['PGHOST']} port={env['PGPORT']} user={env['PGUSER']} "
           f"password={env['PGPASSWORD']} dbname={env['LAKE_DB']}")
    con.execute(f"ATTACH 'ducklake:postgres:{dsn}' AS lake (READ_ONLY)")
    con.execute("USE lake")
    return con


def lake_rows(root: Path, env: dict[str, str], sql: str, params=None) -> list[tuple]:
    """Rows read from the lake as a consumer reads them."""
    con = lake_connection(root, env)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


READER = """
import json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import runners
root, env, stop, out, rows, bad = (Path(sys.argv[2]), json.loads(sys.argv[3]), Path(sys.argv[4]),
                                   Path(sys.argv[5]), int(sys.argv[6]), sys.argv[7])
con, seen, wrong, reads = None, set(), [], 0
while not stop.exists():
    try:
        con = con or runners.lake_connection(root, env)
        got = con.execute("SELECT day::VARCHAR, count(*), count(DISTINCT n) FROM events "
                          "GROUP BY ALL").fetchall()
    except Exception as err:  # the lake or its table not made yet
        con, got = None, []
        time.sleep(0.05)
        continue
    reads += 1
    for day, n, distinct in got:
        seen.add((day, n))
        if n != rows or distinct != rows or day == bad:
            wrong.append([day, n, distinct])
out.write_text(json.dumps({"reads": reads, "wrong": wrong, "seen": sorted(seen)}))
"""


def start_reader(root: Path, env: dict[str, str], stop: Path, out: Path, *, rows: int,
                 bad: str) -> subprocess.Popen:
    """A consumer process reading every partition of events until ``stop`` exists: each day
    must have all its rows or none, and the failing day none."""
    import json

    return subprocess.Popen([sys.executable, "-c", READER, str(Path(__file__).parent),
                             str(root), json.dumps(env), str(stop), str(out), str(rows), bad],
                            env={**os.environ, **env})
