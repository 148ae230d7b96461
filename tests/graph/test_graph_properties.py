"""Properties of the asset graph and of selections, on random DAGs, against brute-force oracles.

Topological order respects every edge and does not depend on the order assets were defined in;
closures and selections (``+name``, ``name+``, ``tag:``, ``owner:``, ``kind:``, globs, unions
and comma intersections) hold exactly what a reachability walk says; a cycle in the manifests is
refused with its path.
"""

from __future__ import annotations

import fnmatch
import re
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from duck_cli.errors import ManifestError, UsageError
from duck_cli.graph.dag import AssetGraph
from duck_cli.graph.select import select
from duck_cli.manifest.load import load_project
from duck_cli.models import Asset, Dep, Materialize

NAMES = ["orders", "stg_orders", "stg_trips", "trips", "zones", "zone_metrics", "revenue",
         "daily_revenue", "dash", "raw_a", "raw_b", "x1", "x2", "x10"]
TAGS, OWNERS, KINDS = ["revenue", "pii", "core"], ["team:a", "team:b", "ops"], ["table", "view",
                                                                             "source"]


@st.composite
def dags(draw) -> dict[str, Asset]:
    """Random assets: a DAG over a random permutation of names, with tags, owners and kinds.

    Edges go from earlier to later in the permutation, so name order is no topological order.
    """
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=10, unique=True))
    assets = {}
    for i, name in enumerate(names):
        ups = draw(st.sets(st.sampled_from(names[:i]), max_size=3)) if i else set()
        assets[name] = Asset(
            name, draw(st.sampled_from(KINDS)), owner=draw(st.none() | st.sampled_from(OWNERS)),
            tags=tuple(draw(st.sets(st.sampled_from(TAGS), max_size=2))),
            deps=tuple(Dep(u) for u in sorted(ups)), materialize=Materialize("table", "SELECT 1"))
    order = draw(st.permutations(list(assets)))  # the order the manifests defined them in
    return {name: assets[name] for name in order}


def ancestors(assets: dict[str, Asset], name: str, memo: dict | None = None) -> set[str]:
    """Every asset ``name`` reads from, transitively: the oracle, by plain recursion."""
    memo = {} if memo is None else memo
    if name not in memo:
        memo[name] = set()
        for dep in assets[name].upstream:
            memo[name] |= {dep} | ancestors(assets, dep, memo)
    return memo[name]


def descendants(assets: dict[str, Asset], name: str, memo: dict | None = None) -> set[str]:
    """Every asset that reads ``name``, transitively: ``name`` is among its ancestors."""
    memo = {} if memo is None else memo
    return {other for other in assets if name in ancestors(assets, other, memo)}


PROPS = settings(max_examples=100, deadline=None)


@PROPS
@given(dags())
def test_order_respects_every_edge_and_not_the_definition_order(assets):
    graph = AssetGraph.build(assets)
    assert sorted(graph.order) == sorted(assets)
    position = {name: i for i, name in enumerate(graph.order)}
    for name, asset in assets.items():
        assert all(position[dep] < position[name] for dep in asset.upstream), (name, graph.order)
    reordered = AssetGraph.build(dict(sorted(assets.items())))
    assert reordered.order == graph.order
    assert graph.roots() == [n for n in graph.order if not assets[n].upstream]
    assert select(assets, graph, []) == list(graph.order)  # no selector selects everything


@PROPS
@given(dags())
def test_closures_are_exactly_the_reachable_assets(assets):
    graph = AssetGraph.build(assets)
    memo: dict = {}
    for name in assets:
        assert graph.upstream_closure([name]) == ancestors(assets, name, memo)
        assert graph.downstream_closure([name]) == descendants(assets, name, memo)
        assert set(graph.downstream[name]) == {n for n, a in assets.items() if name in a.upstream}


# -- selections -------------------------------------------------------------------------------


def _base(assets: dict[str, Asset], core: str) -> set[str]:
    """What one selector names before ``+``: the oracle, written from the documented syntax."""
    method, _, value = core.partition(":")
    if method == "tag":
        return {n for n, a in assets.items() if any(fnmatch.fnmatchcase(t, value) for t in a.tags)}
    if method == "owner":
        return {n for n, a in assets.items() if a.owner and fnmatch.fnmatchcase(a.owner, value)}
    if method == "kind":
        return {n for n, a in assets.items() if fnmatch.fnmatchcase(a.kind, value)}
    return {n for n in assets if fnmatch.fnmatchcase(n, core)}


def expected_selection(assets: dict[str, Asset], words: list[str],
                       joiner: str = " ") -> set[str] | None:
    """What the selectors claim: their union (separate words) or, joined by commas, their
    intersection (as in dbt); None when one matches nothing or an intersection is empty (an
    error)."""
    found: list[set[str]] = []
    memo: dict = {}
    for word in words:
        core = word.strip("+")
        base = _base(assets, core)
        if not base:
            return None
        out = set(base)
        if word.startswith("+"):
            out |= {a for n in base for a in ancestors(assets, n, memo)}
        if word.endswith("+"):
            out |= {d for n in base for d in descendants(assets, n, memo)}
        found.append(out)
    if joiner == ",":
        both = set.intersection(*found)
        return both if both or len(found) == 1 else None
    return set().union(*found)


CORES = st.one_of(st.sampled_from(NAMES), st.sampled_from(["tag:", "owner:", "kind:"]).flatmap(
    lambda m: st.sampled_from({"tag:": TAGS + ["rev*", "*"], "owner:": OWNERS + ["team:*"],
                               "kind:": KINDS + ["v*"]}[m]).map(lambda v: m + v)),
                  st.sampled_from(["stg_*", "*_revenue", "x?", "x1*", "*", "raw_[ab]", "z*"]))
SELECTORS = st.lists(st.tuples(st.booleans(), CORES, st.booleans()).map(
    lambda t: ("+" if t[0] else "") + t[1] + ("+" if t[2] else "")), min_size=1, max_size=3)


@settings(max_examples=200, deadline=None)
@given(dags(), SELECTORS, st.sampled_from([" ", ","]))
def test_a_selection_holds_exactly_what_its_selectors_claim(assets, words, joiner):
    graph = AssetGraph.build(assets)
    want = expected_selection(assets, words, joiner)
    if want is None:
        with pytest.raises(UsageError):
            select(assets, graph, [joiner.join(words)])
        return
    got = select(assets, graph, [joiner.join(words)])
    assert got == [n for n in graph.order if n in want], (words, got, want)
    if joiner == ",":  # an intersection claims only what every part holds
        return
    for word, name in ((w, w.strip("+")) for w in words if w.strip("+") in assets):
        if word.startswith("+"):
            assert ancestors(assets, name) <= set(got)
        if word.endswith("+"):
            assert descendants(assets, name) <= set(got)


def test_an_unknown_name_is_refused_with_a_suggestion():
    assets = {"orders": Asset("orders", "table"), "stg_orders": Asset("stg_orders", "table")}
    with pytest.raises(UsageError) as caught:
        select(assets, AssetGraph.build(assets), ["+order"])
    assert "no asset named 'order'" in str(caught.value.problems()[0].message)


# -- cycles -----------------------------------------------------------------------------------


@st.composite
def cyclic_manifests(draw) -> tuple[list[dict], list[str]]:
    """A random DAG plus a planted ring of 1-5 assets: the manifest's assets and the ring."""
    names = draw(st.lists(st.sampled_from(NAMES), min_size=2, max_size=10, unique=True))
    deps = {n: set(draw(st.sets(st.sampled_from(names[:i]), max_size=2)) if i else ())
            for i, n in enumerate(names)}
    ring = draw(st.lists(st.sampled_from(names), min_size=1, max_size=5, unique=True))
    for a, b in zip(ring, ring[1:] + ring[:1]):
        deps[a].add(b)  # a depends on b
    docs = [{"name": n, "deps": sorted(deps[n]), "materialize": {"sql": "select 1"}}
            for n in draw(st.permutations(names))]
    return docs, ring


@settings(max_examples=60, deadline=None)
@given(cyclic_manifests())
def test_a_cycle_is_refused_with_its_path(case):
    docs, _ring = case
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "m.yaml").write_text(yaml.safe_dump({"assets": docs}, sort_keys=False))
        with pytest.raises(ManifestError) as caught:
            load_project(Path(folder), use_cache=False)
    texts = [p.render() for p in caught.value.problems()]
    [text] = [t for t in texts if "dependency cycle" in t]
    path = re.search(r"dependency cycle: ([\w >-]+)", text).group(1).split(" -> ")
    assert len(path) >= 2 and path[0] == path[-1] and len(set(path)) == len(path) - 1, text
    deps = {d["name"]: set(d["deps"]) for d in docs}
    assert all(b in deps[a] for a, b in zip(path, path[1:])), (text, deps)
    assert re.search(r"m\.yaml:\d+", text), text
