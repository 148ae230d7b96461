"""Measure: Python steps under `--jobs` on threads, against worker processes.

Two functions over 8 daily partitions: a pure-Python loop (holds the GIL) and a DuckDB
aggregate over 2M rows (releases it). duck runs each with --jobs 1 and --jobs 2 (threads); the
process alternative is measured as what it would cost at best: the same pure-Python calls in a
2-process pool, plus shipping a 3,000-row Arrow table back per call. Run through the lock:

    flock /work/bench.lock nice python bench/python_jobs.py
"""

from __future__ import annotations

import pickle
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

MANIFEST = """
assets:
  - name: cpu
    partitions: {daily: {start: "2025-01-01", end: "2025-01-08", column: day}}
    materialize: {python: "pipelines/f.py:cpu"}
  - name: engine
    partitions: {daily: {start: "2025-01-01", end: "2025-01-08", column: day}}
    materialize: {python: "pipelines/f.py:engine"}
"""
CODE = """
    def spin(n=3_000_000):
        total = 0
        for i in range(n):
            total += i % 7
        return total

    def cpu(context):
        day = context.partition_time_window.start.date()
        return context.con.sql(f"SELECT DATE '{day}' AS day, {spin()} AS total")

    def engine(context):
        day = context.partition_time_window.start.date()
        [(t,)] = context.con.sql("SELECT sum(hash(range) % 7) FROM range(20_000_000)").fetchall()
        return context.con.sql(f"SELECT DATE '{day}' AS day, {t} AS total")
"""


def spin(n=3_000_000):
    total = 0
    for i in range(n):
        total += i % 7
    return total


def shipped(_):
    """A pure-Python call in a worker process, returning an Arrow table pickled back."""
    import pyarrow as pa

    spin()
    return pickle.dumps(pa.table({"i": list(range(3000))}))


def duck_seconds(duck: str, asset: str, jobs: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "p"
        (root / "pipelines").mkdir(parents=True)
        (root / "assets.yaml").write_text(MANIFEST)
        (root / "pipelines" / "f.py").write_text(textwrap.dedent(CODE))
        subprocess.run([duck, "validate", "-p", str(root)], capture_output=True, check=True)
        t0 = time.perf_counter()
        run = subprocess.run([duck, "materialize", asset, "--jobs", str(jobs), "-p", str(root)],
                             capture_output=True, text=True,
                             env={"DUCK_NOW": "2025-01-09T00:00:00+00:00", "PATH": "/usr/bin"})
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        return time.perf_counter() - t0


def main() -> None:
    duck = shutil.which("duck", path=str(Path(sys.executable).parent)) or "duck"
    for asset in ("cpu", "engine"):
        for jobs in (1, 2):
            print(f"duck threads: {asset}, 8 partitions, --jobs {jobs}: "
                  f"{duck_seconds(duck, asset, jobs):.2f} s")
    t0 = time.perf_counter()
    for _ in range(8):
        spin()
    print(f"pure-Python calls, 8 in one thread: {time.perf_counter() - t0:.2f} s")
    t0 = time.perf_counter()
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(shipped, range(8)))
    print(f"pure-Python calls, 8 in a 2-process pool (start-up, Arrow shipped back): "
          f"{time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
