"""The one place that decides state: of a partition, an asset, a data product, and what
`--fail-on` matches. Every view (status, why, plan, reconcile, lineage) asks here.

Two vocabularies: `State` is the health of data (a partition or an asset), `Promise` the verdict
of a freshness promise (an asset's policy, a product's). Both are `StrEnum`s, so the JSON
documents carry the same strings as before.
"""

from __future__ import annotations

from collections import Counter
from enum import StrEnum
from typing import Iterable, Mapping


class State(StrEnum):
    """The health of an asset partition (and, rolled up, of an asset)."""

    FRESH = "fresh"
    STALE = "stale"
    MISSING = "missing"
    FAILED = "failed"


class Promise(StrEnum):
    """The verdict of a freshness promise (an asset's policy or a data product's)."""

    FRESH = "fresh"
    UNKNOWN = "unknown"
    WARN = "warn"
    STALE = "stale"


UNHEALTHY = (State.FAILED, State.MISSING, State.STALE)  # worst first
RANK = {Promise.FRESH: 0, Promise.UNKNOWN: 1, Promise.WARN: 2, Promise.STALE: 3}  # worse is higher
FAIL_ON = ("stale", "failed", "warn")  # what `--fail-on` may name


def worst(states: Iterable[str]) -> str:
    """The worst of several promise verdicts: stale > warn > unknown > fresh ('fresh' for none).

    >>> worst(["fresh", "unknown", "warn"])
    'warn'
    >>> print(worst([]))
    fresh
    """
    return max(states, key=RANK.__getitem__, default=Promise.FRESH)


def partition_state(*, failed: bool, materialized: bool, reasons: bool) -> State:
    """A built partition's state: its last run failed > never built > out of date > fresh.

    >>> partition_state(failed=False, materialized=True, reasons=True)
    <State.STALE: 'stale'>
    >>> str(partition_state(failed=True, materialized=False, reasons=True))
    'failed'
    """
    if failed:
        return State.FAILED
    if not materialized:
        return State.MISSING
    return State.STALE if reasons else State.FRESH


def with_breach(state: State) -> State:
    """A partition's state once its freshness promise is breached (a fresh one turns stale).

    >>> str(with_breach(State.FRESH)), str(with_breach(State.FAILED))
    ('stale', 'failed')
    """
    return State.STALE if state == State.FRESH else state


def count(states: Iterable[State]) -> dict[State, int]:
    """How many of each state (every state present, in the documents' order).

    >>> count([State.STALE, State.FRESH, State.STALE])[State.STALE]
    2
    """
    out = {State.FRESH: 0, State.STALE: 0, State.MISSING: 0, State.FAILED: 0}
    for s, n in Counter(states).items():  # counted in C: 100,000 partitions of one asset
        out[s] += n
    return out


def asset_state(counts: Mapping[State, int], promise: str | None) -> State:
    """An asset's state from its partitions' counts: failed > missing > stale > fresh; a fresh
    asset whose freshness promise is breached is stale.

    >>> str(asset_state({State.FRESH: 3, State.MISSING: 1}, None))
    'missing'
    >>> str(asset_state({State.FRESH: 3}, "stale"))
    'stale'
    """
    for state in UNHEALTHY:
        if counts.get(state):
            return state
    return State.STALE if promise == Promise.STALE else State.FRESH


def product_state(asset_states: Iterable[State], promise: str | None) -> Promise:
    """A data product's state: stale if its promise is breached or an asset is unhealthy,
    else its promise's verdict (fresh when it has none).

    >>> str(product_state([State.FRESH], "warn")), str(product_state([State.MISSING], None))
    ('warn', 'stale')
    """
    if promise == Promise.STALE or any(s != State.FRESH for s in asset_states):
        return Promise.STALE
    return Promise(promise) if promise else Promise.FRESH


def warns(checks_warned: int, promise: str | None) -> bool:
    """Whether an asset carries a warning: a warn-severity check failed, or its freshness
    promise is at risk.

    >>> warns(0, "warn"), warns(1, None), warns(0, "stale")
    (True, True, False)
    """
    return bool(checks_warned) or promise == Promise.WARN


def turns_stale(state: State) -> bool:
    """Whether a partition turns stale when something it reads is rebuilt (a missing or failed
    one is already unhealthy for its own reason).

    >>> turns_stale(State.FRESH), turns_stale(State.MISSING)
    (True, False)
    """
    return state in (State.FRESH, State.STALE)


def fails_on(names: Iterable[str], *, stale: int, failed: int, warned: int) -> bool:
    """Whether `--fail-on` matches: ``stale`` counts stale or missing assets and stale products,
    ``failed`` failed assets, ``warn`` warnings (assets' and products' promises at risk).

    >>> fails_on(["stale"], stale=0, failed=2, warned=0), fails_on(["failed"], stale=0, failed=2, warned=0)
    (False, True)
    """
    found = {"stale": stale, "failed": failed, "warn": warned}
    return any(found.get(n) for n in names)
