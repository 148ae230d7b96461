"""Selection as dbt users expect: depth, @, intersection with a comma, --exclude."""

from __future__ import annotations

import pytest

from duck_cli.errors import UsageError
from duck_cli.graph.dag import AssetGraph
from duck_cli.graph.select import Selection, comma_warnings, select
from duck_cli.manifest.load import load_project
from conftest import example_copy

# raw_trips -> stg_trips -> zone_metrics -> daily_revenue -> revenue_summary
#                                       |                \-> revenue_forecast -> revenue_chart
#                                       \-> regional_revenue <- zones


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    project = load_project(example_copy(tmp_path_factory.mktemp("sel") / "p"), use_cache=False)
    return project.assets, AssetGraph.build(project.assets)


def sel(world, *include, exclude=()):
    assets, graph = world
    return select(assets, graph, Selection(tuple(include), tuple(exclude)))


def test_depth_bounds_upstream_and_downstream(world):
    assert sel(world, "1+daily_revenue") == ["zone_metrics", "daily_revenue"]
    assert sel(world, "2+daily_revenue") == ["stg_trips", "zone_metrics", "daily_revenue"]
    assert sel(world, "stg_trips+1") == ["stg_trips", "zone_metrics"]
    assert sel(world, "+daily_revenue") == ["raw_trips", "stg_trips", "zone_metrics",
                                            "daily_revenue"]
    assert sel(world, "1+zone_metrics+1") == ["stg_trips", "zone_metrics", "daily_revenue",
                                              "regional_revenue"]


def test_at_selects_descendants_and_all_their_ancestors(world):
    # regional_revenue descends from zone_metrics and also reads zones: @ brings zones in
    assert set(sel(world, "@zone_metrics")) == {
        "raw_trips", "stg_trips", "zone_metrics", "daily_revenue", "revenue_summary",
        "regional_revenue", "zones", "revenue_forecast", "revenue_chart"}
    assert "zones" not in sel(world, "zone_metrics+")


def test_comma_is_intersection_and_spaces_are_union(world):
    assert sel(world, "tag:revenue,owner:team:finance") == [
        "daily_revenue", "regional_revenue", "revenue_forecast"]
    assert sel(world, "tag:revenue", "owner:team:finance") == [
        "zone_metrics", "daily_revenue", "regional_revenue", "revenue_forecast", "revenue_summary",
        "revenue_chart"]
    assert sel(world, "tag:revenue owner:team:finance") == sel(world, "tag:revenue",
                                                                "owner:team:finance")


def test_an_empty_intersection_explains_the_changed_comma(world):
    with pytest.raises(UsageError) as err:
        sel(world, "stg_trips,zones")
    assert "intersection" in err.value.message and "union" in err.value.message
    assert err.value.hint == "For the union write: stg_trips zones"
    assert comma_warnings(["stg_trips,zones", "tag:x"]) == [
        "'stg_trips,zones': " + err.value.message.split(": ", 1)[1]]
    assert comma_warnings(["stg_trips", "zones"]) == []


def test_exclude_removes_from_the_selection_or_from_everything(world):
    assert sel(world, "+daily_revenue", exclude=["raw_trips", "stg_trips"]) == [
        "zone_metrics", "daily_revenue"]
    assert sel(world, exclude=["kind:source", "tag:revenue"]) == [
        "stg_trips", "revenue_summary", "revenue_chart"]
    assert sel(world, exclude=["zone_metrics+"]) == ["raw_trips", "zones", "stg_trips"]
    with pytest.raises(UsageError, match="zone_metric'"):
        sel(world, exclude=["zone_metric"])


@pytest.mark.parametrize("bad", ["+", "@", "a+b+c", "2+"])
def test_malformed_selectors_are_usage_errors(world, bad):
    with pytest.raises(UsageError):
        sel(world, bad)
