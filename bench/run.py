"""Time duck against raw DuckDB running the same SQL, and write bench/results.md.

duck runs as a user runs it: the installed ``duck`` command in a subprocess (its peak memory from
``os.wait4``). Raw DuckDB runs the same statements in this Python process, on a copy of the same
warehouse file, in the same run. Every figure is the median of ``--repeat`` runs.

Usage: ``python bench/run.py [--scale small|default] [--repeat 3] [--only dag,backfill,...]``
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Callable

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import generate as gen  # noqa: E402
from bench import raw  # noqa: E402
from bench import health  # noqa: E402
from bench import sources  # noqa: E402
from bench import check_scope  # noqa: E402
from bench import envs  # noqa: E402
from bench import runners  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "manifests"
EXAMPLE_NOW = "2026-03-15T07:30:00+01:00"  # every example partition exists and is due

SCALES = {
    "default": {"dag": (200, 10, 1_000_000), "backfill": (365, 1_000_000),
                "wide": (100, 1_000, 10_000), "partitions": (1_000, 10_000, 100_000),
                "sources": ((30, 365), 1_000_000 // 365),
                "states": (100, 2_000, 10_000), "history": (100_000, 10),
                "fixed_backfill": (1_000_000,)},
    "small": {"dag": (12, 3, 10_000), "backfill": (10, 10_000),
              "wide": (20, 50, 100), "partitions": (48, 240, 1_000),
              "sources": ((5, 30), 100), "states": (20, 50), "history": (200, 10),
              "fixed_backfill": (10_000, 50_000)},
}
# the sizes that take minutes: W5 at 3,650 files (10,000,000 rows) and W3 at 10,000,000 rows
SCALES["big"] = SCALES["default"] | {"sources": ((30, 365, 3_650), 1_000_000 // 365),
                                     "fixed_backfill": (1_000_000, 10_000_000)}
WARM = " (manifests validated before)"  # the same, after an untimed `duck validate`
WORKLOADS = ("startup", "dag", "backfill", "wide", "partitions", "report", "sources", "states",
             "partition_states", "history", "fixed", "fixed_backfill", "validate", "check_scope",
             "envs", "runners")


# -- measuring ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One timed run: wall seconds, CPU seconds (user + system) and peak RSS in MB."""

    seconds: float
    cpu: float
    rss_mb: float | None = None


def duck_bin() -> str:
    """The installed `duck` command: next to this Python, else on PATH."""
    here = Path(sys.executable).parent / "duck"
    found = str(here) if here.exists() else shutil.which("duck")
    if not found:
        raise SystemExit("no `duck` command found: pip install -e . first")
    return found


def run_duck(args: list[str], root: Path | None, *, now: str = gen.NOW, duck: str | None = None,
             ok: tuple[int, ...] = (0,)) -> Sample:
    """Run `duck ARGS -p ROOT` as a user would; wall time, CPU time and peak RSS of that process.

    Peak RSS comes from /usr/bin/time when present: a child forked straight from this process
    would report this (larger) process's memory as its own peak.
    """
    cmd = [duck or duck_bin(), *args] + (["-p", str(root)] if root is not None else [])
    env = {**os.environ, "DUCK_NOW": now, "NO_COLOR": "1"}
    env.pop("DUCK_PROJECT", None)
    return _timed(cmd, env, _log_path(root), ok)


def _timed(cmd: list[str], env: dict, log: Path, ok: tuple[int, ...] = (0,)) -> Sample:
    """Run a command; its wall time, CPU time and peak RSS (stdout to ``log``)."""
    stats, errors = log.with_suffix(".time"), log.with_suffix(".err")
    wrap = [TIME, "-f", "%M %U %S", "-o", str(stats)] if TIME else []
    with open(log, "wb") as out, open(errors, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(wrap + cmd, stdout=out, stderr=err, env=env)
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in ok:
        tail = (log.read_text(errors="replace") + errors.read_text(errors="replace"))[-2000:]
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{tail}")
    if TIME:
        rss_kb, user, system = stats.read_text().split()[-3:]
        return Sample(seconds, float(user) + float(system), int(rss_kb) / 1024)
    return Sample(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def _log_path(root: Path | None) -> Path:
    """Where a command's stdout goes (stderr beside it, as .err): next to its project."""
    folder = (root.parent if root is not None else ROOT / "bench" / "work")
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "duck-last.log"


def time_raw(fn: Callable[[], None]) -> Sample:
    """Time a function running DuckDB in this process (wall and CPU of all its threads)."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    fn()
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Sample(seconds, cpu)


def fresh_copy(src: Path, dest: Path) -> Path:
    """A private copy of a generated project (or warehouse file), replacing what was there."""
    if dest.is_dir():
        shutil.rmtree(dest)
    elif dest.exists():
        dest.unlink()
    if src.is_dir():
        shutil.copytree(src, dest)
    else:
        shutil.copyfile(src, dest)
    return dest


# -- raw DuckDB: the same statements, in one process ---------------------------------------


Stmt = tuple[str, "dict | list | None"]  # one statement and its parameters


def _params(sql: str, params: dict) -> dict:
    """Only the $parameters the SQL names (DuckDB refuses extra ones)."""
    return {k: v for k, v in params.items() if f"${k}" in sql}


def dag_statements(w: gen.Workload) -> list[Stmt]:
    """CREATE TABLE AS for every asset, in build order."""
    return [(f"CREATE TABLE {a.name} AS {a.sql}", None) for a in w.assets]


def _day_params(first: date, days: int) -> dict:
    from datetime import timedelta

    return {"partition_start": first, "partition_end": first + timedelta(days=days)}


def _create_empty(a: gen.AssetSpec, params: dict) -> Stmt:
    return (f"CREATE TABLE {a.name} AS SELECT * FROM ({a.sql}) LIMIT 0", _params(a.sql, params))


def backfill_each_statements(w: gen.Workload) -> list[Stmt]:
    """One transaction per day: DELETE the day's slice, INSERT the asset's SQL for that day."""
    from datetime import timedelta

    a, first = w.assets[0], date.fromisoformat(w.first_key)
    out = [_create_empty(a, _day_params(first, 1))]
    for d in range(w.partitions):
        out += _replace_slice(a, _day_params(first + timedelta(days=d), 1))
    return out


def _replace_slice(a, p: dict) -> list[Stmt]:
    """DELETE the days in ``p`` and INSERT the asset's SQL for them, in one transaction."""
    return [("BEGIN TRANSACTION", None),
            (f"DELETE FROM {a.name} WHERE day >= ? AND day < ?",
             [p["partition_start"], p["partition_end"]]),
            (f"INSERT INTO {a.name} {a.sql}", _params(a.sql, p)),
            ("COMMIT", None)]


def backfill_set_statements(w: gen.Workload) -> list[Stmt]:
    """One set-based DELETE + INSERT over the whole range, in one transaction."""
    a, first = w.assets[0], date.fromisoformat(w.first_key)
    p = _day_params(first, w.partitions)
    return [_create_empty(a, p)] + _replace_slice(a, p)


def many_partitions_statements(w: gen.Workload) -> list[Stmt]:
    """The hourly asset over its whole range as one CREATE TABLE AS (for the smoke test)."""
    from datetime import timedelta

    a, first = w.assets[0], datetime.fromisoformat(w.first_key + ":00")
    p = {"partition_start": first, "partition_end": first + timedelta(hours=w.partitions)}
    return [(f"CREATE TABLE {a.name} AS {a.sql}", _params(a.sql, p))]


def raw_dag(w: gen.Workload, db: Path) -> None:
    raw.execute(db, dag_statements(w))


def raw_backfill_each(w: gen.Workload, db: Path) -> None:
    raw.execute(db, backfill_each_statements(w))


def raw_backfill_set(w: gen.Workload, db: Path) -> None:
    raw.execute(db, backfill_set_statements(w))


def raw_many_partitions(w: gen.Workload, db: Path) -> None:
    raw.execute(db, many_partitions_statements(w))


def time_raw_process(statements: list[Stmt], db: Path, spec: Path) -> Sample:
    """Run the statements with `python bench/raw.py` in a new process, timed like duck."""
    raw.write(spec, db, statements)
    return _timed([sys.executable, str(Path(raw.__file__)), str(spec)], dict(os.environ),
                  spec.with_suffix(".log"))


def compare_tables(duck_db: Path, raw_db: Path, tables: list[str]) -> list[str]:
    """Differences between the same tables in two warehouse files (columns, types, rows)."""
    import duckdb

    con = duckdb.connect()
    problems = []
    try:
        con.execute(f"ATTACH '{duck_db}' AS d (READ_ONLY)")
        con.execute(f"ATTACH '{raw_db}' AS r (READ_ONLY)")
        for t in tables:
            problems += _compare_one(con, t)
    finally:
        con.close()
    return problems


def _compare_one(con, table: str) -> list[str]:
    cols = [con.execute(f"SELECT column_name, data_type FROM information_schema.columns WHERE "
                        f"table_catalog = '{db}' AND table_name = ? ORDER BY ordinal_position",
                        [table]).fetchall() for db in ("d", "r")]
    if not cols[0] or cols[0] != cols[1]:
        return [f"{table}: columns differ: duck {cols[0]} raw {cols[1]}"]
    diff = con.execute(f"SELECT (SELECT count(*) FROM d.{table}), (SELECT count(*) FROM r.{table}),"
                       f" (SELECT count(*) FROM (SELECT * FROM d.{table} EXCEPT ALL "
                       f"SELECT * FROM r.{table})), (SELECT count(*) FROM (SELECT * FROM "
                       f"r.{table} EXCEPT ALL SELECT * FROM d.{table}))").fetchone()
    if diff[0] != diff[1] or diff[2] or diff[3]:
        return [f"{table}: {diff[0]} rows from duck, {diff[1]} raw, {diff[2]} only in duck, "
                f"{diff[3]} only in raw"]
    return []


# -- results ------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the results table: a workload, its samples and its target."""

    name: str
    duck: list[Sample]
    raw: list[Sample] | None = None  # the statements in a new Python process (the baseline)
    target: str = ""  # "1.2x", "0.5s", "300MB" or "" (informational)
    metric: str = "seconds"  # seconds | rss
    sql_only: list[Sample] | None = None  # the same statements inside the bench's process

    def sql_ratio(self) -> float | None:
        """duck's median wall time over the SQL alone (no interpreter, import or open)."""
        raw = statistics.median(s.seconds for s in self.sql_only) if self.sql_only else None
        return self.duck_median() / raw if raw else None

    def duck_median(self) -> float:
        """duck's median seconds (or, for a memory row, its peak MB)."""
        if self.metric == "rss":  # the peak over every run
            return max(s.rss_mb or 0.0 for s in self.duck)
        return statistics.median(s.seconds for s in self.duck)

    def raw_median(self) -> float | None:
        """Raw DuckDB's median seconds, if the row has a raw side."""
        return statistics.median(s.seconds for s in self.raw) if self.raw else None

    def cpu_median(self) -> float:
        """duck's median CPU seconds."""
        return statistics.median(s.cpu for s in self.duck)

    def cpu_ratio(self) -> float | None:
        """duck's median CPU seconds over raw DuckDB's."""
        raw = statistics.median(s.cpu for s in self.raw) if self.raw else None
        return self.cpu_median() / raw if raw else None

    def ratio(self) -> float | None:
        """duck's median wall time over raw DuckDB's."""
        raw = self.raw_median()
        return self.duck_median() / raw if raw else None

    def passed(self) -> bool | None:
        """Whether the row meets its target (None: no target)."""
        if not self.target:
            return None
        limit = float(self.target.lstrip("+").rstrip("xsMB"))
        if self.target.startswith("+"):  # at most this much more than raw
            raw = self.raw_median()
            return raw is not None and self.duck_median() - raw <= limit
        value = self.ratio() if self.target.endswith("x") else self.duck_median()
        return value is not None and value <= limit


@dataclass
class Results:
    """Everything one bench run measured."""

    scale: str
    repeat: int
    budget: float = 30.0
    rows: list[Row] = field(default_factory=list)
    growth: dict[str, list[dict]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    load: list[float] = field(default_factory=list)

    def add(self, row: Row) -> Row:
        """Record a row and print it as progress."""
        self.rows.append(row)
        print(f"  {row.name}: {_fmt_row(row)[1]} (raw {_fmt_row(row)[2]})", flush=True)
        return row


def _secs(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v * 1000:.0f} ms" if v < 1 else f"{v:.2f} s"


def _fmt_row(r: Row) -> list[str]:
    duck = f"{r.duck_median():.0f} MB" if r.metric == "rss" else _secs(r.duck_median())
    cpu = "-" if r.metric == "rss" else _secs(r.cpu_median())
    ratio = f"{r.ratio():.2f}x" if r.ratio() is not None else "-"
    target = {"x": "<= {}x raw", "s": "<= {} s", "B": "<= {} MB"}[r.target[-1]].format(
        r.target.rstrip("xsMB")) if r.target else "-"
    if r.target.startswith("+"):
        target = f"<= raw + {r.target[1:].rstrip('s')} s"
    verdict = {True: "pass", False: "**FAIL**", None: "-"}[r.passed()]
    cpu_ratio = f"{r.cpu_ratio():.2f}x" if r.cpu_ratio() is not None else "-"
    sql = _secs(statistics.median(s.seconds for s in r.sql_only)) if r.sql_only else "-"
    sql_ratio = f"{r.sql_ratio():.2f}x" if r.sql_ratio() is not None else "-"
    return [r.name, duck, _secs(r.raw_median()), ratio, target, verdict, cpu, cpu_ratio,
            sql, sql_ratio, str(len(r.duck))]


def machine() -> list[str]:
    """CPU model, cores, RAM, Python and DuckDB versions, date."""
    import duckdb

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return [f"CPU: {cpu}", f"cores: {os.cpu_count()}", f"RAM: {ram:.1f} GiB",
            f"Python: {platform.python_version()}", f"DuckDB: {duckdb.__version__}",
            f"OS: {platform.system()} {platform.release()}",
            f"date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"]


def write_markdown(res: Results, path: Path) -> None:
    """bench/results.md: the targets table, the growth curve, the machine."""
    path.write_text("\n".join(["# duck benchmark results", ""] + _body(res) + _kept_sections(path))
                    + "\n")


def write_section(res: Results, path: Path, only: list[str]) -> None:
    """A run of some workloads (``--only``) as its own section of the results file, between
    markers: replaces the section of an earlier run of the same workloads, keeps every other
    section of the file as it was (a partial run never wipes the others' figures)."""
    name = ",".join(only)
    start, end = f"<!-- only:{name}:start -->", f"<!-- only:{name}:end -->"
    body = [f"## `bench/run.py --only {name}`", ""] + [
        "#" + line if line.startswith("## ") else line for line in _body(res)]
    section = "\n".join([start] + body + [end])
    old = path.read_text() if path.exists() else "# duck benchmark results\n"
    if start in old and end in old:
        new = old[:old.index(start)] + section + old[old.index(end) + len(end):]
    else:
        new = old.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(new)


def _body(res: Results) -> list[str]:
    """The targets table, the growth curves, the machine and the notes of one run."""
    head = ["workload", "duck median", "raw median", "ratio", "target", "result", "duck CPU",
            "CPU ratio", "raw SQL only", "ratio to SQL only", "runs"]
    lines = [f"`python bench/run.py --scale {res.scale} --repeat {res.repeat}`: medians of "
             f"{res.repeat} runs (scale figures stop repeating after {res.budget:.0f} s; see "
             "\"runs\"); peak memory is the maximum over the runs. duck is the installed `duck` "
             "command in a subprocess; raw is the same SQL run by hand: `python bench/raw.py`, "
             "one new Python process that imports duckdb, opens a copy of the same warehouse "
             "file and executes the statements, timed the same way (the targets are judged "
             "against it). \"raw SQL only\" is the same statements inside the bench's own "
             "process, already started and with duckdb imported: the floor no command-line "
             "tool can reach, since a new process and `import duckdb` alone take about 0.13 s "
             "here. \"duck CPU\" is the user + system time of the duck process, \"CPU ratio\" "
             "the same against the raw process's: less disturbed than wall time when other "
             "processes share the cores. Rows marked \"(manifests validated before)\" ran "
             "after an untimed `duck validate` on the same copy (as after `duck plan` in the "
             "same CI job); the others start from a fresh copy, so they include validating "
             "every manifest from scratch (YAML, JSON Schema, DuckDB's parser on every SQL).",
             "",
             _table(head, [_fmt_row(r) for r in res.rows]), ""]
    if res.growth:
        lines += ["## Growth", "", "Median wall time of one command (warm validation cache), "
                  "and per 1,000 assets or partitions; \"cold plan\" is the first command after "
                  "the manifests changed (full validation); \"build\" is what filled the catalog.",
                  ""]
        for rows in res.growth.values():
            lines += [_table(list(rows[0]), [list(g.values()) for g in rows]), ""]
    lines += ["## Machine", ""] + [f"- {m}" for m in machine()]
    if res.load:
        lines.append(f"- load average (1 min) at start and end: {res.load[0]:.2f}, "
                     f"{res.load[-1]:.2f} (other processes shared the cores)")
    if res.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in res.notes]
    return lines


def _kept_sections(path: Path) -> list[str]:
    """Sections written apart into the results (bench/lake.py's, the runners'), kept."""
    old = path.read_text() if path.exists() else ""
    kept = []
    for name in ("lake", "runners"):
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        if start in old and end in old:
            kept += ["", old[old.index(start):old.index(end) + len(end)]]
    return kept


def _table(head: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(out + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows])


# -- workloads -----------------------------------------------------------------------------


@dataclass
class Bench:
    """The settings of one bench run."""

    work: Path
    scale: dict
    repeat: int
    duck: str
    res: Results
    budget: float = 30.0  # seconds of duck time per scale figure before repeating stops
    full_build: int = 10_000  # wide projects larger than this are published by populate.py

    def reps(self) -> range:
        """One index per repetition."""
        return range(self.repeat)

    def timed(self, args: list[str], root: Path) -> list[Sample]:
        """Up to ``repeat`` runs of one command, fewer once they took ``budget`` seconds."""
        out: list[Sample] = []
        while len(out) < self.repeat and sum(s.seconds for s in out) < self.budget:
            out.append(run_duck(args, root, duck=self.duck))
        return out


def bench_startup(b: Bench) -> None:
    """`duck --help`, and `duck status` on the example project after one materialize."""
    helps = [run_duck(["--help"], None, duck=b.duck) for _ in range(max(b.repeat, 5))]
    b.res.add(Row("start-up: `duck --help`", helps, target="0.15s"))
    proj = fresh_copy(EXAMPLE, b.work / "example")
    shutil.rmtree(proj / ".duck", ignore_errors=True)
    run_duck(["materialize"], proj, now=EXAMPLE_NOW, duck=b.duck)
    status = [run_duck(["status"], proj, now=EXAMPLE_NOW, duck=b.duck, ok=(0, 3))
              for _ in range(max(b.repeat, 5))]
    b.res.add(Row("start-up: `duck status` on examples/manifests", status, target="0.3s"))


def bench_dag(b: Bench) -> None:
    """Full build of the DAG from an empty warehouse, then the no-op plan and materialize."""
    assets, layers, rows = b.scale["dag"]
    w = gen.dag(b.work / "dag" / "pristine", assets, layers, rows)
    duck_runs, warm_runs, raw_runs, sql_runs = [], [], [], []
    for _ in b.reps():
        proj = fresh_copy(w.root, b.work / "dag" / "duck")
        run_duck(["validate"], proj, duck=b.duck)  # untimed: the manifests' cache is warm
        warm_runs.append(run_duck(["materialize"], proj, duck=b.duck))
        proj = fresh_copy(w.root, b.work / "dag" / "duck")
        duck_runs.append(run_duck(["materialize"], proj, duck=b.duck))
        raw_db = fresh_copy(w.warehouse, b.work / "dag" / "raw.duckdb")
        raw_runs.append(time_raw_process(dag_statements(w), raw_db, b.work / "dag" / "raw.json"))
        raw_db = fresh_copy(w.warehouse, b.work / "dag" / "raw.duckdb")
        sql_runs.append(time_raw(lambda: raw_dag(w, raw_db)))
    _same(b, "dag", proj / gen.WAREHOUSE, raw_db, w.tables)
    name = f"full build: {assets}-asset, {layers}-layer DAG over {rows:,} rows"
    b.res.add(Row(name, duck_runs, raw_runs, target="1.2x", sql_only=sql_runs))
    b.res.add(Row(name + WARM, warm_runs, raw_runs, target="1.2x", sql_only=sql_runs))
    plans = [run_duck(["plan"], proj, duck=b.duck) for _ in b.reps()]
    b.res.add(Row("no-op `duck plan` (DAG, nothing changed)", plans, target="0.5s"))
    mats = [run_duck(["materialize"], proj, duck=b.duck) for _ in b.reps()]
    b.res.add(Row("no-op `duck materialize` (DAG, nothing changed)", mats, target="0.5s"))


def bench_backfill(b: Bench) -> None:
    """The daily backfill, one partition per step and batched, against raw DuckDB."""
    days, rows = b.scale["backfill"]
    w = gen.backfill(b.work / "backfill" / "pristine", days, rows)
    base = ["backfill", "daily_cat", "--from", w.first_key, "--to", w.last_key]
    variants = [(["--batch-size", "1"], backfill_each_statements(w),
                 f"backfill {days} partitions, `--batch-size 1` vs {days} DELETE+INSERT"),
                ([], backfill_set_statements(w),
                 f"backfill {days} partitions, default batch (31) vs one set-based INSERT")]
    for extra, statements, name in variants:
        duck_runs, warm_runs, raw_runs, sql_runs = [], [], [], []
        for _ in b.reps():
            proj = fresh_copy(w.root, b.work / "backfill" / "duck")
            run_duck(["validate"], proj, duck=b.duck)
            warm_runs.append(run_duck(base + extra, proj, duck=b.duck))
            proj = fresh_copy(w.root, b.work / "backfill" / "duck")
            duck_runs.append(run_duck(base + extra, proj, duck=b.duck))
            raw_db = fresh_copy(w.warehouse, b.work / "backfill" / "raw.duckdb")
            raw_runs.append(time_raw_process(statements, raw_db,
                                             b.work / "backfill" / "raw.json"))
            raw_db = fresh_copy(w.warehouse, b.work / "backfill" / "raw.duckdb")
            sql_runs.append(time_raw(lambda: raw.execute(raw_db, statements)))
        _same(b, name.split(",")[1].strip(), proj / gen.WAREHOUSE, raw_db, w.tables)
        b.res.add(Row(name, duck_runs, raw_runs, target="1.5x", sql_only=sql_runs))
        b.res.add(Row(name + WARM, warm_runs, raw_runs, target="1.5x", sql_only=sql_runs))


def _same(b: Bench, what: str, duck_db: Path, raw_db: Path, tables: list[str]) -> None:
    problems = compare_tables(duck_db, raw_db, tables)
    if problems:
        raise RuntimeError(f"{what}: duck and raw DuckDB built different tables:\n"
                           + "\n".join(problems[:10]))
    b.res.notes.append(f"{what}: duck and raw DuckDB built the same {len(tables)} table(s) "
                       "(columns, types and rows compared).")


def bench_scale(b: Bench, kind: str) -> None:
    """plan and status at each size: the growth curve; the largest size against the targets."""
    sizes = b.scale["wide" if kind == "wide" else "partitions"]
    unit = "assets" if kind == "wide" else "partitions"
    for n in sizes:
        root = b.work / kind / f"n{n}"
        build = _build_scaled(b, kind, root, n)
        shutil.rmtree(root / ".duck" / "cache", ignore_errors=True)
        cold = run_duck(["plan"], root, duck=b.duck)
        plans, status = b.timed(["plan"], root), b.timed(["status"], root)
        label = f"{n:,} {unit}" if kind == "wide" else f"1 asset, {n:,} partitions"
        p, s = Row("", plans), Row("", status)
        b.res.growth.setdefault(kind, []).append({
            unit: f"{n:,}", "plan": _secs(p.duck_median()),
            f"plan per 1k {unit}": _secs(p.duck_median() / n * 1000),
            "status": _secs(s.duck_median()),
            f"status per 1k {unit}": _secs(s.duck_median() / n * 1000),
            "peak MB plan / status": f"{max(x.rss_mb for x in plans):.0f} / "
                                     f"{max(x.rss_mb for x in status):.0f}",
            "cold plan": _secs(cold.seconds), "build": build})
        print(f"  {label}: plan {_secs(p.duck_median())}, status {_secs(s.duck_median())}, "
              f"build {build}", flush=True)
    for cmd, samples in (("plan", plans), ("status", status)):
        b.res.add(Row(f"scale: `duck {cmd}` on {label}", samples, target="1s"))
    for cmd, samples in (("plan", plans), ("status", status)):
        b.res.add(Row(f"peak memory: `duck {cmd}` on {label}", samples, target="300MB",
                      metric="rss"))


def bench_report(b: Bench) -> None:
    """`duck report --html` on the largest wide project: a page per asset, search over all."""
    n = b.scale["wide"][-1]
    root = b.work / "report" / f"n{n}"
    build = _build_scaled(b, "wide", root, n)
    site = root / "site"
    samples = []
    for _ in b.reps():
        shutil.rmtree(site, ignore_errors=True)
        samples.append(run_duck(["report", "--html", str(site)], root, duck=b.duck))
        if sum(s.seconds for s in samples) >= b.budget:
            break
    pages = sum(1 for _ in site.rglob("*.html"))
    print(f"  report on {n:,} assets: {_secs(Row('', samples).duck_median())} "
          f"({pages:,} pages; build {build})", flush=True)
    b.res.add(Row(f"report: `duck report --html` on {n:,} assets ({pages:,} pages)", samples))
    b.res.add(Row(f"peak memory: `duck report --html` on {n:,} assets", samples, metric="rss"))


def _build_scaled(b: Bench, kind: str, root: Path, n: int) -> str:
    """Generate and build one size; return how long the build took, for the growth table."""
    if kind != "wide":
        gen.many_partitions(root, n)
        return _secs(run_duck(["materialize"], root, duck=b.duck).seconds)
    gen.wide(root, n)
    if n <= b.full_build:
        return _secs(run_duck(["materialize"], root, duck=b.duck).seconds)
    from bench.populate import publish_all

    t0 = time.perf_counter()
    publish_all(root, gen.NOW)
    run_duck(["materialize"], root, duck=b.duck)  # records the ledger in the catalog
    b.res.notes.append(
        f"wide {n:,}: published by bench/populate.py (raw CREATE TABLEs plus duck's own ledger "
        "rows, recorded in the catalog by the next `duck materialize`), not by a full `duck "
        f"materialize` (--full-build {n} to time that).")
    return f"{_secs(time.perf_counter() - t0)} (populate)"


def main(argv: list[str] | None = None) -> int:
    """Run the selected workloads and write the results file."""
    ap = argparse.ArgumentParser(description="Time duck against raw DuckDB; write results.md.")
    ap.add_argument("--scale", choices=sorted(SCALES), default="default")
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    ap.add_argument("--only", default=",".join(WORKLOADS),
                    help=f"comma-separated workloads: {', '.join(WORKLOADS)}")
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "work",
                    help="where generated projects go (deleted and recreated)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results.md",
                    help="the results file; with --only, the run's section of it is replaced "
                         "(or added) and the rest kept")
    ap.add_argument("--duck", default=None, help="the duck command (default: next to python)")
    ap.add_argument("--budget", type=float, default=30.0,
                    help="stop repeating a scale figure after this many seconds of duck time")
    ap.add_argument("--full-build", type=int, default=10_000, metavar="N",
                    help="build wide projects up to N assets with `duck materialize`; larger "
                         "ones are published by bench/populate.py")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    args = ap.parse_args(argv)
    only = [w.strip() for w in args.only.split(",") if w.strip()]
    unknown = set(only) - set(WORKLOADS)
    if unknown:
        ap.error(f"unknown workload(s): {', '.join(sorted(unknown))}")
    res = Results(args.scale, args.repeat, args.budget, load=[os.getloadavg()[0]])
    b = Bench(args.work, SCALES[args.scale], args.repeat, args.duck or duck_bin(), res,
              args.budget, args.full_build)
    b.work.mkdir(parents=True, exist_ok=True)
    import compileall  # time duck as installed, not compiling its sources on every run

    compileall.compile_dir(str(ROOT / "duck_cli"), quiet=2)
    t0 = time.perf_counter()
    steps = {"startup": bench_startup, "dag": bench_dag, "backfill": bench_backfill,
             "wide": lambda b: bench_scale(b, "wide"),
             "partitions": lambda b: bench_scale(b, "partitions"), "report": bench_report,
             "sources": sources.bench, "states": health.bench_states,
             "partition_states": health.bench_partition_states,
             "fixed_backfill": health.bench_fixed_backfill,
             "history": health.bench_history, "fixed": health.bench_fixed,
             "validate": health.bench_validate, "check_scope": check_scope.bench,
             "envs": envs.bench,
             "runners": runners.bench}
    for name in only:
        print(f"{name} ...", flush=True)
        steps[name](b)
    res.load.append(os.getloadavg()[0])
    res.notes.append(f"the whole run took {time.perf_counter() - t0:.0f} s.")
    if set(only) != set(WORKLOADS) and args.out.exists():
        write_section(res, args.out, only)  # the other workloads' figures stay
    else:
        write_markdown(res, args.out)
    print(f"wrote {args.out}")
    return 1 if args.strict and any(r.passed() is False for r in res.rows) else 0


if __name__ == "__main__":
    sys.exit(main())
