"""Column contracts: `duck validate` compares them with the SQL's own output schema (nothing
built), a step whose staged data breaks them fails before publish, and their descriptions
reach `duck graph --format json`."""

from __future__ import annotations

import json

import pytest

from conftest import Duck, catalog_rows, warehouse_rows

NOW = "2026-03-05T07:30:00+00:00"

MANIFEST = """\
assets:
  - name: orders
    description: One row per order.
    materialize:
      sql: "select 1::bigint as order_id, 2.5::double as amount, 'EU' as region"
    columns:
      - {name: order_id, type: bigint, not_null: true, description: The order's id.}
      - {name: amount, type: DOUBLE}
      - {name: region, type: text}
  - name: by_region
    deps: [orders]
    materialize: {sql: "select region, sum(amount) as amount from orders group by region"}
    columns:
      - {name: region, type: VARCHAR}
      - {name: amount, type: DOUBLE}
"""


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    (root / "shop.yaml").write_text(MANIFEST)
    return root


def test_a_contract_that_matches_validates_with_nothing_built(root):
    Duck(root, NOW)("validate")
    assert not (root / ".duck" / "warehouse.duckdb").exists()


def test_validate_reports_drift_with_file_and_line(root):
    (root / "shop.yaml").write_text(MANIFEST.replace("2.5::double as amount", "'2.5' as amount"))
    result = Duck(root, NOW)("validate", expect=2)
    assert "shop.yaml:7:" in result.output
    assert "column 'amount' is VARCHAR, declared DOUBLE" in result.output
    # downstream is described over orders' declared columns, not built: no drift there
    assert "by_region" not in result.output
    assert not (root / ".duck" / "warehouse.duckdb").exists()


def test_validate_reports_missing_and_undeclared_columns(root):
    (root / "shop.yaml").write_text(MANIFEST.replace(", 'EU' as region", ", 'EU' as area"))
    result = Duck(root, NOW)("validate", expect=2)
    assert "column 'region' is missing" in result.output
    assert "column 'area' is not declared" in result.output


def test_a_type_change_at_run_time_fails_before_publish(root):
    duck = Duck(root, NOW)
    duck("materialize")
    assert warehouse_rows(root, "SELECT order_id, amount FROM orders") == [(1, 2.5)]
    # a change validate cannot see: the SQL's type depends on data (a variable here)
    (root / "duck.yaml").write_text("vars: {amount: '2.5'}\n")
    (root / "shop.yaml").write_text(MANIFEST.replace("2.5::double as amount",
                                                     "getvariable('amount') as amount"))
    result = duck("materialize", "orders", expect=1)
    assert "does not match the column contract" in result.output
    assert "Declared (order_id BIGINT NOT NULL, amount DOUBLE, region VARCHAR)" in result.output
    assert "staged (order_id BIGINT, amount VARCHAR, region VARCHAR)" in result.output
    assert warehouse_rows(root, "SELECT order_id, amount FROM orders") == [(1, 2.5)]
    [(kind,)] = catalog_rows(root, "SELECT error_kind FROM steps WHERE status = 'failed'")
    assert kind == "contract"


def test_not_null_is_enforced_on_staged_data(root):
    duck = Duck(root, NOW)
    (root / "shop.yaml").write_text(MANIFEST.replace("1::bigint as order_id",
                                                     "null::bigint as order_id"))
    result = duck("materialize", "orders", expect=1)
    assert "column 'order_id' holds 1 NULL(s), declared not_null" in result.output
    assert warehouse_rows(root, "SELECT count(*) FROM duckdb_tables() "
                                "WHERE table_name = 'orders'") == [(0,)]


def test_descriptions_reach_the_graph_document(root):
    doc = json.loads(Duck(root, NOW)("graph", "--format", "json").stdout)
    orders = next(n for n in doc["nodes"] if n["name"] == "orders")
    assert orders["description"] == "One row per order."
    assert orders["columns"][0] == {"name": "order_id", "type": "bigint", "not_null": True,
                                    "description": "The order's id."}


def test_a_changed_contract_replans_the_asset(root):
    duck = Duck(root, NOW)
    duck("materialize")
    (root / "shop.yaml").write_text(MANIFEST.replace("{name: amount, type: DOUBLE}",
                                                     "{name: amount, type: DOUBLE, not_null: true}"))
    steps = {s["asset"] for s in duck.json("plan")["steps"]}
    assert steps == {"orders", "by_region"}
    reasons = {s["asset"]: s["reasons"] for s in duck.json("plan")["steps"]}
    assert any("column amount not_null added; breaking: downstream is rebuilt" in r
               for r in reasons["orders"])


def _change(root, *edits: tuple[str, str]) -> None:
    text = MANIFEST
    for old, new in edits:
        assert old in text
        text = text.replace(old, new)
    (root / "shop.yaml").write_text(text)


def test_an_added_nullable_column_replans_the_asset_but_not_its_downstream(root):
    duck = Duck(root, NOW)
    assert duck("materialize").exit_code == 0
    _change(root, ("'EU' as region\"", "'EU' as region, 'gift' as note\""),
            ("      - {name: region, type: text}\n",
             "      - {name: region, type: text}\n      - {name: note, type: varchar}\n"))
    [step] = duck.json("plan")["steps"]
    assert step["asset"] == "orders"
    assert any("contract changed (column note added (nullable); not breaking: downstream is "
               "kept)" in r for r in step["reasons"])
    assert duck("materialize").exit_code == 0
    assert warehouse_rows(root, "SELECT note FROM orders") == [("gift",)]
    assert duck.json("plan")["steps"] == []  # by_region is not stale after the rebuild either
    assert catalog_rows(root, "SELECT asset, count(*) FROM materializations GROUP BY asset "
                              "ORDER BY asset") == [("by_region", 1), ("orders", 2)]
    status = {a["name"]: a["state"] for a in duck.json("status")["assets"]}
    assert status == {"orders": "fresh", "by_region": "fresh"}
    # a breaking change later still reaches by_region
    _change(root, ("2.5::double as amount", "2.5::float as amount"),
            ("{name: amount, type: DOUBLE}\n      - {name: region",
             "{name: amount, type: FLOAT}\n      - {name: region"))
    assert {s["asset"] for s in duck.json("plan")["steps"]} == {"orders", "by_region"}


@pytest.mark.parametrize("edits, words", [
    ([("2.5::double as amount", "2.5::float as amount"),
      ("{name: amount, type: DOUBLE}\n      - {name: region",
       "{name: amount, type: FLOAT}\n      - {name: region")],
     "column amount type changed"),
    ([("select 1::bigint as order_id, ", "select "),
      ("      - {name: order_id, type: bigint, not_null: true, description: The order's id.}\n", "")],
     "column order_id removed"),
    ([("'EU' as region\"", "'EU' as region, 'gift' as note\""),
      ("      - {name: region, type: text}\n",
       "      - {name: region, type: text}\n      - {name: note, type: varchar, not_null: true}\n")],
     "column note added (not_null)"),
])
def test_a_breaking_contract_change_rebuilds_downstream_and_says_why(root, edits, words):
    duck = Duck(root, NOW)
    assert duck("materialize").exit_code == 0
    _change(root, *edits)
    steps = {s["asset"]: s["reasons"] for s in duck.json("plan")["steps"]}
    assert set(steps) == {"orders", "by_region"}
    assert any(f"contract changed ({words}; breaking: downstream is rebuilt)" in r
               for r in steps["orders"])
    assert duck("materialize").exit_code == 0
    assert duck.json("plan")["steps"] == []


def test_a_type_written_another_way_is_no_change(root):
    duck = Duck(root, NOW)
    assert duck("materialize").exit_code == 0
    _change(root, ("{name: region, type: text}", "{name: region, type: VARCHAR}"))
    assert duck.json("plan")["steps"] == []
