"""A daily file source read at scale: one folder listing, the first file's sniff for all."""

from __future__ import annotations

import textwrap
from pathlib import Path

from conftest import Duck, warehouse_rows

NOW = "2026-01-05T00:00:00+00:00"


def daily_project(root: Path, days: dict[str, str]) -> Duck:
    """data/{date}.csv for each day, and an incremental daily asset copying them."""
    (root / "data").mkdir(parents=True)
    for day, text in days.items():
        (root / "data" / f"{day}.csv").write_text(text)
    (root / "m.yaml").write_text(textwrap.dedent("""\
        assets:
          - name: raw
            source: {path: "data/{date}.csv", format: csv}
            partitions: {daily: {start: "2026-01-01", end: "2026-01-03"}}
          - name: copied
            deps: [raw]
            partitions: {daily: {start: "2026-01-01", end: "2026-01-03", column: day}}
            materialize:
              strategy: incremental
              sql: "SELECT day, CAST(amount AS VARCHAR) AS amount FROM raw
                    WHERE day >= CAST($partition_start AS DATE)
                    AND day < CAST($partition_end AS DATE)"
        """))
    return Duck(root, now=NOW)


def test_files_sniffed_differently_are_read_together_as_duckdb_unifies_them(tmp_path):
    """One day's amounts are whole, another's are not: the files' sniffed types differ
    (BIGINT, DOUBLE), so the batch is not read with one file's types (2.5 would become 3) but
    as DuckDB reads the list itself, unifying them as DOUBLE."""
    duck = daily_project(tmp_path / "p", {
        "2026-01-01": "day,amount\n2026-01-01,1\n2026-01-01,2\n",
        "2026-01-02": "day,amount\n2026-01-02,2.5\n",
        "2026-01-03": "day,amount\n2026-01-03,3\n",
    })
    duck("materialize")
    rows = warehouse_rows(duck.root, "SELECT CAST(day AS VARCHAR), amount FROM copied "
                                     "ORDER BY day, amount")
    assert rows == [("2026-01-01", "1.0"), ("2026-01-01", "2.0"), ("2026-01-02", "2.5"),
                    ("2026-01-03", "3.0")]


def test_a_backfilled_day_reads_as_in_the_full_build(tmp_path):
    """Files sniffed alike are read with their cached options: a day rebuilt on its own holds
    the same rows and types as when the whole range was built."""
    duck = daily_project(tmp_path / "p", {
        f"2026-01-0{d}": f"day,amount\n2026-01-0{d},{d}.5\n2026-01-0{d},{d}\n"
        for d in (1, 2, 3)})
    duck("materialize")
    query = "SELECT CAST(day AS VARCHAR), amount FROM copied ORDER BY day, amount"
    before = warehouse_rows(duck.root, query)
    assert before[:2] == [("2026-01-01", "1.0"), ("2026-01-01", "1.5")]
    duck("backfill", "copied", "--partition", "2026-01-02")
    assert warehouse_rows(duck.root, query) == before


def test_a_file_with_another_header_still_fails_only_its_day(tmp_path):
    duck = daily_project(tmp_path / "p", {
        "2026-01-01": "day,amount\n2026-01-01,1\n",
        "2026-01-02": "day,amount\n2026-01-02,2\n",
        "2026-01-03": "day,price\n2026-01-03,3\n",
    })
    result = duck("materialize", expect=1)
    assert "2026-01-03.csv" in result.output and "price" in result.output
    assert warehouse_rows(duck.root, "SELECT CAST(day AS VARCHAR) FROM copied ORDER BY 1") == [
        ("2026-01-01",), ("2026-01-02",)]


def test_an_odd_file_in_the_middle_fails_only_its_own_day(tmp_path):
    """The files vote on the source's columns: a day with another header between two good
    days fails alone, in a full build and when the good day before it is backfilled."""
    duck = daily_project(tmp_path / "p", {
        "2026-01-01": "day,amount\n2026-01-01,1\n",
        "2026-01-02": "day,price\n2026-01-02,2\n",
        "2026-01-03": "day,amount\n2026-01-03,3\n",
    })
    result = duck("materialize", expect=1)
    assert "2026-01-02.csv" in result.output and "price" in result.output
    assert warehouse_rows(duck.root, "SELECT CAST(day AS VARCHAR) FROM copied ORDER BY 1") == [
        ("2026-01-01",), ("2026-01-03",)]
    duck("backfill", "copied", "--partition", "2026-01-01")
    assert warehouse_rows(duck.root, "SELECT amount FROM copied ORDER BY day") == [
        ("1",), ("3",)]


def test_a_daily_file_linked_from_outside_the_project_is_refused(tmp_path):
    duck = daily_project(tmp_path / "p", {
        "2026-01-01": "day,amount\n2026-01-01,1\n",
        "2026-01-03": "day,amount\n2026-01-03,3\n",
    })
    secret = tmp_path / "secret.csv"
    secret.write_text("day,amount\n2026-01-02,hunter2\n")
    (duck.root / "data" / "2026-01-02.csv").symlink_to(secret)
    for command in ("status", "materialize"):
        result = duck(command, expect=2)
        assert "data/2026-01-02.csv leads outside the project folder" in result.output
        assert "hunter2" not in result.output


def test_a_daily_file_linked_from_inside_the_project_is_read(tmp_path):
    duck = daily_project(tmp_path / "p", {
        "2026-01-01": "day,amount\n2026-01-01,1\n",
        "2026-01-03": "day,amount\n2026-01-03,3\n",
    })
    (duck.root / "kept").mkdir()
    (duck.root / "kept" / "late.csv").write_text("day,amount\n2026-01-02,2\n")
    (duck.root / "data" / "2026-01-02.csv").symlink_to(duck.root / "kept" / "late.csv")
    duck("materialize")
    assert warehouse_rows(duck.root, "SELECT amount FROM copied ORDER BY day") == [
        ("1",), ("2",), ("3",)]


def test_a_backfilled_day_reading_the_day_before_through_an_asset_sees_it(tmp_path):
    """A backfill looks only at the partitions it rebuilds and what they read, mapped through
    offsets and other assets: a day reading yesterday's copy gets yesterday's rows, and a day
    whose yesterday has not arrived is held back as in a full build."""
    duck = daily_project(tmp_path / "p", {
        "2026-01-02": "day,amount\n2026-01-02,2\n",
        "2026-01-03": "day,amount\n2026-01-03,3\n",
    })
    with open(duck.root / "m.yaml", "a") as f:
        f.write(textwrap.indent(textwrap.dedent("""\
            - name: yesterday
              deps: [{asset: copied, offset: -1}]
              partitions: {daily: {start: "2026-01-01", end: "2026-01-03", column: day}}
              materialize:
                strategy: incremental
                sql: "SELECT CAST($partition_start AS DATE) AS day, amount FROM copied
                      WHERE day = CAST($partition_start AS DATE) - 1"
            """), "  "))
    duck("materialize")  # 2026-01-01 has not arrived: yesterday 2026-01-02 is held back
    query = "SELECT CAST(day AS VARCHAR), amount FROM yesterday ORDER BY day"
    assert warehouse_rows(duck.root, query) == [("2026-01-03", "2")]
    (duck.root / "data" / "2026-01-02.csv").write_text("day,amount\n2026-01-02,20\n")
    duck("backfill", "copied", "yesterday", "--partition", "2026-01-03")
    assert warehouse_rows(duck.root, query) == [("2026-01-03", "2")]  # yesterday not rebuilt
    duck("backfill", "+yesterday", "--from", "2026-01-02", "--to", "2026-01-03")
    assert warehouse_rows(duck.root, query) == [("2026-01-03", "20")]
    result = duck("backfill", "yesterday", "--partition", "2026-01-02", expect=5)
    assert "blocked by copied 2026-01-01" in result.output
