"""Measure: Python steps under `--jobs`, on threads (the default) against worker processes.

Two functions over 8 daily partitions: a pure-Python loop (holds the GIL: ``cpu``) and a DuckDB
aggregate over 20M rows (releases it: ``engine``). duck runs each with --jobs 1 and --jobs 2,
once with the steps on threads (``isolation: thread``) and once in worker processes
(``isolation: process``, see duck_cli/run/python_process.py); medians of ``--repeat`` runs,
each printed with the load average (`uptime`) just before it, since the 2 cores are shared.
"CPU" is the user + system time of duck and its worker processes. Run through the lock:

    flock /work/bench.lock nice python bench/python_jobs.py --repeat 3
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
import textwrap
import time
from pathlib import Path

MANIFEST = """
assets:
  - name: cpu
    partitions: {{daily: {{start: "2025-01-01", end: "2025-01-08", column: day}}}}
    materialize: {{python: "pipelines/f.py:cpu"{extra}}}
  - name: engine
    partitions: {{daily: {{start: "2025-01-01", end: "2025-01-08", column: day}}}}
    materialize: {{python: "pipelines/f.py:engine"{extra}}}
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


def load() -> str:
    """The 1-minute load average, as `uptime` shows it."""
    return f"{os.getloadavg()[0]:.1f}"


def duck_seconds(duck: str, asset: str, jobs: int, isolation: str) -> tuple[float, float]:
    """Wall time and CPU time of one `duck materialize ASSET --jobs N` on a fresh project."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "p"
        (root / "pipelines").mkdir(parents=True)
        (root / "assets.yaml").write_text(MANIFEST.format(extra="" if isolation == "thread" else f", isolation: {isolation}"))
        (root / "pipelines" / "f.py").write_text(textwrap.dedent(CODE))
        subprocess.run([duck, "validate", "-p", str(root)], capture_output=True, check=True)
        env = {"DUCK_NOW": "2025-01-09T00:00:00+00:00", "PATH": "/usr/bin",
               **{k: os.environ[k] for k in ("PYTHONPATH",) if k in os.environ}}
        cpu0, t0 = _children_cpu(), time.perf_counter()
        run = subprocess.run([duck, "materialize", asset, "--jobs", str(jobs), "-p", str(root)],
                             capture_output=True, text=True, env=env)
        seconds, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        return seconds, cpu


def _children_cpu() -> float:
    """User + system seconds of the finished child processes (duck and its workers)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--isolation", default="thread,process")
    args = parser.parse_args()
    duck = shutil.which("duck", path=str(Path(sys.executable).parent)) or "duck"
    for asset in ("cpu", "engine"):
        for isolation in args.isolation.split(","):
            for jobs in (1, 2):
                runs = []
                for _ in range(args.repeat):
                    before = load()
                    runs.append((*duck_seconds(duck, asset, jobs, isolation), before))
                median = statistics.median(s for s, _c, _l in runs)
                cpu = statistics.median(c for _s, c, _l in runs)
                each = ", ".join(f"{s:.2f} s (load {ld})" for s, _c, ld in runs)
                print(f"{asset:6} {isolation:7} --jobs {jobs}: median {median:.2f} s, CPU "
                      f"{cpu:.2f} s  [{each}]", flush=True)


if __name__ == "__main__":
    main()
