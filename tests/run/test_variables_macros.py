"""Variables (duck.yaml vars, --var) and macros (macros/*.sql): bound in every session, and part
of the code version of exactly the assets that read or call them."""

from __future__ import annotations

import pytest

from conftest import Duck, warehouse_rows

NOW = "2026-03-05T07:30:00+00:00"

ASSETS = """\
assets:
  - name: orders
    materialize:
      sql: "select * from (values (1, 'EU', 250), (2, 'US', 900), (3, 'EU', 40)) t(id, region, amount)"
  - name: regional
    deps: [orders]
    materialize: {sql: "select id, cents(amount) as amount_cents from orders where region = getvariable('region')"}
  - name: large
    deps: [orders]
    materialize: {sql: "select id from orders where amount >= getvariable('min_amount')"}
  - name: top
    deps: [orders]
    materialize: {sql: "select id from top_orders(2)"}
  - name: plain
    deps: [orders]
    materialize: {sql: "select count(*) as n from orders"}
"""

MACROS = """\
-- money helpers
CREATE MACRO cents(x) AS x * 100;

CREATE MACRO top_orders(n) AS TABLE
  SELECT * FROM orders ORDER BY amount DESC LIMIT n;
"""


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "p"
    (root / "macros").mkdir(parents=True)
    (root / "duck.yaml").write_text("vars: {region: EU, min_amount: 100}\n")
    (root / "shop.yaml").write_text(ASSETS)
    (root / "macros" / "money.sql").write_text(MACROS)
    return root


def rows(root, table):
    return warehouse_rows(root, f"SELECT * FROM {table} ORDER BY ALL")


def planned(duck, *args):
    """{asset: reasons} of the steps `duck plan` would run."""
    doc = duck.json("plan", *args)
    return {s["asset"]: s["reasons"] for s in doc["steps"]}


def test_variables_and_macros_are_bound_in_the_session(root):
    duck = Duck(root, NOW)
    duck("materialize")
    assert rows(root, "regional") == [(1, 25000), (3, 4000)]
    assert rows(root, "large") == [(1,), (2,)]
    assert rows(root, "top") == [(1,), (2,)]
    assert planned(Duck(root, NOW)) == {}


def test_a_changed_variable_replans_exactly_its_readers(root):
    duck = Duck(root, NOW)
    duck("materialize")
    steps = planned(duck, "--var", "region=US")
    assert list(steps) == ["regional"]
    assert any("variable region changed" in r for r in steps["regional"]), steps
    duck("materialize", "--var", "region=US")
    assert rows(root, "regional") == [(2, 90000)]
    assert planned(duck, "--var", "region=US") == {}
    # duck.yaml's value again: stale again, for the same reason
    assert list(planned(duck)) == ["regional"]


def test_a_var_is_typed_as_yaml_reads_it(root):
    duck = Duck(root, NOW)
    duck("materialize", "--var", "min_amount=300")
    assert rows(root, "large") == [(2,)]


def test_a_changed_macro_replans_exactly_its_callers(root):
    duck = Duck(root, NOW)
    duck("materialize")
    (root / "macros" / "money.sql").write_text(MACROS.replace("x * 100", "round(x * 100)"))
    steps = planned(duck)
    assert list(steps) == ["regional"]
    assert any("macro cents changed" in r for r in steps["regional"]), steps
    (root / "macros" / "money.sql").write_text(MACROS.replace("LIMIT n", "LIMIT n + 1"))
    steps = planned(duck)
    assert list(steps) == ["top"]  # cents is back as regional was built with it
    assert any("macro top_orders changed" in r for r in steps["top"]), steps


def test_macros_exist_on_worker_connections(root):
    duck = Duck(root, NOW)
    duck("materialize", "--jobs", "2")
    assert rows(root, "regional") == [(1, 25000), (3, 4000)]
    assert rows(root, "top") == [(1,), (2,)]


def test_an_undefined_variable_is_a_validation_error(root):
    (root / "duck.yaml").write_text("vars: {region: EU}\n")
    result = Duck(root, NOW)("validate", expect=2)
    assert "shop.yaml:" in result.output
    assert "reads variable 'min_amount'" in result.output
    assert "--var min_amount=VALUE" in result.output
    Duck(root, NOW)("validate", "--var", "min_amount=5")


def test_bad_var_and_bad_macro_file(root):
    duck = Duck(root, NOW)
    result = duck("plan", "--var", "region", expect=2)
    assert "--var 'region' is not name=value" in result.output
    (root / "macros" / "bad.sql").write_text("SELECT 1;\n")
    result = duck("validate", expect=2)
    assert "macros/bad.sql:1" in result.output and "only CREATE MACRO" in result.output
    (root / "macros" / "bad.sql").write_text("CREATE MACRO broken(x) AS x +;\n")
    result = duck("validate", expect=2)
    assert "macros/bad.sql" in result.output and "syntax error" in result.output


def test_a_bad_var_setting(root):
    (root / "duck.yaml").write_text("vars: {region: [EU, US]}\n")
    result = Duck(root, NOW)("validate", expect=2)
    assert "duck.yaml:1: 'vars' must be a mapping of variable names" in result.output
