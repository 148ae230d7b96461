"""Checks run as real SQL on DuckDB: each kind passes on good data and fails on bad data."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import duckdb
import pytest

from duck_cli.run.checks import CheckResult, check_sql, run_checks
from duck_cli.sql import quote_ident
from duck_cli.models import CheckSpec

UTC = timezone.utc
NOW = datetime(2026, 3, 13, 6, 0, tzinfo=UTC)

TRIPS = """
CREATE TABLE trips (trip_id INTEGER, trip_date DATE, zone_id INTEGER, fare DECIMAL(10, 2),
                    status VARCHAR, picked_up TIMESTAMPTZ);
INSERT INTO trips VALUES
  (1, DATE '2026-03-11', 17, 12.50, 'paid',     TIMESTAMPTZ '2026-03-11 08:00:00+00'),
  (2, DATE '2026-03-11', 18, 30.00, 'refunded', TIMESTAMPTZ '2026-03-11 09:00:00+00'),
  (3, DATE '2026-03-12', 17,  8.00, 'paid',     TIMESTAMPTZ '2026-03-12 23:10:00+00'),
  (4, DATE '2026-03-12', 19,  9.75, 'paid',     TIMESTAMPTZ '2026-03-12 22:00:00+00');
CREATE TABLE zones (zone_id INTEGER, name VARCHAR);
INSERT INTO zones VALUES (17, 'Centrum'), (18, 'Noord'), (19, 'Oost');
"""

BAD_ROWS = """
INSERT INTO trips VALUES
  (5, DATE '2026-03-12', 17, NULL,  'void', NULL),
  (6, DATE '2026-04-02', 99, -3.00, 'paid', TIMESTAMPTZ '2026-03-12 10:00:00+00');
"""

SLICE = '"trip_date" >= $partition_start AND "trip_date" < $partition_end'


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute(TRIPS)
    yield c
    c.close()


def add_bad_rows(con) -> duckdb.DuckDBPyConnection:
    con.execute(BAD_ROWS)
    return con


def spec(kind: str, severity: str = "error", name: str | None = None, **params) -> CheckSpec:
    return CheckSpec(name or kind, kind, params, severity)


def run(con, check: CheckSpec, relation: str = '"trips"', **kw) -> CheckResult:
    kw.setdefault("now", NOW)
    [result] = run_checks(con, [check], relation, **kw)
    return result


# -- every kind, good and bad -------------------------------------------------------------------


def test_row_count(con):
    ok = run(con, spec("row_count", min=1, max=10))
    assert (ok.passed, ok.observed, ok.failing, ok.sample) == (True, "4 rows", 0, ())
    assert ok.message == "row_count(min=1, max=10): 4 rows"
    bad = run(con, spec("row_count", min=5))
    assert (bad.passed, bad.observed, bad.failing) == (False, "4 rows", 1)
    assert bad.sample == ({"row_count": 4},)
    assert bad.message == "row_count(min=5): 4 rows, expected at least 5"


def test_row_count_of_an_empty_relation(con):
    con.execute("CREATE TABLE empty AS SELECT * FROM trips WHERE false")
    r = run(con, spec("row_count", min=1), '"empty"')
    assert (r.passed, r.observed) == (False, "0 rows")
    assert r.blocking


def test_not_null(con):
    r = run(add_bad_rows(con), spec("not_null", columns=["fare", "status"]))
    assert (r.observed, r.failing) == ("1 row with nulls", 1)
    assert r.sample[0]["trip_id"] == 5 and r.sample[0]["fare"] is None


def test_not_null_passes_on_good_data(con):
    r = run(con, spec("not_null", columns=["fare", "status"]))
    assert (r.passed, r.observed, r.message) == (True, "0 rows with nulls",
                                                 "not_null(fare, status): 0 rows with nulls")


def test_unique(con):
    assert run(con, spec("unique", columns=["trip_date", "zone_id"])).passed
    con.execute("INSERT INTO trips VALUES (7, DATE '2026-03-12', 17, 1, 'paid', NULL), "
                "(8, NULL, 17, 1, 'paid', NULL), (9, NULL, 17, 1, 'paid', NULL)")
    r = run(con, spec("unique", columns=["trip_date", "zone_id"]))
    assert (r.passed, r.observed, r.failing) == (False, "1 duplicate key", 1)
    assert r.message == "unique(trip_date, zone_id): 1 duplicate key, e.g. (2026-03-12, 17)"
    assert r.sample == ({"trip_date": "2026-03-12", "zone_id": 17, "duplicate_rows": 2},)


def test_accepted_values(con):
    check = spec("accepted_values", column="status", values=["paid", "refunded"])
    r = run(add_bad_rows(con), check)
    assert (r.passed, r.observed, r.failing) == (False, "1 row with other values", 1)
    assert r.message == "accepted_values(status): 1 row with other values, e.g. void"
    assert r.sample[0]["trip_id"] == 5


def test_accepted_values_passes_and_ignores_nulls(con):
    con.execute("INSERT INTO trips VALUES (7, DATE '2026-03-12', 17, 1, NULL, NULL)")
    assert run(con, spec("accepted_values", column="status", values=["paid", "refunded"])).passed
    assert run(con, spec("accepted_values", column="zone_id", values=[17, 18, 19])).passed


def test_accepted_range_numbers(con):
    assert run(con, spec("accepted_range", column="fare", min=0)).passed
    r = run(add_bad_rows(con), spec("accepted_range", column="fare", min=0, max=100))
    assert (r.passed, r.observed, r.failing) == (False, "1 row out of range", 1)
    assert r.message == "accepted_range(fare): 1 row out of range, e.g. -3.0"


def test_accepted_range_iso_dates_compare_as_dates(con):
    check = spec("accepted_range", column="trip_date", min="2026-03-01", max="2026-03-31")
    assert run(con, check).passed
    r = run(add_bad_rows(con), check)
    assert (r.failing, r.sample[0]["trip_date"]) == (1, "2026-04-02")


def test_relationships(con):
    check = spec("relationships", column="zone_id", to="zones", field="zone_id")
    assert run(con, check).passed
    r = run(add_bad_rows(con), check)
    assert (r.passed, r.observed, r.failing) == (False, "1 row without a match", 1)
    assert r.message == "relationships(zone_id -> zones.zone_id): 1 row without a match, e.g. 99"


def test_relationships_uses_table_of_for_the_parent(con):
    con.execute("CREATE TABLE __duck_zones AS SELECT * FROM zones UNION ALL SELECT 99, 'Far'")
    check = spec("relationships", column="zone_id", to="zones", field="zone_id")
    r = run(add_bad_rows(con), check, table_of=lambda asset: quote_ident("__duck_" + asset))
    assert r.passed


def test_data_freshness_timestamptz(con):
    check = spec("data_freshness", column="picked_up", max_age=timedelta(hours=12))
    ok = run(con, check)
    assert (ok.passed, ok.observed) == (True, "max 2026-03-12 23:10 UTC")
    late = run(con, check, now=NOW + timedelta(days=1))
    assert (late.passed, late.failing, late.observed) == (False, 1, "max 2026-03-12 23:10 UTC")
    assert late.message == ("data_freshness(picked_up): max 2026-03-12 23:10 UTC, 30h50m before "
                            "2026-03-14 06:00 UTC (at most 12h)")


def test_data_freshness_measures_from_the_partition_end(con):
    check = spec("data_freshness", column="picked_up", max_age=timedelta(hours=12))
    partition_end = datetime(2026, 3, 13, tzinfo=UTC)
    assert run(con, check, now=NOW + timedelta(days=30), reference_time=partition_end).passed


def test_data_freshness_on_a_date_column_and_on_no_rows(con):
    check = spec("data_freshness", column="trip_date", max_age=timedelta(hours=30))
    r = run(con, check)
    assert (r.passed, r.observed) == (True, "max 2026-03-12")  # its midnight UTC, 30h before NOW
    assert not run(con, check, now=NOW + timedelta(seconds=1)).passed
    empty = run(con, check, where="false")
    assert (empty.passed, empty.observed, empty.message) == (
        False, "no rows", "data_freshness(trip_date): no rows")


def test_sql_check(con):
    check = spec("sql", name="fares_positive",
                 sql="SELECT trip_id, fare FROM {this} WHERE fare < 0 ORDER BY trip_id;  -- why\n")
    assert run(con, check).passed
    r = run(add_bad_rows(con), check)
    assert (r.passed, r.observed, r.failing) == (False, "1 row failing", 1)
    assert r.sample == ({"trip_id": 6, "fare": -3.0},)
    assert r.message == "sql(fares_positive): 1 row failing"


def test_sample_holds_at_most_five_rows_and_counts_all(con):
    con.execute("INSERT INTO trips SELECT 100 + i, DATE '2026-03-12', 17, NULL, 'paid', NULL "
                "FROM range(8) t(i)")
    r = run(con, spec("not_null", columns=["fare"]))
    assert r.failing == 8 and len(r.sample) == 5
    assert json.loads(json.dumps(r.to_json()))["sample"] == list(r.sample)


def test_several_checks_in_order(con):
    specs = [spec("row_count", min=1), spec("not_null", "warn", columns=["fare"]),
             spec("unique", columns=["trip_id"])]
    results = run_checks(add_bad_rows(con), specs, '"trips"', now=NOW)
    assert [(r.name, r.passed, r.blocking) for r in results] == [
        ("row_count", True, False), ("not_null", False, False), ("unique", True, False)]


# -- restriction to a partition -----------------------------------------------------------------


def test_where_restricts_every_kind_to_the_slice(con):
    params = {"partition_start": date(2026, 3, 11), "partition_end": date(2026, 3, 12),
              "partition_key": "2026-03-11"}  # an unused parameter is not passed on
    specs = [spec("row_count", max=2), spec("not_null", columns=["fare"]),
             spec("accepted_values", column="status", values=["paid", "refunded"]),
             spec("accepted_range", column="fare", min=0),
             spec("relationships", column="zone_id", to="zones", field="zone_id"),
             spec("sql", sql="SELECT * FROM {this} WHERE fare < 0")]
    results = run_checks(add_bad_rows(con), specs, '"trips"', where=SLICE, params=params, now=NOW)
    assert [r.passed for r in results] == [True] * len(specs), [r.message for r in results]
    assert results[0].observed == "2 rows"


def test_where_finds_failures_inside_the_slice_only(con):
    params = {"partition_start": date(2026, 3, 12), "partition_end": date(2026, 3, 13)}
    r = run(add_bad_rows(con), spec("not_null", columns=["fare"]), where=SLICE, params=params)
    assert (r.failing, r.sample[0]["trip_id"]) == (1, 5)
    r = run(con, spec("accepted_range", column="fare", min=0), where=SLICE, params=params)
    assert r.passed  # the negative fare is dated April


# -- safety -------------------------------------------------------------------------------------


EVIL = "x'); drop table trips; --"


def test_values_are_bound_not_pasted(con):
    check = spec("accepted_values", column="status", values=["paid", "refunded", EVIL, 'a"b'])
    sql, params = check_sql(check, '"trips"', None)
    assert EVIL not in sql and EVIL in params.values()
    r = run(add_bad_rows(con), check)
    assert (r.passed, r.failing) == (False, 1)
    assert con.execute("SELECT count(*) FROM trips").fetchone()[0] == 6


def test_an_evil_value_can_be_accepted_like_any_other(con):
    con.execute("INSERT INTO trips VALUES (7, DATE '2026-03-12', 17, 1, ?, NULL)", [EVIL])
    check = spec("accepted_values", column="status", values=["paid", "refunded", EVIL])
    assert run(con, check).passed
    assert con.execute("SELECT count(*) FROM trips").fetchone()[0] == 5


def test_identifiers_are_quoted(con):
    con.execute('CREATE TABLE "odd ""t""" ("we""ird col" INTEGER)')
    con.execute('INSERT INTO "odd ""t""" VALUES (1), (NULL)')
    r = run(con, spec("not_null", columns=['we"ird col']), quote_ident('odd "t"'))
    assert (r.failing, r.sample) == (1, ({'we"ird col': None},))


# -- errors become failed results ---------------------------------------------------------------


def test_unknown_column_fails_with_a_hint_without_running_sql(con):
    con.execute("BEGIN")
    r = run(con, spec("not_null", "warn", columns=["fare", "farez"]))
    assert (r.passed, r.observed, r.failing, r.blocking) == (False, None, 0, False)
    assert r.message == ("not_null(fare, farez): no column 'farez' in \"trips\"; "
                         "Did you mean 'fare'?")
    assert con.execute("SELECT count(*) FROM trips").fetchone()[0] == 4  # transaction still usable
    con.execute("ROLLBACK")


def test_sql_errors_become_failed_results(con):
    specs = [spec("sql", sql="SELECT nope FROM {this}"),
             spec("accepted_range", column="trip_date", min="not a date"),
             spec("row_count", min=1)]
    results = run_checks(con, specs, '"trips"', now=NOW)
    assert [r.passed for r in results] == [False, False, True]
    assert results[0].message.startswith("sql(sql): Binder Error")
    assert "\n" not in results[0].message
    assert "not a date" in results[1].message
    assert results[0].blocking


def test_a_missing_relation_fails_every_check(con):
    results = run_checks(con, [spec("row_count", min=1), spec("not_null", columns=["a"])],
                         '"nowhere"', now=NOW)
    assert [r.passed for r in results] == [False, False]
    assert all("nowhere" in r.message for r in results)


def test_data_freshness_needs_a_reference_in_check_sql():
    with pytest.raises(ValueError):
        check_sql(spec("data_freshness", column="t", max_age=timedelta(hours=1)), '"x"', None)


def test_unknown_kind_is_rejected():
    with pytest.raises(ValueError):
        check_sql(spec("bogus"), '"x"', None)


# -- a warehouse file ---------------------------------------------------------------------------


def test_checks_on_a_file_database_and_a_staging_relation(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as c:
        c.execute(TRIPS)
        c.execute('CREATE TABLE "__duck_stage_trips" AS SELECT * FROM trips')
    with duckdb.connect(str(path)) as c:
        specs = [spec("row_count", min=4, max=4), spec("unique", columns=["trip_id"]),
                 spec("relationships", column="zone_id", to="zones", field="zone_id")]
        results = run_checks(c, specs, '"__duck_stage_trips"', now=NOW)
    assert [r.passed for r in results] == [True, True, True]


def test_result_json_and_blocking():
    r = CheckResult("c", "unique", "warn", False, "1 duplicate key", 1, "m", ({"a": 1},))
    assert not r.blocking
    assert r.to_json() == {"name": "c", "kind": "unique", "severity": "warn", "passed": False,
                           "blocking": False, "observed": "1 duplicate key", "failing": 1,
                           "message": "m", "sample": [{"a": 1}]}
