"""Bench: 365 daily partitions of a Python asset returning a 3,000-row Arrow table.

duck: `duck materialize` (the installed command, a new process, fresh copy: validation, one call
per partition, stage, check, publish, record). Raw: one new Python process that imports the same
function, calls it 365 times and inserts each result into a DuckDB table (one file, one process).
Target: duck <= 1.5x raw. Run only through the shared lock:

    flock /work/bench.lock nice python bench/python_assets.py --repeat 3
"""

from __future__ import annotations

import argparse
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
  - name: scores
    partitions: {daily: {start: "2025-01-01", end: "2025-12-31", column: day}}
    materialize: {python: "pipelines/scores.py:scores"}
"""
CODE = """
    import pyarrow as pa

    ROWS = 3000

    def scores(context):
        day = context.partition_time_window.start.date()
        return pa.table({"day": pa.array([day] * ROWS, pa.date32()),
                         "i": pa.array(range(ROWS), pa.int64()),
                         "score": pa.array([i * 0.5 for i in range(ROWS)], pa.float64())})
"""
RAW = """
import sys, time
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
t0 = time.perf_counter()
import duckdb
sys.path.insert(0, {pipelines!r})
from scores import scores
con = duckdb.connect({db!r})
start = datetime(2025, 1, 1, tzinfo=timezone.utc)
for n in range(365):
    day = start + timedelta(days=n)
    window = SimpleNamespace(start=day, end=day + timedelta(days=1))
    tbl = scores(SimpleNamespace(partition_time_window=window, partition_key=day.date().isoformat()))
    if n == 0:
        con.execute("CREATE TABLE scores AS SELECT * FROM tbl")
    else:
        con.execute("INSERT INTO scores SELECT * FROM tbl")
assert con.execute("SELECT count(*) FROM scores").fetchone()[0] == 365 * 3000
"""


def project(base: Path) -> Path:
    """A fresh project with the asset."""
    root = base / "project"
    (root / "pipelines").mkdir(parents=True)
    (root / "assets.yaml").write_text(MANIFEST)
    (root / "pipelines" / "scores.py").write_text(textwrap.dedent(CODE))
    return root


def time_duck(duck: str) -> float:
    """Seconds of one `duck materialize` on a fresh copy."""
    with tempfile.TemporaryDirectory() as tmp:
        root = project(Path(tmp))
        t0 = time.perf_counter()
        run = subprocess.run([duck, "materialize", "-p", str(root), "--json"], capture_output=True,
                             text=True, env={"DUCK_NOW": "2026-01-02T00:00:00+00:00", "PATH": "/usr/bin"})
        took = time.perf_counter() - t0
        assert run.returncode == 0, run.stderr[-2000:]
        return took


def time_raw() -> float:
    """Seconds of the same calls and inserts by hand, in one new process."""
    with tempfile.TemporaryDirectory() as tmp:
        root = project(Path(tmp))
        code = RAW.format(pipelines=str(root / "pipelines"), db=str(Path(tmp) / "raw.duckdb"))
        t0 = time.perf_counter()
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        took = time.perf_counter() - t0
        assert run.returncode == 0, run.stderr[-2000:]
        return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    duck = shutil.which("duck", path=str(Path(sys.executable).parent)) or "duck"
    ducks = [time_duck(duck) for _ in range(args.repeat)]
    raws = [time_raw() for _ in range(args.repeat)]
    d, r = statistics.median(ducks), statistics.median(raws)
    verdict = "pass" if d <= 1.5 * r else "**FAIL**"
    print(f"| 365 daily partitions of a Python asset returning a 3,000-row Arrow table vs 365 calls "
          f"+ INSERT in one process | {d:.2f} s | {r:.2f} s | {d / r:.2f}x | <= 1.5x raw | {verdict} "
          f"| {args.repeat} |")
    print("duck runs:", ", ".join(f"{x:.2f}" for x in ducks), "raw runs:", ", ".join(f"{x:.2f}" for x in raws))


if __name__ == "__main__":
    main()
