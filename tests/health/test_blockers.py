"""Blockers computed once for the graph agree with a brute-force walk upstream of each partition,
and `status` and `why` name the same root causes on an asset with hundreds of bad days."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings

from conftest import Duck
from duck_cli.health.assess import ROOT_CAUSES, upstream_partitions
from duck_cli.health.blockers import find_blockers
from duck_cli.health.state import State
from worlds import assessed_partitioned, partitioned_worlds


def brute_force(project, health, asset: str, key: str) -> dict:
    """Every blocker of one partition by walking upstream, breadth first: (asset, key) ->
    (depth, root). The walk stops at fresh partitions and at partitions at fault."""
    out: dict = {}
    frontier, depth = [(asset, key)], 0
    while frontier:
        depth += 1
        nxt = []
        for node in frontier:
            for up in upstream_partitions(project, health, *node, blocking_only=True):
                p = health.partition(*up)
                if up in out or p.state == State.FRESH:
                    continue
                root = any(r.code in ROOT_CAUSES for r in p.reasons)
                out[up] = (depth, root)
                if not root:
                    nxt.append(up)
        frontier = nxt
    return out


@settings(max_examples=200, deadline=None)
@given(partitioned_worlds())
def test_blockers_from_parents_equal_a_walk_of_every_ancestor(world):
    project, _graph, _snap, health = assessed_partitioned(world)
    found = find_blockers(project, health)
    for name, ah in health.assets.items():
        unhealthy = [p.key for p in ah.unhealthy()]
        expected_roots: dict = {}
        for key in unhealthy:
            walk = brute_force(project, health, name, key)
            roots = {n: d for n, (d, root) in walk.items() if root}
            assert dict(found.roots[(name, key)]) == roots, (name, key)
            got = {(b.asset, b.key): (b.depth, b.root) for b in found.walk(name, [key])}
            assert got == walk, (name, key)
            for node in roots:
                expected_roots.setdefault(node, None)
        # status's root causes of the whole asset: every partition's, each once
        by_status = [(b.asset, b.key) for b in found.root_causes(name, unhealthy)]
        assert sorted(by_status) == sorted(expected_roots) and len(set(by_status)) == len(by_status)
        # why walks the same edges from every unhealthy partition at once: the same root causes
        by_why = {(b.asset, b.key) for b in found.walk(name, unhealthy) if b.root}
        assert by_why == set(expected_roots)


def test_a_fresh_partition_and_a_healthy_graph_have_no_blockers():
    world = (3, 1, {0: True, 1: True, 2: True}, {1: [(0, "auto")], 2: [(1, "auto")]},
             {i: [f"2026-03-{7 + d:02d}" for d in range(6)] for i in range(3)},
             {(i, f"2026-03-{7 + d:02d}"): "present" if i == 0 else "fresh"
              for i in range(3) for d in range(6)})
    project, _graph, _snap, health = assessed_partitioned(world)
    found = find_blockers(project, health)
    assert found.parents == {} and found.roots == {}
    assert found.walk("a2", ["2026-03-07"]) == []


YEAR = """
assets:
  - name: raw_events
    kind: source
    owner: team:t
    source: {path: "data/{date}.csv", format: csv}
    partitions: {daily: {start: "2025-01-01", end: "2025-12-31", timezone: UTC}}
  - name: daily_events
    owner: team:t
    deps: [raw_events]
    partitions: {daily: {start: "2025-01-01", end: "2025-12-31", column: day}}
    materialize:
      strategy: incremental
      sql: SELECT CAST($partition_start AS DATE) AS day, count(*) AS n FROM raw_events
  - name: weekly_report
    owner: team:t
    deps: [daily_events]
    partitions: {daily: {start: "2025-01-01", end: "2025-12-31", column: day}}
    materialize:
      strategy: incremental
      sql: SELECT day, n FROM daily_events WHERE day >= $partition_start AND day < $partition_end
"""


def test_status_and_why_name_the_same_root_causes_on_a_year_of_bad_days(tmp_path):
    # a daily asset over a year whose source is missing most days: over 200 unhealthy
    # partitions, where `status` once looked at 50 and `why` at 200
    root = tmp_path / "year"
    (root / "data").mkdir(parents=True)
    (root / "assets.yaml").write_text(YEAR)
    day = date(2025, 1, 1)
    arrived = set()
    while day <= date(2025, 12, 31):
        if day.day in (1, 15):  # two files a month arrive: 341 days are missing
            (root / "data" / f"{day}.csv").write_text("id\n1\n")
            arrived.add(str(day))
        day += timedelta(days=1)
    duck = Duck(root, now="2026-01-05T00:00:00Z")
    status = {a["name"]: a for a in duck.json("status", expect=None)["assets"]}
    missing = 365 - len(arrived)
    assert status["raw_events"]["partitions"]["missing"] == missing
    for name in ("daily_events", "weekly_report"):
        entry = status[name]
        assert entry["partitions"]["missing"] == 365 and missing > 200
        by_status = {(b["asset"], b["partition"]) for b in entry["blockers"]}
        why = duck.json("why", name)
        by_why = {(b["asset"], b["partition"]) for b in why["blockers"] if b["root"]}
        from_roots = {(r["asset"], k) for r in why["root_causes"] for k in r["partitions"]}
        assert by_status == by_why == from_roots
        assert len(by_status) == missing
        assert all(a == "raw_events" and k not in arrived for a, k in by_status)
        assert {b["reason"] for b in entry["blockers"]} == {"source_missing"}
