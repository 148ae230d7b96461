"""Several runners on one backfill: the same `duck backfill` started by 1, 2 and 4 processes
on one PostgreSQL state and one DuckLake warehouse (catalog in the same PostgreSQL, data in a
local folder), each runner a `duck` process with one DuckDB thread (as one core of its own CI
machine would be). The backfill's SQL costs at least 50 ms of CPU a partition (calibrated on
CPU time, which the machine's load does not inflate, and reported). Target: two runners in at
most 0.65x the time of one.

Beside each, the floor: raw DuckDB running the same SQL, one statement per partition, in 1, 2
and 4 processes splitting the days (each a new Python process with one DuckDB thread, no
state, no lake). Its 2-process ratio is what the machine's free cores allow; duck's cannot be
better. The machine has 2 cores shared with other work, so 4 runners cannot beat 2 here, and
any load from others shows in the figures: CPU time and the load average are reported with
them, and the repetitions are interleaved (1, 2, 4 runners, then the floor, per repetition).

Usage: ``flock /work/bench.lock nice python bench/runners.py [--repeat 3] [--days 60]``:
writes the "Several runners" section of bench/results.md (between its markers; `bench/run.py`
keeps it). `bench/run.py --only runners` runs the same and adds its rows to its own table.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

NOW = "2027-01-01T00:00:00+00:00"
FIRST = date(2026, 1, 1)
TARGET_MS = 60  # the partition SQL's CPU cost to aim at (>= 50 ms)
START, END = "<!-- runners:start -->", "<!-- runners:end -->"

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
# 1,000 rows a day of $partition_start..$partition_end, behind a filter that hashes ``cost``
# rows per day (and keeps every row): a statement over k days costs k times one day's
SQL = ("SELECT d::DATE AS day, i AS n, hash(i, d::DATE) % 1000 AS v FROM "
       "range($partition_start::TIMESTAMP, $partition_end::TIMESTAMP, INTERVAL 1 DAY) r(d), "
       "range(1000) t(i) WHERE (SELECT count(*) FROM range({cost} * date_diff('day', "
       "$partition_start::DATE, $partition_end::DATE)) c(j) WHERE hash(j + "
       "epoch($partition_start::DATE)) % 7 = 8) = 0")

# the floor: one process's share of the days, one statement per partition, timed from start
RAW = """
import datetime, sys, duckdb
con = duckdb.connect()
con.execute("SET threads = 1")
first = datetime.date.fromisoformat(sys.argv[2])
for d in range(int(sys.argv[3]), int(sys.argv[4])):
    day = first + datetime.timedelta(days=d)
    con.execute("CREATE OR REPLACE TEMP TABLE s AS " + sys.argv[1],
                {"partition_start": day, "partition_end": day + datetime.timedelta(days=1)})
"""


def partition_ms(cost: int) -> tuple[float, float]:
    """One partition's SQL straight in DuckDB (one thread): the least CPU ms of 5, and the
    median wall ms."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads = 1")
    params = {"partition_start": FIRST, "partition_end": FIRST + timedelta(days=1)}
    cpu, wall = [], []
    for _ in range(5):
        c0, t0 = time.process_time(), time.perf_counter()
        con.execute(f"CREATE OR REPLACE TEMP TABLE s AS {SQL.format(cost=cost)}", params)
        cpu.append((time.process_time() - c0) * 1000)
        wall.append((time.perf_counter() - t0) * 1000)
    return min(cpu), statistics.median(wall)


def calibrate() -> tuple[int, float, float]:
    """A cost that makes the SQL take about TARGET_MS of CPU (and its CPU and wall ms): CPU
    time, since other processes on the cores inflate wall time several-fold."""
    cost = 1_000_000
    ms, _ = partition_ms(cost)
    cost = max(100_000, int(cost * TARGET_MS / max(ms, 1.0)))
    return (cost, *partition_ms(cost))


def new_project(work: Path, tag: str, cost: int) -> Path:
    """A new project folder with a new state and lake database."""
    import psycopg

    root = work / tag
    if root.exists():
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


def _timed(procs_of) -> tuple[float, float, list]:
    """Start the processes ``procs_of()`` returns and wait for them: wall seconds, their CPU
    seconds (user + system), and their (returncode, stdout, stderr)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    procs = procs_of()
    outs = [(p, *p.communicate()) for p in procs]
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu, [(p.returncode, out, err) for p, out, err in outs]


def run_runners(duck: str, root: Path, runners: int, days: int) -> tuple[float, float]:
    """Start ``runners`` `duck backfill` processes at once; wall seconds until all are done,
    and their CPU seconds."""
    last = FIRST + timedelta(days=days - 1)
    env = {**os.environ, "DUCK_NOW": NOW, "DUCK_LEASE_SECONDS": "30"}
    cmd = [duck, "backfill", "events", "--from", str(FIRST), "--to", str(last), "--no-progress",
           "-p", str(root)]
    seconds, cpu, outs = _timed(lambda: [
        subprocess.Popen(cmd + ["--runner", f"runner-{n}"], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True) for n in range(runners)])
    for code, out, err in outs:
        if code != 0:
            raise SystemExit(f"a runner failed ({code}): {out}\n{err}")
    return seconds, cpu


def run_raw(cost: int, processes: int, days: int) -> tuple[float, float]:
    """The floor: the same SQL, one statement per partition, the days split over
    ``processes`` new Python processes; wall seconds and their CPU seconds."""
    sql, share = SQL.format(cost=cost), -(-days // processes)
    seconds, cpu, outs = _timed(lambda: [
        subprocess.Popen([sys.executable, "-c", RAW, sql, str(FIRST), str(p * share),
                          str(min(days, (p + 1) * share))], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True) for p in range(processes)])
    for code, _out, err in outs:
        if code != 0:
            raise SystemExit(f"a raw process failed ({code}): {err}")
    return seconds, cpu


def built(tag: str) -> int:
    """Partitions recorded once each (a check that the runners shared, not repeated, work)."""
    import psycopg

    with psycopg.connect(dbname=f"state_{tag}") as con:
        counts = con.execute("SELECT count(*) FROM duck.materializations WHERE kind = "
                             "'materialization' GROUP BY partition_key").fetchall()
    if any(n != 1 for (n,) in counts):
        raise SystemExit(f"{tag}: a partition was recorded more than once")
    return len(counts)


def measure(duck: str, work: Path, days: int, repeat: int) -> dict:
    """1, 2 and 4 runners and the raw floor in 1, 2 and 4 processes, ``repeat`` times
    interleaved: per kind and count, (wall, CPU) samples; the calibration; the loads."""
    from bench.lake import start_postgres

    work.mkdir(parents=True, exist_ok=True)
    server = start_postgres(Path(tempfile.mkdtemp(prefix="duck-bench-pg-")))
    try:
        cost, cpu_ms, wall_ms = calibrate()
        out: dict = {"duck": {1: [], 2: [], 4: []}, "raw": {1: [], 2: [], 4: []},
                     "cost": cost, "cpu_ms": cpu_ms, "wall_ms": wall_ms,
                     "loads": [os.getloadavg()[0]], "days": days}
        for rep in range(repeat):
            for n in (1, 2, 4):
                tag = f"r{n}_{rep}"
                root = new_project(work, tag, cost)
                out["duck"][n].append(run_runners(duck, root, n, days))
                if built(tag) != days:
                    raise SystemExit(f"{tag}: not every partition was recorded")
                out["loads"].append(os.getloadavg()[0])
            for n in (1, 2, 4):
                out["raw"][n].append(run_raw(cost, n, days))
            out["loads"].append(os.getloadavg()[0])
    finally:
        server.cleanup()
    out["uptime"] = _uptime()
    return out


def bench(b) -> None:
    """bench/run.py's workload: 1, 2 and 4 runners on the same backfill; the ratios to one."""
    from bench.run import Row, Sample

    days = 60 if b.scale is not None and b.scale.get("backfill", (0,))[0] > 100 else 8
    m = measure(b.duck, b.work / "runners", days, b.repeat)
    samples = {n: [Sample(w, c) for w, c in m["duck"][n]] for n in (1, 2, 4)}
    name = f"shared backfill, {days} partitions of ~{m['cpu_ms']:.0f} ms CPU SQL (lake)"
    b.res.add(Row(f"{name}: 1 runner", samples[1]))
    b.res.add(Row(f"{name}: 2 runners vs 1", samples[2], samples[1], target="0.65x"))
    b.res.add(Row(f"{name}: 4 runners vs 1", samples[4], samples[1]))
    b.res.notes.append(f"runners: {_load_note(m)}")


def _med(samples: list[tuple[float, float]], i: int) -> float:
    return statistics.median(s[i] for s in samples)


def _load_note(m: dict) -> str:
    return (f"the machine's 1-minute load average during the runs went {min(m['loads']):.1f}"
            f"..{max(m['loads']):.1f} (uptime at the end: {m['uptime']})")


def section(m: dict, command: str) -> str:
    """The markdown section for bench/results.md."""
    repeat, days = len(m["duck"][1]), m["days"]
    out = [START, "## Several runners on one backfill", "",
           f"`{command}` (bench/runners.py; DuckDB 1.5.5 with the DuckLake extensions): one "
           f"`duck backfill` of {days} daily partitions started by 1, 2 and 4 `duck` processes "
           "at once on one PostgreSQL state and one DuckLake (catalog in the same embedded "
           "PostgreSQL, data in a local folder), each runner with `threads: 1`; each run on a "
           f"new state and lake; medians of {repeat}, interleaved. The partition SQL costs "
           f"{m['cpu_ms']:.0f} ms of CPU (least of 5; {m['wall_ms']:.0f} ms wall, median). "
           "Floor: the same SQL, one statement per partition, in 1, 2 and 4 raw DuckDB "
           "processes splitting the days (new Python processes, one thread each, no state, no "
           f"lake): what the cores allow. CPU = user + system of the processes (not the "
           f"PostgreSQL server's). {_load_note(m)[0].upper()}{_load_note(m)[1:]}.", "",
           "| processes | duck wall | duck CPU | duck ratio to 1 | target | floor wall | floor "
           "CPU | floor ratio to 1 | duck / floor |", "|---|---|---|---|---|---|---|---|---|"]
    d1, r1 = _med(m["duck"][1], 0), _med(m["raw"][1], 0)
    for n in (1, 2, 4):
        dw, dc, rw, rc = (_med(m["duck"][n], 0), _med(m["duck"][n], 1), _med(m["raw"][n], 0),
                          _med(m["raw"][n], 1))
        target = "-" if n != 2 else f"<= 0.65x: {'pass' if dw / d1 <= 0.65 else '**FAIL**'}"
        out.append(f"| {n} | {dw:.2f} s | {dc:.2f} s | {dw / d1:.2f}x | {target} | {rw:.2f} s "
                   f"| {rc:.2f} s | {rw / r1:.2f}x | {dw / rw:.1f}x |")
    out += ["", "Every run recorded each partition exactly once. Runs (wall s, CPU s): "
            + "; ".join(f"{k} {n}: " + ", ".join(f"{w:.1f}/{c:.1f}" for w, c in m[k][n])
                        for k in ("duck", "raw") for n in (1, 2, 4)) + "."]
    return "\n".join(out + ["", END])


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "-"


def main(argv: list[str] | None = None) -> int:
    """Measure and record the runners' section."""
    from bench import run as bench_run
    from bench.lake import record

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--work", type=Path, default=bench_run.ROOT / "bench" / "work" / "runners")
    ap.add_argument("--out", type=Path, default=bench_run.ROOT / "bench" / "results.md")
    ap.add_argument("--no-record", action="store_true", help="print, do not write results.md")
    ap.add_argument("--duck", default=None, help="the duck command (default: next to python)")
    opts = ap.parse_args(argv)
    m = measure(opts.duck or bench_run.duck_bin(), opts.work, opts.days, opts.repeat)
    command = "python bench/runners.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = section(m, command.strip())
    if not opts.no_record:
        record(opts.out, text, markers=(START, END))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
