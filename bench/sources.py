"""W5: a daily file source at scale, and two daily assets reading it.

A year of daily CSV files (1,000,000 rows in all at 365 files; the rows per file stay the same
at 30 and 3,650 files, so a day's work is the same at every size). Timed against raw DuckDB in
a new Python process, side by side and interleaved, medians:

- a one-day `duck backfill` of both assets vs reading that one file and replacing its day in
  both tables (target: at most 0.15 s more), at every size (the curve must be flat);
- a full build (`duck materialize` from empty) vs reading the glob once into both tables
  (target: 1.5x), at 365 files;
- a no-op `duck materialize` (target: 0.5 s at every size).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from bench import generate as gen

ROWS_PER_FILE = 1_000_000 // 365
LAST_DAY = date(2026, 5, 31)  # the day before gen.NOW: every file's partition is due

CLEAN_SQL = ("SELECT CAST(ts AS TIMESTAMP) AS ts, CAST(ts AS DATE) AS day, user_id, cat, amount "
             "FROM raw_events WHERE CAST(ts AS TIMESTAMP) >= $partition_start "
             "AND CAST(ts AS TIMESTAMP) < $partition_end")
DAILY_SQL = ("SELECT CAST(ts AS DATE) AS day, cat, count(*) AS n, sum(amount) AS amount "
             "FROM raw_events WHERE CAST(ts AS TIMESTAMP) >= $partition_start "
             "AND CAST(ts AS TIMESTAMP) < $partition_end GROUP BY ALL")
TABLES = ("events_clean", "events_daily")


def first_day(files: int) -> date:
    """The first day of a source with ``files`` daily files ending on LAST_DAY."""
    return LAST_DAY - timedelta(days=files - 1)


def generate(root: Path, files: int, rows_per_file: int = ROWS_PER_FILE) -> Path:
    """The project: data/events/{date}.csv for ``files`` days, and the two assets."""
    gen.new_project(root)
    folder = root / "data" / "events"
    folder.mkdir(parents=True)
    first = first_day(files)
    _write_files(folder, first, files, rows_per_file)
    daily = f'{{daily: {{start: "{first}", end: "{LAST_DAY}", column: day}}}}'
    (root / "events.yaml").write_text(f"""assets:
  - name: raw_events
    source: {{path: "data/events/{{date}}.csv", format: csv}}
    partitions: {{daily: {{start: "{first}", end: "{LAST_DAY}"}}}}
  - name: events_clean
    deps: [raw_events]
    partitions: {daily}
    materialize: {{strategy: incremental, sql: "{CLEAN_SQL}"}}
  - name: events_daily
    deps: [raw_events]
    partitions: {daily}
    materialize: {{strategy: incremental, sql: "{DAILY_SQL}"}}
""")
    return root


def _write_files(folder: Path, first: date, files: int, rows: int) -> None:
    """Every day's CSV, written by DuckDB in one statement (fast at 3,650 files)."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"""COPY (
        SELECT d AS day, d + INTERVAL (i * 86399 // {rows}) SECOND AS ts,
               (i * 7919 + epoch(d)::BIGINT) % 50000 AS user_id, i % 100 AS cat,
               round(((i * 31 + epoch(d)::BIGINT) % 10000) / 100.0, 2) AS amount
        FROM range({files}) t(n), range({rows}) r(i),
             LATERAL (SELECT DATE '{first}' + CAST(n AS INTEGER) AS d)
    ) TO '{folder}' (FORMAT csv, PARTITION_BY (day), OVERWRITE_OR_IGNORE true,
                      FILENAME_PATTERN 'part')""")
    con.close()
    for sub in list(folder.iterdir()):  # day=2025-01-01/part0.csv -> 2025-01-01.csv
        if sub.is_dir():
            (part,) = sub.glob("*.csv")
            part.rename(folder / f"{sub.name.split('=', 1)[1]}.csv")
            sub.rmdir()


def reader(path: str) -> str:
    return f"read_csv('{path}')"


def raw_day_statements(root: Path, day: str) -> list:
    """What a script does for one day: read that file, replace its day in both tables."""
    src = reader(str(root / "data" / "events" / f"{day}.csv"))
    clean = CLEAN_SQL.replace("raw_events", src).split(" WHERE ")[0]
    daily = DAILY_SQL.replace("raw_events", src).split(" WHERE ")[0] + " GROUP BY ALL"
    return [("BEGIN", None),
            ("DELETE FROM events_clean WHERE day = CAST(? AS DATE)", [day]),
            (f"INSERT INTO events_clean BY NAME {clean}", None),
            ("DELETE FROM events_daily WHERE day = CAST(? AS DATE)", [day]),
            (f"INSERT INTO events_daily BY NAME {daily}", None),
            ("COMMIT", None)]


def raw_full_statements(root: Path) -> list:
    """What a script does for the whole year: read the glob once into both tables."""
    src = reader(str(root / "data" / "events" / "*.csv"))
    clean = CLEAN_SQL.replace("raw_events", src).split(" WHERE ")[0]
    daily = DAILY_SQL.replace("raw_events", src).split(" WHERE ")[0] + " GROUP BY ALL"
    return [(f"CREATE OR REPLACE TABLE events_clean AS {clean}", None),
            (f"CREATE OR REPLACE TABLE events_daily AS {daily}", None)]


def bench(b) -> None:
    """Run W5 at each size in ``b.scale['sources']`` (files, rows per file)."""
    from bench import run

    sizes, rows = b.scale["sources"]
    for files in sizes:
        root = b.work / "sources" / f"n{files}"
        generate(root, files, rows)
        build = run.run_duck(["materialize"], root, duck=b.duck)
        raw_db = b.work / "sources" / f"raw{files}.duckdb"
        raw_db.unlink(missing_ok=True)
        raw_build = run.time_raw_process(raw_full_statements(root), raw_db,
                                         b.work / "sources" / "raw.json")
        problems = run.compare_tables(root / gen.WAREHOUSE, raw_db, list(TABLES))
        if problems:
            raise RuntimeError("W5: duck and raw DuckDB built different tables:\n"
                               + "\n".join(problems[:10]))
        b.res.add(run.Row(f"W5 full build: {files:,} daily CSV files x {rows:,} rows, 2 assets "
                          "vs one glob read into both", [build], [raw_build], target="1.5x"))
        day = str(first_day(files) + timedelta(days=files // 2))
        duck_runs, raw_runs = [], []
        for _ in b.reps():  # interleaved: the same load on both sides
            duck_runs.append(run.run_duck(["backfill", "events_clean", "events_daily",
                                           "--partition", day], root, duck=b.duck))
            raw_runs.append(run.time_raw_process(raw_day_statements(root, day), raw_db,
                                                 b.work / "sources" / "raw.json"))
        b.res.add(run.Row(f"W5 one-day backfill, {files:,} files vs one file read",
                          duck_runs, raw_runs, target="+0.15s"))
        b.res.add(run.Row(f"W5 no-op `duck materialize`, {files:,} files",
                          b.timed(["materialize"], root), target="0.5s"))
    b.res.notes.append("W5: duck and raw DuckDB built the same tables at every size.")
