"""Reusable checks: defined once under check_definitions (a DuckDB table macro over the checked
rows), used on many assets by name with their parameters."""

from __future__ import annotations

import pytest

from conftest import Duck, catalog_rows, warehouse_rows

NOW = "2026-03-05T07:30:00+00:00"

MANIFEST = """\
check_definitions:
  - name: at_least
    description: No value of the column below the minimum.
    parameters: [col, minimum]
    sql: "select * from {this} where COLUMNS(col) < minimum"

assets:
  - name: orders
    materialize: {sql: "select * from (values (1, 10, 3), (2, 20, 0)) t(id, amount, items)"}
    checks:
      - {name: amount_min, use: at_least, with: {col: amount, minimum: 5}}
  - name: refunds
    materialize: {sql: "select * from (values (1, -4)) t(id, amount)"}
    checks:
      - {name: refund_min, use: at_least, with: {col: amount, minimum: 0}, severity: warn}
"""


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    (root / "m.yaml").write_text(MANIFEST)
    return root


def test_a_definition_is_used_on_many_assets(root):
    duck = Duck(root, NOW)
    duck("materialize")  # refund_min fails, but only warns
    results = dict(catalog_rows(root, "SELECT check_name, observed FROM check_results"))
    assert results == {"amount_min": "0 rows failing", "refund_min": "1 row failing"}


def test_a_failing_use_blocks_the_publish(root):
    (root / "m.yaml").write_text(MANIFEST.replace("minimum: 5", "minimum: 15"))
    result = Duck(root, NOW)("materialize", "orders", expect=1)
    assert "amount_min failed" in result.output and "use(at_least, col=amount, minimum=15)" \
        in result.output
    assert warehouse_rows(root, "SELECT count(*) FROM duckdb_tables() "
                                "WHERE table_name = 'orders'") == [(0,)]


def test_duck_check_runs_uses_on_published_data(root):
    duck = Duck(root, NOW)
    duck("materialize")
    doc = duck.json("check", expect=None)
    assert {r["name"]: r["passed"] for r in doc["results"]} == {"amount_min": True,
                                                                "refund_min": False}


def test_unknown_definitions_and_parameters_are_validation_errors(root):
    bad = MANIFEST.replace("use: at_least, with: {col: amount, minimum: 5}",
                           "use: at_lest, with: {col: amount}")
    bad = bad.replace("with: {col: amount, minimum: 0}", "with: {col: amount}")
    (root / "m.yaml").write_text(bad)
    result = Duck(root, NOW)("validate", expect=2)
    assert "m.yaml:11:" in result.output and "uses 'at_lest'" in result.output
    assert "did you mean" in result.output.lower() and "at_least" in result.output
    assert "check 'refund_min' lacks parameter 'minimum'" in result.output
