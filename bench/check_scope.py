"""W7: the whole-table unique check on one new day of a year-long table.

A daily incremental asset holds one row per event id (a year of events); a new day is built
with `unique: [id]` over the whole table (the default scope) and, for comparison, with
`scope: partition`. Raw DuckDB runs the same work in a new Python process: stage the day, run
the same grouped count over the staged day together with the published rows of the other days,
then replace the day, in one transaction. "raw SQL only" is just that check query.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bench import generate as gen

ROWS_SQL = ("SELECT id, day, user_id, cat, amount FROM events "
            "WHERE day >= $partition_start AND day < $partition_end")
UNIQUE = "[{name: one_row_per_event, unique: [id]}]"
PARTITION = "[{name: one_row_per_event, unique: [id], scope: partition}]"
TABLE_CHECK = ("SELECT id, count(*) FROM (SELECT * FROM __duck_stage UNION ALL BY NAME "
               "SELECT * FROM event_rows WHERE NOT coalesce(day >= ? AND day < ?, false)) "
               "WHERE id IS NOT NULL GROUP BY id HAVING count(*) > 1")
SLICE_CHECK = ("SELECT id, count(*) FROM __duck_stage WHERE id IS NOT NULL "
               "GROUP BY id HAVING count(*) > 1")


def generate(root: Path, days: int, rows: int, checks: str) -> gen.Workload:
    """The project: events over ``days`` days and ``event_rows``, partitioned by day."""
    gen.new_project(root)
    last = gen.FIRST_DAY + timedelta(days=days - 1)
    daily = f'{{daily: {{start: "{gen.FIRST_DAY}", end: "{last}", column: day}}}}'
    spec = gen.AssetSpec("event_rows", ("events",), ROWS_SQL)
    gen.write_manifests(root, [gen.source_yaml("events", "events", daily),
                               gen.asset_yaml(spec, "incremental", daily, checks)])
    gen.create_table(root / gen.WAREHOUSE, "events", gen.events_sql(rows, days))
    return gen.Workload("check_scope", root, [spec], partitions=days,
                        first_key=str(gen.FIRST_DAY), last_key=str(last))


def raw_statements(last_key: str, whole: bool) -> list:
    """Stage the day, run the whole-table check, replace the day: one transaction."""
    from datetime import date

    start = date.fromisoformat(last_key)
    end = start + timedelta(days=1)
    day = {"partition_start": start, "partition_end": end}
    return [("BEGIN TRANSACTION", None),
            (f"CREATE TEMP TABLE __duck_stage AS {ROWS_SQL}", day),
            (TABLE_CHECK, [start, end]) if whole else (SLICE_CHECK, None),
            ("DELETE FROM event_rows WHERE day >= ? AND day < ?", [start, end]),
            ("INSERT INTO event_rows BY NAME SELECT * FROM __duck_stage", None),
            ("COMMIT", None)]


def bench(b) -> None:
    """Build days 1..N-1 untimed, then time the last day: whole-table and partition scope."""
    from bench import raw
    from bench.run import Row, fresh_copy, run_duck, time_raw, time_raw_process

    days, rows = b.scale["backfill"]
    for checks, label in ((UNIQUE, "scope: table"), (PARTITION, "scope: partition")):
        w = generate(b.work / "check_scope" / "pristine", days, rows, checks)
        before = str(gen.FIRST_DAY + timedelta(days=days - 2))
        run_duck(["backfill", "event_rows", "--from", w.first_key, "--to", before], w.root,
                 duck=b.duck)
        run_duck(["validate"], w.root, duck=b.duck)
        statements = raw_statements(w.last_key, checks == UNIQUE)
        duck_runs, raw_runs, sql_runs = [], [], []
        for _ in b.reps():
            proj = fresh_copy(w.root, b.work / "check_scope" / "duck")
            duck_runs.append(run_duck(["materialize", "event_rows", "--partition", w.last_key],
                                      proj, duck=b.duck))
            db = fresh_copy(w.root / gen.WAREHOUSE, b.work / "check_scope" / "raw.duckdb")
            raw_runs.append(time_raw_process(statements, db, b.work / "check_scope" / "raw.json"))
            db = fresh_copy(w.root / gen.WAREHOUSE, b.work / "check_scope" / "raw.duckdb")
            sql_runs.append(time_raw(lambda: raw.execute(db, statements)))
        b.res.add(Row(f"unique check ({label}) on 1 new day of a {days}-day, {rows:,}-row table",
                      duck_runs, raw_runs, target="1.5x", sql_only=sql_runs))
