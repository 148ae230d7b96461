"""The planner's short cut for assets that read nothing (100,000 hours of one asset take it)
gives every partition the verdict the general rule gives: on random worlds whose built assets
read no other asset, for every request a command can make (forced or not, in scope or not,
retrying failures or not, a stateful strategy or not)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from duck_cli.graph.dag import AssetGraph
from duck_cli.health.assess import assess
from duck_cli.plan import builder as planner, verdicts
from worlds import NOW, _partitioned_project, partitioned_worlds


def _leaves(world, stateful: frozenset[str]):
    """The world with every built asset's deps dropped (some of them appending)."""
    project, snap = _partitioned_project(*world)
    assets = {n: a if a.is_source else replace(
        a, deps=(), materialize=replace(a.materialize, strategy="append")
        if n in stateful else a.materialize) for n, a in project.assets.items()}
    project = replace(project, assets=assets)
    graph = AssetGraph.build(project.assets)
    return project, assess(project, graph, snap, NOW, {})


@settings(max_examples=120, deadline=None)
@given(partitioned_worlds(), st.data())
def test_an_asset_reading_nothing_gets_the_general_verdict(world, data):
    names = [f"a{i}" for i in range(world[0])]
    stateful = frozenset(data.draw(st.sets(st.sampled_from(names))))
    project, health = _leaves(world, stateful)
    built = [n for n in names if not project.assets[n].is_source]
    nodes = [(n, k) for n in built for k in health.assets[n].keys]
    req = verdicts.Request(
        scope=frozenset(data.draw(st.sets(st.sampled_from(built)))),
        targets={n: health.assets[n].keys for n in built},
        forced=frozenset(data.draw(st.sets(st.sampled_from(nodes)))),
        retry_failed=data.draw(st.booleans()), read_published=data.draw(st.booleans()))
    messages = verdicts.messages_memo()
    for asset, key in nodes:
        assert verdicts.reads_nothing(project.assets[asset])
        p = health.partition(asset, key)
        fast = verdicts.leaf_verdict(project, health, req, asset, key, p, messages)
        assert fast == verdicts.verdict(project, health, req, asset, key, {}), (asset, key, p)


def test_partitions_of_assets_reading_nothing_are_planned_one_step_each_with_their_reason():
    world = (3, 1, {0: True, 1: True, 2: True}, {1: [(0, "auto")], 2: [(0, "auto")]},
             {i: [f"2026-03-{7 + d:02d}" for d in range(6)] for i in range(3)},
             {(i, f"2026-03-{7 + d:02d}"): "present" if i == 0 else "never"
              for i in range(3) for d in range(6)})
    project, health = _leaves(world, frozenset())
    plan = planner.for_materialize(project, health, ["a0", "a1", "a2"], ["a1", "a2"])
    assert [(s.asset, s.keys[0], s.reasons) for s in plan.steps][:2] == [
        ("a1", "2026-03-07", ("never materialized",)), ("a1", "2026-03-08", ("never materialized",))]
    assert len(plan.steps) == 12 and {s.reasons for s in plan.steps} == {("never materialized",)}
    assert not plan.held
