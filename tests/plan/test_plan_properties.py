"""Plans on random worlds: deterministic, whatever order the assets were defined in, and every
step comes after the steps of the assets it reads (materialize, backfill and reconcile alike)."""

from __future__ import annotations

import random
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from duck_cli.graph.dag import AssetGraph
from duck_cli.health.assess import assess
from duck_cli.plan import builder as planner
from worlds import NOW, _name, assessed, worlds


def _plans(project, graph, health, selected: list[str], downstream: bool):
    """The three commands' plans for one selection."""
    keys = {a: health.assets[a].keys for a in selected}
    return (planner.for_materialize(project, health, graph.order, selected),
            planner.for_materialize(project, health, graph.order, selected, force=True),
            planner.for_backfill(project, health, graph, selected, keys, downstream=downstream,
                                 batch_size=1),
            planner.for_reconcile(project, health, graph.order, selected, retry_failed=True,
                                  batch_size=1))


def _shuffled(project, seed: int):
    """The same project with its assets defined in another order."""
    names = list(project.assets)
    random.Random(seed).shuffle(names)
    return replace(project, assets={n: project.assets[n] for n in names})


@settings(max_examples=150, deadline=None)
@given(worlds(), st.booleans(), st.integers(0, 2**16))
def test_the_same_inputs_give_the_same_plans_in_any_definition_order(world, downstream, seed):
    project, graph, snap, health = assessed(world)
    selected = [_name(i) for i in world[4]]
    first = _plans(project, graph, health, selected, downstream)
    assert first == _plans(project, graph, health, selected, downstream)
    other = _shuffled(project, seed)
    other_graph = AssetGraph.build(other.assets)
    other_health = assess(other, other_graph, snap, NOW, {})
    assert _plans(other, other_graph, other_health, selected, downstream) == first


@settings(max_examples=150, deadline=None)
@given(worlds(), st.booleans())
def test_every_step_comes_after_the_steps_of_what_it_reads(world, downstream):
    project, graph, _snap, health = assessed(world)
    selected = [_name(i) for i in world[4]]
    for plan in _plans(project, graph, health, selected, downstream):
        assert [s.index for s in plan.steps] == list(range(len(plan.steps)))
        first_step = {}
        for step in plan.steps:
            first_step.setdefault(step.asset, step.index)
        for step in plan.steps:
            ups = graph.upstream_closure([step.asset])
            assert all(first_step[u] < step.index for u in ups if u in first_step), (
                plan.command, step, plan.steps)
            assert all(n < step.index for n in step.needs), step
            direct = {first_step[u] for u in graph.upstream[step.asset] if u in first_step}
            assert direct <= set(step.needs), (plan.command, step)
