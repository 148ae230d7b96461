"""Step dependencies are decided once, in the plan: each step carries the steps it waits for and,
per key, the planned partitions it reads; the runner executes exactly that."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings

from conftest import Duck, catalog_rows
from duck_cli.health.assess import upstream_partitions
from duck_cli.plan import builder as planner
from duck_cli.plan.steps import slices_in_parallel, step_dependencies
from worlds import assessed_partitioned, partitioned_worlds


@settings(max_examples=150, deadline=None)
@given(partitioned_worlds())
def test_every_step_carries_what_it_reads_and_waits_for(world):
    project, graph, _snap, health = assessed_partitioned(world)
    built = [n for n in graph.order if not project.assets[n].is_source]
    plan = planner.for_materialize(project, health, graph.order, built, force=True, batch_size=2)
    where = {(s.asset, k): s.index for s in plan.steps for k in s.keys}
    assert [s.index for s in plan.steps] == list(range(len(plan.steps)))
    assert {s.index: s.after for s in plan.steps} == step_dependencies(project, plan.steps)
    last: dict[str, int] = {}
    for step in plan.steps:
        assert len(step.upstream) == len(step.keys)
        for i, key in enumerate(step.keys):
            planned = tuple(u for u in upstream_partitions(project, health, step.asset, key)
                            if u in where)
            assert step.reads(i) == planned
            assert all(where[u] < step.index for u in planned)  # upstream is built first
        assert set(step.needs) == {where[u] for i in range(len(step.keys)) for u in step.reads(i)}
        assert set(step.needs) <= set(step.after) and all(d < step.index for d in step.after)
        if step.asset in last and not slices_in_parallel(project.assets[step.asset]):
            assert last[step.asset] in step.after  # one slice after the other
        last[step.asset] = step.index


def test_a_plan_is_deterministic_with_its_dependencies():
    world = (3, 1, {0: True, 1: True, 2: True}, {1: [(0, "auto")], 2: [(1, "offset")]},
             {i: [f"2026-03-{7 + d:02d}" for d in range(6)] for i in range(3)},
             {(i, f"2026-03-{7 + d:02d}"): "present" if i == 0 else "never"
              for i in range(3) for d in range(6)})
    project, graph, _snap, health = assessed_partitioned(world)
    plans = [planner.for_materialize(project, health, graph.order, ["a1", "a2"], batch_size=1)
             for _ in range(2)]
    assert plans[0] == plans[1]
    by_key = {(s.asset, s.keys[0]): s for s in plans[0].steps}
    # a2 on day d reads a1 on day d-1 (offset -1): it waits for that step and the asset's first
    day8 = by_key[("a2", "2026-03-08")]
    assert day8.reads(0) == (("a1", "2026-03-07"),)
    assert by_key[("a1", "2026-03-07")].index in day8.after
    assert by_key[("a2", "2026-03-07")].reads(0) == ()


CHAIN = """
assets:
  - name: daily_in
    owner: team:t
    partitions: {daily: {start: "2026-01-01", end: "2026-01-06", column: day}}
    materialize:
      strategy: incremental
      sql: >-
        SELECT CAST($partition_key AS DATE) AS day,
        CAST(CASE WHEN $partition_key = '2026-01-03' THEN 'x' ELSE '1' END AS INTEGER) AS n
  - name: daily_out
    owner: team:t
    deps: [daily_in]
    partitions: {daily: {start: "2026-01-01", end: "2026-01-06", column: day}}
    materialize:
      strategy: incremental
      sql: SELECT day, n + 1 AS n FROM daily_in WHERE day >= $partition_start AND day < $partition_end
"""


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_failed_slice_skips_only_the_downstream_slices_that_read_it(tmp_path: Path, jobs):
    root = tmp_path / f"chain{jobs}"
    root.mkdir()
    (root / "assets.yaml").write_text(CHAIN)
    (root / "duck.yaml").write_text(f"jobs: {jobs}\n")
    Duck(root, now="2026-02-01T00:00:00Z")("materialize", expect=1)
    steps = catalog_rows(root, "SELECT asset, unnest(partitions) AS k, status, blocked_by "
                               "FROM steps ORDER BY asset, k")
    assert ("daily_in", "2026-01-03", "failed", None) in steps
    assert ("daily_out", "2026-01-03", "skipped", "daily_in") in steps
    others = [s for s in steps if s[1] != "2026-01-03"]
    assert len(others) == 10 and all(s[2] == "success" for s in others)


def test_step_dependencies_reach_through_a_chain_longer_than_the_recursion_limit():
    # 5,000 views between two planned tables: the last waits for the first, found without a
    # per-asset recursive walk (the recursion limit is 1,000)
    from duck_cli.models import Asset, Dep, Materialize, Project, Settings
    from duck_cli.plan.steps import Step

    n = 5_000
    assets = {"a0": Asset("a0", "table", materialize=Materialize("table", "SELECT 1"))}
    for i in range(1, n + 1):
        assets[f"a{i}"] = Asset(f"a{i}", "view", deps=(Dep(f"a{i - 1}"),),
                                materialize=Materialize("view", "SELECT 1"))
    project = Project(Path("/nowhere"), Settings(Path("/nowhere/w"), Path("/nowhere/c")), assets)
    steps = [Step(0, "a0", ("",), (), (), ()), Step(1, f"a{n}", ("",), (), (), ())]
    assert step_dependencies(project, steps) == {0: (), 1: (0,)}
