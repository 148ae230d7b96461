"""`duck reconcile` and `duck plan`: the smallest useful recovery path, deterministic.

The property test checks reconcile against a brute-force oracle on random graphs: the planned
step set equals the smallest set of rebuilds that makes every fixable target healthy.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings

from conftest import run_count, warehouse_rows
from duck_cli.plan import builder as planner
from duck_cli.health.state import State

FRESH = State.FRESH

from worlds import NOW, _name, assessed, worlds  # noqa: F401


def _oracle(n, n_sources, ups, health_state, targets, selected):
    """Smallest rebuild set after which every fixable target is healthy and no healthy selected
    asset has turned stale by reading what was rebuilt (brute force over every subset)."""
    def closure(i):
        seen, stack = set(), [i]
        while stack:
            for u in ups.get(stack.pop(), []):
                if u not in seen:
                    seen.add(u)
                    stack.append(u)
        return seen

    health_fresh = {i: state == FRESH for i, state in health_state.items()}

    def healthy_after(rebuilt):
        """Health after rebuilding ``rebuilt``: readers of a rebuilt or stale partition turn
        stale (and so do their readers), as duck's health rules say."""
        out, stale = {}, {}
        for i in range(n):
            if i < n_sources:
                out[i], stale[i] = health_fresh[i], False
            elif i in rebuilt:
                out[i], stale[i] = all(out[u] for u in ups[i]), False
            else:
                touched = any(u in rebuilt or stale[u] for u in ups[i])
                out[i] = health_fresh[i] and not touched
                stale[i] = health_state[i] in (FRESH, "stale") and (
                    health_state[i] == "stale" or touched)
        return out

    def fixable(i):
        return all(health_fresh[u] for u in closure(i) if u < n_sources)

    candidates = list(range(n_sources, n))
    for size in range(len(candidates) + 1):
        for combo in itertools.combinations(candidates, size):
            rebuilt = set(combo)
            after = healthy_after(rebuilt)
            must = {t for t in targets if fixable(t)} | {  # and nothing selected breaks
                i for i in selected if fixable(i) and health_fresh[i] and not after[i]}
            if all(after[t] for t in must):
                return rebuilt, [t for t in targets if fixable(t)]
    raise AssertionError("no rebuild set found")


@settings(max_examples=300, deadline=None)
@given(worlds())
def test_reconcile_is_the_smallest_useful_recovery(world):
    n, n_sources, ups, _states, selected = world
    project, graph, _snap, health = assessed(world)
    states = {i: health.assets[_name(i)].partitions[""].state for i in range(n)}
    fresh = {i: state == FRESH for i, state in states.items()}
    targets = [i for i in selected if not fresh[i]]
    plan = planner.for_reconcile(project, health, graph.order, [_name(i) for i in selected],
                                 retry_failed=True, batch_size=1)
    planned = {int(s.asset[1:]) for s in plan.steps}
    expected, fixable = _oracle(n, n_sources, ups, states, targets, selected)
    assert planned == expected
    held = {int(h.asset[1:]) for h in plan.held if h.status != "fresh"}
    assert set(targets) - set(fixable) <= held
    # never a healthy partition that no target depends on
    for i in planned:
        assert not fresh[i] or any(u in planned for u in ups.get(i, []))
    # steps run upstream first
    order = [int(s.asset[1:]) for s in plan.steps]
    for pos, i in enumerate(order):
        assert all(order.index(u) < pos for u in ups.get(i, []) if u in planned)


@pytest.mark.materialized
def test_reconcile_reports_a_missing_source_as_blocker_and_plans_independent_work(duck, project):
    (project / "data" / "trips" / "2026-03-12.csv").unlink()
    sql = project / "models" / "zone_metrics.sql"
    # also make zone_metrics stale everywhere: independent work that can be done
    sql.write_text(sql.read_text().replace("round(avg(distance_km), 2)", "round(avg(distance_km), 3)"))
    plan = duck.json("reconcile")
    blocked = [h for h in plan["held"] if h["status"] != "fresh"]
    assert blocked and all(h["blocker"]["asset"] == "raw_trips" for h in blocked)
    assert all(h["blocker"]["partition"] == "2026-03-12" for h in blocked)
    zm = [s for s in plan["steps"] if s["asset"] == "zone_metrics"]
    assert zm and "2026-03-12" not in zm[0]["partitions"]
    assert all("2026-03-12" not in s["partitions"] for s in plan["steps"])
    text = duck("reconcile").output
    assert "raw_trips 2026-03-12" in text and "has not arrived" in text


@pytest.mark.materialized
def test_reconcile_apply_reports_what_is_healthy_and_what_is_blocked(duck, project):
    (project / "data" / "trips" / "2026-03-12.csv").unlink()
    (project / "models" / "zone_metrics.sql").write_text(
        (project / "models" / "zone_metrics.sql").read_text().replace("avg_distance_km",
                                                                       "mean_distance_km"))
    result = duck.json("reconcile", "--apply")
    assert result["status"] == "success" and result["summary"]["failed"] == 0
    assert any(h["status"] == "blocked" for h in result["held"])
    status = {a["name"]: a for a in duck.json("status")["assets"]}
    assert status["zone_metrics"]["partitions"]["fresh"] == 11


def test_plan_is_deterministic_byte_for_byte(duck, project):
    duck("materialize", "stg_trips")
    first = duck("plan", "--json").stdout
    second = duck("plan", "--json").stdout
    assert first == second
    assert duck("reconcile", "--json").stdout == duck("reconcile", "--json").stdout


def test_plan_shows_reasons_order_estimate_and_fail_on(duck, project):
    plan = duck.json("plan")
    assert plan["estimate"] == {"steps": len(plan["steps"]), "partitions": 12 * 5 + 3 + 1,
                                "assets": 7}
    assert plan["steps"][0]["asset"] == "stg_trips"
    assert "never materialized" in plan["steps"][0]["reasons"]
    assert duck("plan", "--fail-on", "pending", expect=3).exit_code == 3
    duck("materialize")
    result = duck("plan", "--fail-on", "pending")
    assert result.output.strip() == "Nothing to do: everything selected is up to date."
    # materialize executes exactly the plan that plan shows
    sql = project / "models" / "stg_trips.sql"
    sql.write_text(sql.read_text().replace("AS fare", "AS fare_amount").replace(
        "round(sum(fare)", "round(sum(fare_amount)"))
    (project / "models" / "zone_metrics.sql").write_text(
        (project / "models" / "zone_metrics.sql").read_text().replace("sum(fare)",
                                                                       "sum(fare_amount)"))
    shown = duck.json("plan")
    ran = duck.json("materialize")
    assert [(s["asset"], s["partitions"]) for s in shown["steps"]] == [
        (s["asset"], s["partitions"]) for s in ran["steps"]]
    # the renamed column replaced the old one once no partition held the old one (on DuckDB
    # 1.x too, where the drop needs its own transaction)
    columns = [r[0] for r in warehouse_rows(project, "DESCRIBE stg_trips")]
    assert "fare_amount" in columns and "fare" not in columns
    assert ran["status"] == "success"


@pytest.mark.materialized
def test_plan_lists_added_modified_and_removed_assets(duck, project):
    finance = project / "finance.yaml"
    text = finance.read_text()
    start = text.index("  - name: revenue_summary")
    end = text.index("  - name: revenue_forecast")
    finance.write_text(text[:start] + text[end:].replace(", revenue_summary", ""))
    (project / "extra.yaml").write_text(
        "assets:\n  - name: zone_count\n    deps: [zone_metrics]\n    materialize:\n"
        "      sql: SELECT count(DISTINCT zone_id) AS zones FROM zone_metrics\n")
    changes = duck.json("plan")["changes"]
    assert changes["added"] == ["zone_count"]
    assert changes["removed"] == ["revenue_summary"]
    assert changes["modified"] == []
    runs_before = run_count(project)
    assert runs_before == 1
