"""Several runners on one backfill: the same `duck backfill` started by 1, 2 and 4 processes
on one PostgreSQL state and one DuckLake warehouse (catalog in the same PostgreSQL, data in a
local folder), each runner a `duck` process with one DuckDB thread (as one core of its own CI
machine would be). The backfill's SQL costs at least 50 ms a partition (measured here, straight
in DuckDB, and reported). Target: two runners in at most 0.65x the time of one.

The machine has 2 cores shared with other work, so 4 runners cannot beat 2 here, and any
load from others shows in the figures: the load average is reported with them.

Run through bench/run.py: ``flock /work/bench.lock nice python bench/run.py --only runners``.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

NOW = "2027-01-01T00:00:00+00:00"
FIRST = date(2026, 1, 1)
TARGET_MS = 60  # the partition SQL's cost to aim at (>= 50 ms)

DUCK_YAML = """threads: 1
state: {{postgres: "dbname={state}"}}
warehouse:
  ducklake: {{catalog: "postgres:dbname={lake}", data_path: {data}}}
"""
ASSET = """assets:
  - name: events
    kind: table
    partitions: {{daily: {{start: "{first}", column: day}}}}
    materialize:
      strategy: incremental
      sql: |
        {sql}
    checks:
      - {{name: one_row_per_n, unique: [day, n]}}
"""
# the day's rows, behind a filter that costs ``cost`` hashed rows and keeps every row
SQL = ("SELECT $partition_start::DATE AS day, i AS n, hash(i, $partition_start::DATE) % 1000 "
       "AS v FROM range(1000) t(i) WHERE (SELECT count(*) FROM range({cost}) c(j) WHERE "
       "hash(j + epoch($partition_start::DATE)) % 7 = 8) = 0")


def partition_ms(cost: int) -> float:
    """The partition SQL's median time straight in DuckDB (one thread), in ms."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads = 1")
    sql = SQL.format(cost=cost).replace("$partition_start", "DATE '2026-01-01'")
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        con.execute(f"SELECT count(*) FROM ({sql})").fetchall()
        times.append((time.perf_counter() - t0) * 1000)
    return sorted(times)[2]


def calibrate() -> tuple[int, float]:
    """A cost that makes the SQL take about TARGET_MS (and what it takes)."""
    cost = 1_000_000
    ms = partition_ms(cost)
    cost = max(100_000, int(cost * TARGET_MS / max(ms, 1.0)))
    return cost, partition_ms(cost)


def new_project(work: Path, tag: str, cost: int) -> Path:
    """A new project folder with a new state and lake database."""
    import psycopg

    root = work / tag
    if root.exists():
        import shutil

        shutil.rmtree(root)
    root.mkdir(parents=True)
    with psycopg.connect(dbname="postgres", autocommit=True) as con:
        for db in (f"state_{tag}", f"lake_{tag}"):
            con.execute(f'DROP DATABASE IF EXISTS "{db}"')
            con.execute(f'CREATE DATABASE "{db}"')
    (root / "duck.yaml").write_text(DUCK_YAML.format(state=f"state_{tag}", lake=f"lake_{tag}",
                                                      data=root / "lake-data"))
    (root / "events.yaml").write_text(ASSET.format(first=FIRST, sql=SQL.format(cost=cost)))
    return root


def run_runners(duck: str, root: Path, runners: int, days: int) -> float:
    """Start ``runners`` `duck backfill` processes at once; wall seconds until all are done."""
    last = FIRST + timedelta(days=days - 1)
    env = {**os.environ, "DUCK_NOW": NOW, "DUCK_LEASE_SECONDS": "30"}
    cmd = [duck, "backfill", "events", "--from", str(FIRST), "--to", str(last), "--no-progress",
           "-p", str(root)]
    t0 = time.perf_counter()
    procs = [subprocess.Popen(cmd + ["--runner", f"runner-{n}"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for n in range(runners)]
    outs = [p.communicate() for p in procs]
    seconds = time.perf_counter() - t0
    for p, (out, err) in zip(procs, outs):
        if p.returncode != 0:
            raise SystemExit(f"a runner failed ({p.returncode}): {out}\n{err}")
    return seconds


def built(root: Path, tag: str) -> int:
    """Partitions recorded once each (a check that the runners shared, not repeated, work)."""
    import psycopg

    with psycopg.connect(dbname=f"state_{tag}") as con:
        counts = con.execute("SELECT count(*) FROM duck.materializations WHERE kind = "
                             "'materialization' GROUP BY partition_key").fetchall()
    if any(n != 1 for (n,) in counts):
        raise SystemExit(f"{tag}: a partition was recorded more than once")
    return len(counts)


def bench(b) -> None:
    """1, 2 and 4 runners on the same backfill; the ratios to one runner."""
    from bench.lake import start_postgres
    from bench.run import Row, Sample

    days = 60 if b.scale is not None and b.scale.get("backfill", (0,))[0] > 100 else 8
    work = b.work / "runners"
    work.mkdir(parents=True, exist_ok=True)
    server = start_postgres(Path(tempfile.mkdtemp(prefix="duck-bench-pg-")))
    try:
        cost, ms = calibrate()
        samples: dict[int, list] = {1: [], 2: [], 4: []}
        loads = [os.getloadavg()[0]]
        for rep in b.reps():
            for n in (1, 2, 4):
                tag = f"r{n}_{rep}"
                root = new_project(work, tag, cost)
                seconds = run_runners(b.duck, root, n, days)
                assert built(root, tag) == days
                samples[n].append(Sample(seconds, 0.0))
                loads.append(os.getloadavg()[0])
    finally:
        server.cleanup()
    name = f"shared backfill, {days} partitions of ~{ms:.0f} ms SQL (lake)"
    b.res.add(Row(f"{name}: 1 runner", samples[1]))
    b.res.add(Row(f"{name}: 2 runners vs 1", samples[2], samples[1], target="0.65x"))
    b.res.add(Row(f"{name}: 4 runners vs 1", samples[4], samples[1]))
    b.res.notes.append(
        f"runners: the partition SQL costs {ms:.0f} ms straight in DuckDB (one thread); each "
        f"runner is a `duck` process with threads: 1; the machine's load average during the "
        f"runs went {min(loads):.1f}..{max(loads):.1f} (uptime: {_uptime()}).")


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "-"
