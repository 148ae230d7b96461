"""load_project: valid projects become models; each rule yields a problem that says where and how to fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from duck_cli.errors import ManifestError
from duck_cli.models import (CheckSpec, Dep, FreshnessPolicy, Location, Materialize, Source,
                             StaticPartitions, TimePartitions)
from duck_cli.manifest.load import load_project, parse_duration
from duck_cli.manifest.cache import CACHE_DIR

ROOT = Path(__file__).resolve().parents[2]

TRIPS = """\
assets:
  - name: raw_trips
    owner: team:ingest
    source: {path: "data/trips/{date}.csv"}
    partitions: {daily: {start: 2026-03-01, end: 2026-03-14, timezone: UTC}}

  - name: zones
    source: {table: raw.zones}

  - name: zone_metrics
    owner: team:mobility-analytics
    description: Trips and revenue per pickup zone and day.
    tags: [revenue]
    deps: [raw_trips, zones]
    partitions: {daily: {start: "2026-03-01", column: trip_date}}
    materialize:
      sql_file: zone_metrics.sql
    checks:
      - {name: has_rows, row_count: {min: 1}}
      - {name: one_row_per_zone_day, unique: [trip_date, zone_id]}
      - {name: fares_positive, accepted_range: {column: revenue, min: 0}, severity: warn}
      - {relationships: {column: zone_id, to: zones, field: zone_id}}
      - {data_freshness: {column: trip_date, max_age: 26h}}
      - {not_null: zone_id}
      - {name: no_negative, sql: "select * from {this} where revenue < 0"}
    freshness: {deadline: "06:00", timezone: Europe/Amsterdam, warn: 1h}

  - name: daily_revenue
    deps: [{asset: zone_metrics, offset: -1}]
    partitions: {daily: {start: "2026-03-01", column: d}}
    materialize:
      sql: |
        select trip_date as d, sum(revenue) as revenue
        from zone_metrics
        where trip_date >= $partition_start and trip_date < $partition_end
        group by 1
    freshness: {max_lag: 26h, warn: 2h}

products:
  - name: revenue_dashboard
    owner: team:finance
    assets: [daily_revenue]
    freshness: {deadline: "07:00", timezone: Europe/Amsterdam}
"""

ZONE_SQL = """\
select trip_date, zone_id, sum(fare) as revenue
from raw_trips join zones using (zone_id)
where trip_date >= $partition_start and trip_date < $partition_end
group by all
"""


def make(root: Path, files: dict[str, str]) -> Path:
    """Write a project's files (dedented) below ``root``."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def errors(root: Path) -> str:
    """The rendered problems of an invalid project, one per line."""
    with pytest.raises(ManifestError) as caught:
        load_project(root, use_cache=False)
    return "\n".join(p.render() for p in caught.value.problems())


def one_asset(sql: str = "select 1 as x", extra: str = "") -> str:
    return f"assets:\n  - name: orders\n    materialize: {{sql: \"{sql}\"}}\n{extra}"


@pytest.fixture
def trips(tmp_path: Path) -> Path:
    return make(tmp_path, {"models/trips.yaml": TRIPS, "models/zone_metrics.sql": ZONE_SQL})


# valid projects -------------------------------------------------------------------------------

def test_valid_project_loads_into_models(trips: Path) -> None:
    project = load_project(trips, use_cache=False)
    assert list(project.assets) == ["daily_revenue", "raw_trips", "zone_metrics", "zones"]
    assert project.manifest_files == ("models/trips.yaml",)
    assert project.warnings == ()
    raw = project.assets["raw_trips"]
    assert raw.kind == "source" and raw.is_source
    assert raw.source == Source(path="models/data/trips/{date}.csv", format="csv")
    assert raw.partitions == TimePartitions("daily", datetime(2026, 3, 1), datetime(2026, 3, 14), "UTC")
    assert raw.location == Location("models/trips.yaml", 2)
    assert project.assets["zones"].source == Source(table="raw.zones")


def test_built_asset_fields(trips: Path) -> None:
    zm = load_project(trips, use_cache=False).assets["zone_metrics"]
    assert zm.kind == "table" and zm.owner == "team:mobility-analytics" and zm.tags == ("revenue",)
    assert zm.deps == (Dep("raw_trips"), Dep("zones"))
    assert zm.materialize == Materialize("incremental", ZONE_SQL, "models/zone_metrics.sql")
    assert zm.reads == ("raw_trips", "zones")
    assert zm.freshness == FreshnessPolicy(cron="0 6 * * *", deadline="06:00", timezone="Europe/Amsterdam",
                                           warn=timedelta(hours=1))
    assert len(zm.code_version) == 16


def test_checks_are_normalized(trips: Path) -> None:
    checks = {c.name: c for c in load_project(trips, use_cache=False).assets["zone_metrics"].checks}
    assert checks["has_rows"] == CheckSpec("has_rows", "row_count", {"min": 1}, location=Location("models/trips.yaml", 19))
    assert checks["one_row_per_zone_day"].params == {"columns": ["trip_date", "zone_id"]}
    assert checks["fares_positive"].severity == "warn" and not checks["fares_positive"].blocking
    assert checks["relationships_zone_id"].params == {"column": "zone_id", "to": "zones", "field": "zone_id"}
    assert checks["data_freshness_trip_date"].params["max_age"] == timedelta(hours=26)
    assert checks["not_null_zone_id"].params == {"columns": ["zone_id"]}
    assert checks["no_negative"].params == {"sql": "select * from {this} where revenue < 0"}


def test_deps_offsets_and_products(trips: Path) -> None:
    project = load_project(trips, use_cache=False)
    daily = project.assets["daily_revenue"]
    assert daily.deps == (Dep("zone_metrics", "offset", -1),)
    assert daily.materialize.strategy == "incremental" and daily.materialize.sql_file is None
    assert daily.freshness == FreshnessPolicy(max_lag=timedelta(hours=26), warn=timedelta(hours=2))
    product = project.products["revenue_dashboard"]
    assert product.assets == ("daily_revenue",) and product.owner == "team:finance"
    assert product.freshness.cron == "0 7 * * *" and product.location == Location("models/trips.yaml", TRIPS.splitlines().index("  - name: revenue_dashboard") + 1)


def test_defaults_for_kind_and_strategy(tmp_path: Path) -> None:
    make(tmp_path, {"m.yaml": """\
        assets:
          - {name: t, materialize: {sql: "select 1 as x"}}
          - {name: v, kind: view, materialize: {sql: "select 1 as x"}}
          - {name: w, materialize: {strategy: view, sql: "select 1 as x"}}
          - name: s
            partitions: {static: {values: [APAC, EMEA], column: region}}
            materialize: {sql: "select $partition_key as region"}
        """})
    assets = load_project(tmp_path, use_cache=False).assets
    assert (assets["t"].kind, assets["t"].materialize.strategy) == ("table", "table")
    assert (assets["v"].kind, assets["v"].materialize.strategy) == ("view", "view")
    assert (assets["w"].kind, assets["w"].materialize.strategy) == ("view", "view")
    assert assets["s"].partitions == StaticPartitions(("APAC", "EMEA"), "region")
    assert assets["s"].materialize.strategy == "incremental"


def test_hourly_start_with_time_and_formats(tmp_path: Path) -> None:
    make(tmp_path, {"m.yaml": """\
        assets:
          - name: h
            source: {path: "logs/{hour}.parquet", options: {hive_partitioning: true}}
            partitions: {hourly: {start: "2026-03-01T05:00", timezone: Europe/Amsterdam}}
          - {name: j, source: {path: "x/*.ndjson"}}
          - {name: g, source: {path: "x/a.csv.gz"}}
        """})
    assets = load_project(tmp_path, use_cache=False).assets
    assert assets["h"].partitions.start == datetime(2026, 3, 1, 5)
    assert assets["h"].source.format == "parquet" and assets["h"].source.options == {"hive_partitioning": True}
    assert assets["j"].source.format == "json" and assets["g"].source.format == "csv"


def test_empty_files_and_dot_folders_are_ignored(tmp_path: Path) -> None:
    make(tmp_path, {"a.yaml": one_asset(), "empty.yml": "", "comments.yaml": "# nothing\n",
                    ".duck/x.yaml": "garbage: [", ".git/y.yaml": ": :", "sub/__pycache__/z.yaml": "["})
    assert list(load_project(tmp_path, use_cache=False).assets) == ["orders"]


def test_parse_duration_is_exported() -> None:
    assert parse_duration("1h30m") == timedelta(minutes=90)


# rules ----------------------------------------------------------------------------------------

def test_all_problems_are_reported_together(tmp_path: Path) -> None:
    make(tmp_path, {"a.yaml": "assets:\n  - {name: orders, deps: [nope], materialize: {sql: 'select 1'}}\n",
                    "b.yaml": "assets: [\n", "duck.yaml": "thread: 4\n"})
    text = errors(tmp_path)
    assert text.splitlines()[0].startswith("duck.yaml:1: unknown setting 'thread'. Did you mean 'threads'?")
    assert "a.yaml:2: asset 'orders': depends on unknown asset 'nope'" in text
    assert "b.yaml:2: YAML syntax error" in text


def test_duplicate_names_point_at_both_places(tmp_path: Path) -> None:
    make(tmp_path, {"a.yaml": one_asset(), "b.yaml": "\n" + one_asset()})
    assert "b.yaml:3: asset 'orders' is defined twice, first at a.yaml:2. Rename one of them" in errors(tmp_path)


def test_names_differing_in_case_are_duplicates(tmp_path: Path) -> None:
    make(tmp_path, {"a.yaml": "assets:\n  - {name: Zones, source: {table: z}}\n  - {name: zones, source: {table: y}}\n"})
    assert "a.yaml:3: asset 'zones' (as 'Zones': names ignore case) is defined twice" in errors(tmp_path)


def test_unknown_dep_with_did_you_mean(tmp_path: Path) -> None:
    make(tmp_path, {"a.yaml": "assets:\n  - {name: zone_metrics, source: {table: z}}\n"
                              "  - name: b\n    deps: [zone_metric]\n    materialize: {sql: 'select 1'}\n"})
    assert ("a.yaml:4: asset 'b': depends on unknown asset 'zone_metric'. Did you mean 'zone_metrics'?"
            in errors(tmp_path))


@pytest.mark.parametrize("deps, cycle", [
    ({"a": ["b"], "b": ["a"]}, "a -> b -> a"),
    ({"a": ["b"], "b": ["c"], "c": ["a"]}, "a -> b -> c -> a"),
    ({"c": ["b"], "b": ["a"], "a": ["c"]}, "a -> c -> b -> a"),
    ({"a": ["a"]}, "a -> a"),
])
def test_cycles_print_their_path(tmp_path: Path, deps: dict[str, list[str]], cycle: str) -> None:
    lines = ["assets:"] + [f"  - {{name: {n}, deps: [{', '.join(d)}], materialize: {{sql: 'select * from "
                           f"{d[0]}'}}}}" for n, d in sorted(deps.items())]
    make(tmp_path, {"a.yaml": "\n".join(lines) + "\n"})
    assert f"dependency cycle: {cycle}. Each asset depends on the next one" in errors(tmp_path)


@pytest.mark.parametrize("body, expected", [
    ("assets:\n  - {name: orders}\n", "a.yaml:2: asset 'orders': has no SQL to build it. Add materialize"),
    ("assets:\n  - {name: orders, kind: source}\n", "a.yaml:2: asset 'orders': kind source needs a 'source'"),
    ("assets:\n  - {name: orders, source: {table: t}, materialize: {sql: 'select 1'}}\n",
     "a source is observed, not built: it cannot have 'materialize'"),
    ("assets:\n  - {name: orders, materialize: {strategy: incremental, sql: 'select 1'}}\n",
     "strategy incremental needs partitions"),
    ("assets:\n  - name: orders\n    partitions: {daily: {start: '2026-03-01', column: d}}\n"
     "    materialize: {strategy: table, sql: 'select 1'}\n",
     "a.yaml:4: asset 'orders': a partitioned asset is built one partition at a time, not as a table. Use strategy: incremental"),
    ("assets:\n  - name: orders\n    partitions: {daily: {start: '2026-03-01'}}\n    materialize: {sql: 'select 1'}\n",
     "a.yaml:3: asset 'orders': strategy incremental needs the daily partitions' 'column'"),
    ("assets:\n  - name: orders\n    partitions: {static: {values: [A]}}\n    materialize: {sql: 'select 1'}\n",
     "needs the static partitions' 'column'"),
    ("assets:\n  - {name: orders, source: {path: '../x.csv'}}\n", "x.csv' leaves the project folder. Keep source files inside"),
    ("assets:\n  - {name: orders, source: {path: '/etc/x.csv'}}\n", "leaves the project folder"),
    ("assets:\n  - {name: orders, source: {path: 'd/{date}.csv'}}\n",
     "the path holds '{date}' but the source is not partitioned"),
    ("assets:\n  - {name: orders, source: {path: 'd/x.xlsx'}}\n", "cannot tell the format of 'd/x.xlsx' from its extension. Add format"),
    ("assets:\n  - {name: orders, materialize: {sql_file: ../a.sql}}\n", "a.sql' leaves the project folder"),
    ("assets:\n  - {name: orders, materialize: {sql_file: nope.sql}}\n", "a.yaml:2: asset 'orders': sql_file 'nope.sql' does not exist"),
])
def test_asset_rules(tmp_path: Path, body: str, expected: str) -> None:
    make(tmp_path, {"a.yaml": body})
    assert expected in errors(tmp_path)


@pytest.mark.parametrize("extra, expected", [
    ("    freshness: {max_lag: 26x}\n", "freshness.max_lag: is not a duration"),
    ("    freshness: {max_lag: 0h}\n", "'0h' is not a positive duration"),
    ("    freshness: {deadline: '25:00'}\n", "a.yaml:4: asset 'orders': '25:00' is not a valid deadline. Write \"HH:MM\""),
    ("    freshness: {deadline: '0 7 * *'}\n", "'0 7 * *' is not a valid deadline"),
    ("    freshness: {deadline: '0 25 * * *'}\n", "'0 25 * * *' is not a valid deadline"),
    ("    freshness: {deadline: '07:00', timezone: Europe/Amsterdm}\n",
     "unknown time zone 'Europe/Amsterdm'. Did you mean 'Europe/Amsterdam'?"),
    ("    freshness: {deadline: '07:00', max_lag: 2h}\n", "needs exactly one of 'deadline' and 'max_lag'"),
    ("    freshness: {timezone: UTC}\n", "needs exactly one of 'deadline' and 'max_lag'"),
    ("    freshness: {max_lag: 2h, warn: 3h}\n", "the warn window (3h) is not shorter than max_lag (2h)"),
    ("    checks: [{unique: [x]}, {unique: [x]}]\n", "two checks are named 'unique_x'"),
    ("    checks: [{accepted_range: {column: x, min: 5, max: 1}}]\n", "max (1) is below min (5)"),
    ("    checks: [{relationships: {column: x, to: b, field: y}}]\n", "refers to unknown asset 'b'"),
    ("    checks: [{sql: 'select * from {this} where'}]\n", "check 'sql': SQL syntax error"),
])
def test_field_rules(tmp_path: Path, extra: str, expected: str) -> None:
    make(tmp_path, {"a.yaml": one_asset(extra=extra)})
    assert expected in errors(tmp_path)


def test_cron_deadline_is_kept(tmp_path: Path) -> None:
    make(tmp_path, {"a.yaml": one_asset(extra="    freshness: {deadline: '30 6 * * 1-5'}\n")})
    assert load_project(tmp_path, use_cache=False).assets["orders"].freshness.cron == "30 6 * * 1-5"


PARTS = """\
assets:
  - name: up
    partitions: {UP}
    source: {table: t}
  - name: down
    partitions: {DOWN}
    deps: [{DEP}]
    materialize: {sql: "select * from up where x = $partition_key"}
"""
DAILY = "{daily: {start: '2026-03-01', column: d}}"
HOURLY = "{hourly: {start: '2026-03-01', column: d}}"
REGIONS = "{static: {values: [APAC, EMEA], column: r}}"


@pytest.mark.parametrize("up, down, dep, expected", [
    (DAILY, REGIONS, "up", "cannot map static partitions onto the daily partitions of 'up' with mapping auto. Use mapping: all"),
    (REGIONS, DAILY, "{asset: up, mapping: identity}", "cannot map daily partitions onto the static partitions"),
    ("{static: {values: [APAC]}}", REGIONS, "up", "static values EMEA are not partitions of 'up'"),
    (REGIONS, REGIONS, "{asset: up, offset: -1}", "mapping offset needs time partitions on both sides"),
    (HOURLY, DAILY, "{asset: up, mapping: identity}", "mapping identity needs equal granularities"),
    (DAILY, DAILY, "{asset: up, mapping: offset}", "mapping offset needs an 'offset'"),
    (DAILY, DAILY, "{asset: up, mapping: all, offset: 1}", "'offset' only applies with mapping offset, not all"),
])
def test_mapping_rules(tmp_path: Path, up: str, down: str, dep: str, expected: str) -> None:
    make(tmp_path, {"a.yaml": PARTS.replace("{UP}", up).replace("{DOWN}", down).replace("{DEP}", dep)})
    text = errors(tmp_path)
    assert "a.yaml:7: asset 'down': " in text and expected in text


@pytest.mark.parametrize("up, down, dep", [
    (HOURLY, DAILY, "up"), (DAILY, HOURLY, "{asset: up, offset: -1}"), (REGIONS, DAILY, "{asset: up, mapping: all}"),
    (REGIONS, "{static: {values: [EMEA], column: r}}", "{asset: up, mapping: identity}"),
])
def test_mappings_that_work(tmp_path: Path, up: str, down: str, dep: str) -> None:
    make(tmp_path, {"a.yaml": PARTS.replace("{UP}", up).replace("{DOWN}", down).replace("{DEP}", dep)})
    assert "down" in load_project(tmp_path, use_cache=False).assets


def test_partition_dates(tmp_path: Path) -> None:
    make(tmp_path, {"a.yaml": """\
        assets:
          - {name: orders, source: {table: t}, partitions: {daily: {start: "2026-03-10", end: "2026-03-01"}}}
          - {name: b, source: {table: t}, partitions: {daily: {start: "2026-02-30"}}}
          - {name: c, source: {table: t}, partitions: {daily: {start: "2026-03-01T05:00"}}}
          - {name: d, source: {table: t}, partitions: {monthly: {start: "2026-03-01", timezone: Mars/Base}}}
        """})
    text = errors(tmp_path)
    assert "a.yaml:2: asset 'orders': the partitions end (2026-03-01) is before their start (2026-03-10)" in text
    assert "a.yaml:3: asset 'b': '2026-02-30' is not a valid date" in text
    assert "'2026-03-01T05:00' has a time, but daily partitions start on a date" in text
    assert "unknown time zone 'Mars/Base'" in text


def test_products_rules(tmp_path: Path) -> None:
    make(tmp_path, {"a.yaml": one_asset() + "products:\n  - {name: p, assets: [orders, b]}\n  - {name: p, assets: [orders]}\n"})
    text = errors(tmp_path)
    assert "a.yaml:5: product 'p' lists unknown asset 'b'" in text
    assert "a.yaml:6: product 'p' is defined twice, first at a.yaml:5" in text


def test_schema_errors_say_where_and_suggest(tmp_path: Path) -> None:
    make(tmp_path, {"a.yaml": "assets:\n  - name: orders\n    materialize:\n      stratgy: table\n      sql: select 1\n"})
    assert ("a.yaml:4: asset 'orders': assets[0].materialize: unknown field 'stratgy'. Did you mean 'strategy'?"
            in errors(tmp_path))


def test_invalid_entries_do_not_cascade(tmp_path: Path) -> None:
    make(tmp_path, {"a.yaml": "assets:\n  - {name: up, colour: red, source: {table: t}}\n"
                              "  - {name: down, deps: [up], materialize: {sql: 'select * from up'}}\n"})
    text = errors(tmp_path)
    assert "unknown field 'colour'" in text and "unknown asset" not in text


# the compiled schema (validate_schema.fast_valid) ---------------------------------------------

def test_the_compiled_schema_is_compiled_from_the_current_schema() -> None:
    from duck_cli.manifest import compiled as manifest_validator
    from duck_cli.manifest.schema import schema_sha256

    assert manifest_validator.SCHEMA_SHA256 == schema_sha256(), (
        "schemas/manifest.schema.json changed: run `python -m duck_cli.manifest.schema`")


def test_compiling_the_schema_gives_a_standalone_validator(tmp_path: Path) -> None:
    import fastjsonschema

    from duck_cli.manifest import compiled as manifest_validator
    from duck_cli.manifest.schema import compile_schema

    text = compile_schema()
    assert "import fastjsonschema" not in text and "from fastjsonschema" not in text
    assert fastjsonschema.VERSION == manifest_validator.VERSION  # the version pyproject pins
    assert text == Path(manifest_validator.__file__).read_text(encoding="utf-8")
    (tmp_path / "compiled.py").write_text(text, encoding="utf-8")
    code = "import compiled; compiled.validate({'assets': [{'name': 'a', 'source': {'table': 't'}}]})"
    ok = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([sys.executable, "-c", code.replace("'t'", "7")], cwd=tmp_path,
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "JsonSchemaValueException" in bad.stderr


def test_a_valid_project_loads_without_jsonschema(trips: Path) -> None:
    code = ("import sys; from pathlib import Path; from duck_cli.manifest.load import load_project; "
            f"load_project(Path({str(trips)!r}), use_cache=False); "
            "print('jsonschema' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_a_stale_compiled_schema_is_not_trusted(trips: Path, monkeypatch) -> None:
    from duck_cli.manifest import compiled as manifest_validator
    from duck_cli.manifest import schema as validate_schema

    validate_schema._compiled_check.cache_clear()
    monkeypatch.setattr(manifest_validator, "SCHEMA_SHA256", "0" * 64)
    try:
        assert not validate_schema.fast_valid({"assets": [{"name": "a", "source": {"table": "t"}}]})
        assert set(load_project(trips, use_cache=False).assets) >= {"raw_trips", "zones"}
        make(trips, {"models/bad.yaml": "assets:\n  - {name: x, colour: red, source: {table: t}}\n"})
        assert "unknown field 'colour'" in errors(trips)
    finally:
        validate_schema._compiled_check.cache_clear()


# SQL ------------------------------------------------------------------------------------------

def test_inline_sql_syntax_error_points_at_the_manifest_line(tmp_path: Path) -> None:
    make(tmp_path, {"a.yaml": "assets:\n  - name: orders\n    materialize:\n      sql: |\n        select 1\n"
                              "        from t where )\n"})
    assert 'a.yaml:6: asset \'orders\': SQL syntax error: syntax error at or near ")" (column' in errors(tmp_path)


def test_sql_file_syntax_error_points_into_the_file(tmp_path: Path) -> None:
    make(tmp_path, {"m/a.yaml": "assets:\n  - {name: orders, materialize: {sql_file: q/a.sql}}\n",
                    "m/q/a.sql": "select 1\n\n  frm t\n"})
    assert "m/q/a.sql:3: asset 'orders': SQL syntax error" in errors(tmp_path)


@pytest.mark.parametrize("sql, expected", [
    ("create table x as select 1", "a materialization is one SELECT statement"),
    ("select 1; select 2", "the SQL holds 2 statements, but a materialization is one SELECT statement"),
    ("select $when as x", "the SQL uses parameter $when, which duck does not bind"),
    ("select $partition_start as x", "uses $partition_start but the asset is not partitioned"),
])
def test_sql_must_be_one_select(tmp_path: Path, sql: str, expected: str) -> None:
    make(tmp_path, {"a.yaml": one_asset(sql)})
    assert expected in errors(tmp_path)


def test_reads_versus_deps_warnings(tmp_path: Path) -> None:
    make(tmp_path, {"a.yaml": """\
        assets:
          - {name: up, source: {table: raw.up}}
          - {name: other, source: {table: o}}
          - name: down
            deps: [other]
            materialize: {sql: "select * from up join mystery using (k) join raw.up using (k)"}
        """})
    project = load_project(tmp_path, use_cache=False)
    assert project.assets["down"].reads == ("up", "mystery", "raw.up")
    text = "\n".join(w.render() for w in project.warnings)
    assert all(w.severity == "warning" for w in project.warnings)
    assert "a.yaml:6: asset 'down': reads asset 'up' but does not list it in deps. Add it to deps" in text
    assert "reads table 'mystery' which is not declared in deps" in text
    assert "a.yaml:5: asset 'down': lists 'other' in deps but its SQL does not read it" in text


def test_incremental_sql_without_partition_filter_warns(tmp_path: Path) -> None:
    make(tmp_path, {"a.yaml": "assets:\n  - name: orders\n    partitions: {daily: {start: '2026-03-01', column: d}}\n"
                              "    materialize: {sql: 'select current_date as d'}\n"})
    (warning,) = load_project(tmp_path, use_cache=False).warnings
    assert warning.render() == (
        "a.yaml:4: asset 'orders': is built one partition at a time, but its SQL uses none of $partition_start, "
        "$partition_end, $partition_key. Filter to one partition, e.g. where d >= $partition_start and "
        "d < $partition_end.")


def test_unpartitioned_filters_are_not_needed(tmp_path: Path) -> None:
    make(tmp_path, {"a.yaml": one_asset("with t as (select 1 as x) select * from t")})
    project = load_project(tmp_path, use_cache=False)
    assert project.assets["orders"].reads == () and project.warnings == ()


# code versions --------------------------------------------------------------------------------

def _version(root: Path, sql: str, partitions: str = "") -> str:
    make(root, {"a.yaml": f"assets:\n  - name: orders\n{partitions}    materialize:\n      sql: |\n"
                          + textwrap.indent(sql, "        ")})
    return load_project(root, use_cache=False).assets["orders"].code_version


def test_formatting_keeps_the_code_version(tmp_path: Path) -> None:
    base = _version(tmp_path, "select x, y from t where x > 1\n")
    same = _version(tmp_path, "SELECT  x,\n   y -- the y\nFROM t\n/* filter */ WHERE x > 1\n")
    other = _version(tmp_path, "select x, y from t where x > 2\n")
    assert base == same != other


def test_partition_range_does_not_change_the_version(tmp_path: Path) -> None:
    sql = "select * from t where d = $partition_key\n"
    one = _version(tmp_path, sql, "    partitions: {daily: {start: '2026-03-01', column: d}}\n")
    two = _version(tmp_path, sql, "    partitions: {daily: {start: '2026-01-01', end: '2027-01-01', column: d}}\n")
    three = _version(tmp_path, sql, "    partitions: {daily: {start: '2026-03-01', column: e}}\n")
    assert one == two != three


# the cache ------------------------------------------------------------------------------------

def test_cache_hit_returns_an_equal_project(trips: Path) -> None:
    first = load_project(trips)
    assert len(list((trips / CACHE_DIR).glob("project-*.pickle"))) == 1
    assert load_project(trips) == first == load_project(trips, use_cache=False)


def test_cache_hit_imports_neither_jsonschema_nor_duckdb(trips: Path) -> None:
    load_project(trips)
    code = ("import sys; from pathlib import Path; from duck_cli.manifest.load import load_project; "
            f"load_project(Path({str(trips)!r})); "
            "print(sorted(m for m in ('jsonschema', 'duckdb', 'yaml', 'duck_cli.manifest.compiled') "
            "if m in sys.modules))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("settings, yaml_read", [("threads: 2\nwait: 5\n", False),
                                                  ("paths: [models]\n", True)])
def test_cache_hit_reads_duck_yaml_as_yaml_only_when_it_may_name_paths(
        trips: Path, settings: str, yaml_read: bool) -> None:
    """Finding the manifests needs duck.yaml's paths and ignore: without either word in the
    file, a cached project starts without importing (or running) the YAML parser."""
    (trips / "duck.yaml").write_text(settings)
    assert list(load_project(trips).assets) == ["daily_revenue", "raw_trips", "zone_metrics",
                                                "zones"]
    code = ("import sys; from pathlib import Path; from duck_cli.manifest.load import load_project; "
            f"p = load_project(Path({str(trips)!r})); "
            "print(len(p.assets), 'yaml' in sys.modules, 'duck_cli.manifest.validate' in sys.modules)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["4", str(yaml_read), "False"]


def test_cache_is_invalidated_by_edits(trips: Path) -> None:
    load_project(trips)
    sql = trips / "models/zone_metrics.sql"
    sql.write_text(ZONE_SQL.replace("sum(fare)", "sum(fare) + 1"))
    changed = load_project(trips)
    assert "+ 1" in changed.assets["zone_metrics"].materialize.sql
    (trips / "models/trips.yaml").write_text(TRIPS.replace("team:finance", "team:money"))
    assert load_project(trips).products["revenue_dashboard"].owner == "team:money"
    make(trips, {"duck.yaml": "threads: 2\n"})
    assert load_project(trips).settings.threads == 2


def test_invalid_projects_are_not_cached(trips: Path) -> None:
    load_project(trips)
    (trips / "models/zone_metrics.sql").unlink()
    with pytest.raises(ManifestError):
        load_project(trips)


def test_corrupt_cache_is_ignored_and_few_files_are_kept(trips: Path) -> None:
    load_project(trips)
    for entry in (trips / CACHE_DIR).glob("*.pickle"):
        entry.write_bytes(b"not a pickle")
    assert "zones" in load_project(trips).assets
    for n in range(6):
        (trips / "models/extra.yaml").write_text(one_asset(f"select {n} as x"))
        load_project(trips)
    assert len(list((trips / CACHE_DIR).glob("project-*.pickle"))) <= 3


def test_unwritable_cache_never_fails(trips: Path) -> None:
    (trips / ".duck").mkdir()
    (trips / CACHE_DIR).write_text("a file where the cache folder should be")
    assert "zones" in load_project(trips).assets


def test_schema_file_is_valid_json_schema() -> None:
    from jsonschema import Draft202012Validator

    schema = json.loads((ROOT / "schemas" / "manifest.schema.json").read_text())
    Draft202012Validator.check_schema(schema)


def test_qualified_reads_are_matched_with_the_assets_schema(tmp_path: Path) -> None:
    make(tmp_path, {"a.yaml": """\
        assets:
          - {name: orders, schema: marts, materialize: {sql: select 1 as k}}
          - {name: people, materialize: {sql: select 1 as k}}
          - name: down
            deps: [orders, people]
            materialize:
              sql: |
                select * from marts.orders
                join warehouse.main.people using (k)
          - name: also
            deps: [orders]
            materialize: {sql: "select * from wh.marts.orders"}
        """})
    project = load_project(tmp_path, use_cache=False)
    assert project.assets["orders"].relation == "marts.orders"
    assert project.assets["down"].reads == ("marts.orders", "warehouse.main.people")
    assert project.warnings == ()  # each qualified read names a declared dep where it lives


@pytest.mark.parametrize("read, line", [("staging.orders", 8), ("main.orders", 8),
                                        ("wh.staging.orders", 8), ("marts.people", 9)])
def test_a_read_in_another_schema_is_an_error_naming_the_right_one(tmp_path: Path, read: str,
                                                                   line: int) -> None:
    make(tmp_path, {"a.yaml": f"""\
        assets:
          - {{name: orders, schema: marts, materialize: {{sql: select 1 as k}}}}
          - {{name: people, materialize: {{sql: select 1 as k}}}}
          - name: down
            deps: [orders, people]
            materialize:
              sql: |
                select * from {read if read.endswith("orders") else "orders"}
                join {read if read.endswith("people") else "people"} using (k)
        """})
    with pytest.raises(ManifestError) as err:
        load_project(tmp_path, use_cache=False)
    [problem] = err.value.problems()
    right = "marts.orders" if read.endswith("orders") else "main.people"
    assert (problem.file, problem.line) == ("a.yaml", line)
    assert problem.message == (f"reads '{read}', but asset '{read.split('.')[-1]}' lives in "
                               f"schema {right.split('.')[0]}")
    assert problem.hint.startswith(f"Read it as {right}")


def test_schema_names_and_defaults_are_validated(tmp_path: Path) -> None:
    make(tmp_path, {"a.yaml": "assets:\n  - {name: x, schema: a__b, materialize: {sql: select 1}}\n"})
    assert "is not a valid schema name" in errors(tmp_path)
    (tmp_path / "duck.yaml").write_text("schemas: {models: Marts}\n")
    assert "'schemas' must be a mapping of folders" in errors(tmp_path)
