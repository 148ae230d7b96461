"""The one place that decides state: partition -> asset -> product roll-ups, warnings and what
`--fail-on` matches, on the decisions themselves and on assessed worlds."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import given, settings

from duck_cli.health.assess import Assessment, assess
from duck_cli.health.state import (
    Promise, State, asset_state, count, fails_on, partition_state, product_state, turns_stale,
    warns, with_breach,
)
from duck_cli.health.status import status_report
from duck_cli.models import FreshnessPolicy, Product
from worlds import NOW, assessed_partitioned, partitioned_worlds


@pytest.mark.parametrize("failed, materialized, reasons, expected", [
    (True, True, True, State.FAILED), (True, False, True, State.FAILED),
    (False, False, True, State.MISSING), (False, True, True, State.STALE),
    (False, True, False, State.FRESH)])
def test_a_partition_state_puts_a_failure_before_absence_before_age(failed, materialized,
                                                                      reasons, expected):
    assert partition_state(failed=failed, materialized=materialized, reasons=reasons) == expected


def test_a_breached_promise_turns_only_a_fresh_partition_stale():
    assert [with_breach(s) for s in State] == [State.STALE, State.STALE, State.MISSING,
                                              State.FAILED]


@pytest.mark.parametrize("states, promise, expected", [
    ([State.FRESH, State.STALE, State.MISSING, State.FAILED], None, State.FAILED),
    ([State.FRESH, State.STALE, State.MISSING], Promise.FRESH, State.MISSING),
    ([State.FRESH, State.STALE], None, State.STALE),
    ([State.FRESH, State.FRESH], Promise.STALE, State.STALE),
    ([State.FRESH], Promise.WARN, State.FRESH),
    ([State.FRESH], Promise.UNKNOWN, State.FRESH),
    ([], None, State.FRESH)])
def test_an_asset_is_as_bad_as_its_worst_partition_or_its_breached_promise(states, promise,
                                                                            expected):
    assert asset_state(count(states), promise) == expected


@pytest.mark.parametrize("states, promise, expected", [
    ([State.FRESH, State.FRESH], None, Promise.FRESH),
    ([State.FRESH, State.FRESH], Promise.WARN, Promise.WARN),
    ([State.FRESH], Promise.UNKNOWN, Promise.UNKNOWN),
    ([State.FRESH, State.MISSING], Promise.FRESH, Promise.STALE),
    ([State.FRESH, State.FAILED], Promise.WARN, Promise.STALE),
    ([State.FRESH], Promise.STALE, Promise.STALE)])
def test_a_product_is_stale_when_an_asset_is_unhealthy_else_its_promise_decides(states, promise,
                                                                                 expected):
    assert product_state(states, promise) == expected


def test_warnings_come_from_warn_checks_and_promises_at_risk_only():
    assert warns(1, None) and warns(0, Promise.WARN) and warns(2, Promise.STALE)
    assert not warns(0, None) and not warns(0, Promise.STALE) and not warns(0, Promise.FRESH)


def test_fail_on_stale_counts_missing_failed_counts_failures_warn_counts_warnings():
    assert fails_on(["stale"], stale=1, failed=0, warned=0)
    assert not fails_on(["stale"], stale=0, failed=3, warned=3)
    assert fails_on(["failed"], stale=0, failed=1, warned=0)
    assert fails_on(["warn"], stale=0, failed=0, warned=1)
    assert fails_on(["failed", "warn"], stale=0, failed=0, warned=1)
    assert not fails_on([], stale=5, failed=5, warned=5)


def test_only_fresh_and_stale_partitions_turn_stale_when_their_upstream_is_rebuilt():
    assert [s for s in State if turns_stale(s)] == [State.FRESH, State.STALE]


def test_states_are_the_documents_strings():
    assert json.dumps({State.MISSING: [State.FAILED, Promise.WARN]}) == '{"missing": ["failed", "warn"]}'
    assert f"{State.STALE}" == "stale" and State("fresh") is State.FRESH


def _with_product(project, names, policy=None):
    from dataclasses import replace

    return replace(project, products={"p": Product("p", owner="team:t", assets=tuple(names),
                                                     freshness=policy)})


@settings(max_examples=100, deadline=None)
@given(partitioned_worlds())
def test_roll_ups_from_partitions_to_assets_to_a_product_and_the_exit_code(world):
    project, graph, snap, health = assessed_partitioned(world)
    names = list(graph.order)
    project = _with_product(project, names[-2:])
    report = status_report(Assessment(project, graph, snap, health), names)
    for a in report.assets:
        states = {p.state for p in a.health.partitions.values()}
        worst = next((s for s in (State.FAILED, State.MISSING, State.STALE) if s in states),
                     State.FRESH)
        assert a.state == worst  # no freshness policy in these worlds
        assert a.health.counts()[a.state] >= 1
    (product,) = report.products
    unhealthy = [n for n in names[-2:] if health.assets[n].state != State.FRESH]
    assert product.unhealthy == tuple(unhealthy)
    assert product.state == (Promise.STALE if unhealthy else Promise.FRESH)
    counts = report.counts()
    assert sum(counts.values()) == len(names)
    assert report.fails_on(["stale"]) == bool(counts[State.STALE] + counts[State.MISSING]
                                              + bool(unhealthy))
    assert report.fails_on(["failed"]) == bool(counts[State.FAILED])
    assert not report.fails_on(["warn"])  # no warn checks, no promise


def test_a_product_promise_at_risk_warns_and_fails_on_warn_only():
    world = (2, 1, {0: False, 1: False}, {1: [(0, "auto")]}, {0: [""], 1: [""]},
             {(0, ""): "present", (1, ""): "fresh"})
    project, graph, snap, _health = assessed_partitioned(world)
    # materialized at NOW: 90 minutes later a 2h promise with a 1h warning window is at risk
    promise = FreshnessPolicy(max_lag=timedelta(hours=2), warn=timedelta(hours=1))
    project = _with_product(project, ["a1"], promise)
    later = NOW + timedelta(minutes=90)
    health = assess(project, graph, snap, later, {})
    report = status_report(Assessment(project, graph, snap, health), ["a1"])
    (product,) = report.products
    assert report.assets[0].state == State.FRESH and not report.assets[0].warn
    assert product.state == Promise.WARN and product.freshness.state == Promise.WARN
    assert report.fails_on(["warn"]) and not report.fails_on(["stale", "failed"])
    assert report.now == later
    health = assess(project, graph, snap, NOW + timedelta(hours=3), {})
    report = status_report(Assessment(project, graph, snap, health), ["a1"])
    assert report.products[0].state == Promise.STALE and report.assets[0].state == State.FRESH
    assert report.fails_on(["stale"]) and not report.fails_on(["warn"])
