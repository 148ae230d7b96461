"""run.diff on a real DuckDB warehouse of 300,000 rows a side: the comparison happens inside
DuckDB, so a handful of statements run and only aggregates and the sample come back, however
big the tables are."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pytest

from duck_cli.models import Asset, CheckSpec, TimePartitions
from duck_cli.run.diff import SAMPLE, diff

ROWS, DAYS = 300_000, 30


class Counting:
    """A real DuckDB connection that counts the statements it runs and the rows they return."""

    def __init__(self, con):
        self.con, self.statements, self.rows = con, 0, 0

    def execute(self, sql, params=None):
        self.statements += 1
        return _Counted(self, self.con.execute(sql, params) if params else self.con.execute(sql))


class _Counted:
    def __init__(self, owner: Counting, cursor):
        self.owner, self.cursor = owner, cursor

    def fetchall(self):
        rows = self.cursor.fetchall()
        self.owner.rows += len(rows)
        return rows

    def fetchone(self):
        row = self.cursor.fetchone()
        self.owner.rows += row is not None
        return row


@pytest.fixture
def warehouse(tmp_path):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute(f"""
        CREATE TABLE main.events AS
          SELECT i AS id, DATE '2026-01-01' + (i % {DAYS})::INTEGER AS day, i * 0.5 AS amount,
                 'n' || (i % 7) AS label
          FROM range({ROWS}) t(i);
        CREATE SCHEMA main__pr;
        CREATE TABLE main__pr.events AS FROM main.events WHERE id % 997 <> 1;
        UPDATE main__pr.events SET amount = amount + 1 WHERE id % 997 = 2;
        INSERT INTO main__pr.events SELECT {ROWS} + i, DATE '2026-01-03', 1.0, 'new'
          FROM range(10) t(i);
    """)
    yield con
    con.close()


def _asset(key: bool) -> Asset:
    checks = (CheckSpec("one_row_per_id", "unique", {"columns": ["id"]}),) if key else ()
    return Asset("events", "table", checks=checks,
                 partitions=TimePartitions("daily", datetime(2026, 1, 1), column="day"))


@pytest.mark.parametrize("key", [True, False])
def test_diff_runs_a_few_statements_and_fetches_only_aggregates(warehouse, key):
    con = Counting(warehouse)
    report = diff(con, [_asset(key)], "pr")
    (events,) = report.assets
    gone = sum(1 for i in range(ROWS) if i % 997 == 1)  # and as many changed (% 997 == 2)
    changed = sum(1 for i in range(ROWS) if i % 997 == 2)
    assert events.total("added") == 10 + (0 if key else changed)
    assert events.total("removed") == gone + (0 if key else changed)
    assert events.total("changed") == (changed if key else 0)
    assert events.partitions_compared == DAYS and len(events.partitions) == DAYS
    assert len(events.sample) == SAMPLE
    assert con.statements <= 12
    # a row per partition (and the total), the two statistics rows, the sample, and the
    # catalog's (schemas, relations, each side's columns): dozens of rows out of 600,000
    assert con.rows <= DAYS + 1 + 2 + SAMPLE + 25


def test_diff_does_not_draw_duckdb_progress_bars(warehouse, capfd):
    warehouse.execute("SET progress_bar_time = 0")  # DuckDB's bar for every statement
    assert diff(warehouse, [_asset(True)], "pr").assets[0].status == "differs"
    # the SET that turns it off draws the last one; the comparison's statements draw none
    assert capfd.readouterr().out.count("elapsed") <= 1
    assert warehouse.execute("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)
