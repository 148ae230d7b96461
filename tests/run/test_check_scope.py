"""Check scope: unique, relationships and sql checks on a partitioned asset look at the whole
table that the publish would leave (the staged slice with the published partitions it does
not replace), unless ``scope: partition`` narrows them to the slice being built."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import Duck, catalog_rows, warehouse_rows
from modelling_project import project_with, write_orders

NOW = "2026-03-05T07:30:00+00:00"


def orders_asset(check: str) -> str:
    return f"""\
  - name: orders
    deps: [raw_orders]
    partitions: {{daily: {{start: "2026-03-01", end: "2026-03-10", column: order_date}}}}
    materialize:
      sql: >
        select order_id, cast(order_date as date) as order_date, customer, amount
        from raw_orders where order_date >= $partition_start and order_date < $partition_end
    checks:
      - {check}
"""


@pytest.fixture
def orders(tmp_path):
    def make(check: str = "{name: one_row_per_order, unique: [order_id]}"):
        root = project_with(tmp_path / "p", orders_asset(check))
        write_orders(root, "2026-03-01", [(1, "ann", 10), (2, "bob", 20)])
        write_orders(root, "2026-03-02", [(3, "ann", 5)])
        return root
    return make


def published(root):
    return warehouse_rows(root, "SELECT order_id, order_date::VARCHAR FROM orders ORDER BY ALL")


def test_a_key_repeated_in_another_partition_fails_before_publish(orders):
    root = orders()
    duck = Duck(root, NOW)
    duck("materialize", "orders", "--partition", "2026-03-01")
    write_orders(root, "2026-03-02", [(3, "ann", 5), (1, "cat", 7)])  # order 1 again, a day later
    result = duck("materialize", "orders", "--partition", "2026-03-02", expect=1)
    assert "one_row_per_order failed" in result.output
    assert "1 duplicate key" in result.output
    # the previous data stays: only the first day is published
    assert published(root) == [(1, "2026-03-01"), (2, "2026-03-01")]
    [(passed, observed)] = catalog_rows(root, "SELECT passed, observed FROM check_results "
                                              "WHERE partition_key = '2026-03-02'")
    assert (passed, observed) == (False, "1 duplicate key")


def test_rebuilding_a_partition_does_not_collide_with_itself(orders):
    root = orders()
    duck = Duck(root, NOW)
    duck("materialize", "orders")
    duck("materialize", "orders", "--partition", "2026-03-01", "--force")
    assert published(root) == [(1, "2026-03-01"), (2, "2026-03-01"), (3, "2026-03-02")]


def test_scope_partition_checks_only_the_slice(orders):
    root = orders("{name: one_row_per_order, unique: [order_id], scope: partition}")
    write_orders(root, "2026-03-02", [(3, "ann", 5), (1, "cat", 7)])
    duck = Duck(root, NOW)
    duck("materialize", "orders")
    assert published(root) == [(1, "2026-03-01"), (1, "2026-03-02"), (2, "2026-03-01"),
                               (3, "2026-03-02")]


def test_duck_check_on_published_data_sees_the_whole_table(orders):
    root = orders("{name: one_row_per_order, unique: [order_id], severity: warn}")
    write_orders(root, "2026-03-02", [(3, "ann", 5), (1, "cat", 7)])
    duck = Duck(root, NOW)
    duck("materialize", "orders")  # a warning does not block
    doc = duck.json("check", "orders", expect=None)
    observed = {(r["partition"], r["name"]): r["observed"] for r in doc["results"]}
    assert observed == {("2026-03-01", "one_row_per_order"): "1 duplicate key",
                        ("2026-03-02", "one_row_per_order"): "1 duplicate key"}


def test_a_custom_sql_check_sees_the_whole_table(orders):
    # at most one order per customer per table: ann's second order is on another day
    check = ("{name: one_order_each, sql: \"select customer from {this} group by customer "
             "having count(*) > 1\"}")
    root = orders(check)
    write_orders(root, "2026-03-01", [(1, "ann", 10), (2, "bob", 20)])
    duck = Duck(root, NOW)
    duck("materialize", "orders", "--partition", "2026-03-01")
    result = duck("materialize", "orders", "--partition", "2026-03-02", expect=1)
    assert "one_order_each failed" in result.output
    assert published(root) == [(1, "2026-03-01"), (2, "2026-03-01")]


def test_relationships_over_the_whole_table(tmp_path):
    # every order's customer must be in customers: yesterday's published orders count too
    customers = """\
  - name: customers
    materialize: {sql: "select * from (values ('ann'), ('bob')) t(name)"}
"""
    manifest = orders_asset(
        "{name: known_customer, relationships: {column: customer, to: customers, field: name}}")
    root = project_with(tmp_path / "p", manifest + customers)
    write_orders(root, "2026-03-01", [(1, "ann", 10)])
    write_orders(root, "2026-03-02", [(2, "bob", 20)])
    duck = Duck(root, NOW)
    duck("materialize", "customers")
    duck("materialize", "orders", "--partition", "2026-03-01")
    project_with(root, manifest + customers.replace("('ann'), ", ""))  # ann leaves
    duck("materialize", "customers")
    result = duck("materialize", "orders", "--partition", "2026-03-02", expect=1)
    assert "known_customer failed" in result.output and "ann" in result.output
    assert published(root) == [(1, "2026-03-01")]


DAYS = ("2026-03-01", "2026-03-02", "2026-03-03")


@st.composite
def publish_cases(draw):
    """Published days holding distinct keys, a day to rebuild and the keys its new slice holds."""
    keys = draw(st.lists(st.integers(1, 12), unique=True, max_size=9))
    cuts = sorted(draw(st.lists(st.integers(0, len(keys)), min_size=2, max_size=2)))
    slices = (keys[:cuts[0]], keys[cuts[0]:cuts[1]], keys[cuts[1]:])
    # each day also holds a key of its own: a CSV file needs a row to have column types
    published_days = {d: [100 + i, *ks] for i, (d, ks) in enumerate(zip(DAYS, slices))}
    day = draw(st.sampled_from(DAYS))
    return published_days, day, draw(st.lists(st.integers(1, 12), max_size=5)) + [200]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(publish_cases())
def test_whole_table_unique_fails_exactly_when_the_result_repeats_a_key(case):
    published_days, day, new_keys = case
    with tempfile.TemporaryDirectory() as tmp:
        root = project_with(Path(tmp) / "p", orders_asset("{name: uniq, unique: [order_id]}"))
        for d, keys in published_days.items():
            write_orders(root, d, [(k, "x", 1) for k in keys])
        duck = Duck(root, "2026-03-04T07:30:00+00:00")
        duck("materialize", "orders")
        before = published(root)
        write_orders(root, day, [(k, "y", 2) for k in new_keys])
        result = duck("materialize", "orders", "--partition", day, "--force", expect=None)
        others = [k for d, keys in published_days.items() if d != day for k in keys]
        repeats = any(n > 1 for n in Counter(others + new_keys).values())
        assert result.exit_code == (1 if repeats else 0), result.output
        if repeats:
            assert published(root) == before


def test_a_reusable_check_sees_the_whole_table(tmp_path):
    definition = """\
check_definitions:
  - name: unique_by
    parameters: [col]
    sql: "select COLUMNS(col) from {this} group by all having count(*) > 1"
"""
    root = project_with(tmp_path / "p", orders_asset("{name: once, use: unique_by, with: {col: order_id}}"))
    (root / "defs.yaml").write_text(definition)
    write_orders(root, "2026-03-01", [(1, "ann", 10)])
    write_orders(root, "2026-03-02", [(1, "bob", 20)])
    duck = Duck(root, NOW)
    duck("materialize", "orders", "--partition", "2026-03-01")
    result = duck("materialize", "orders", "--partition", "2026-03-02", expect=1)
    assert "once failed" in result.output
    assert published(root) == [(1, "2026-03-01")]


def test_the_readme_and_the_schema_say_whole_table_is_the_default():
    """What the two tests above show (no scope: the whole table; scope: partition: the slice)
    is what a user reads."""
    root = Path(__file__).resolve().parents[2]
    readme = " ".join((root / "README.md").read_text().split())
    assert ("On a partitioned asset, `unique`, `relationships` and `sql` checks cover the whole "
            "table by default") in readme
    assert "`scope: partition` limits them to the partitions being built" in readme
    schema = (root / "schemas" / "manifest.schema.json").read_text()
    assert "Default: table for unique, relationships and sql" in schema
