"""`duck status` as data: each selected asset's health, checks, reasons and root-cause blockers,
and the data products that publish them. The JSON document and the tables are drawn from it;
the exit code of `--fail-on` is decided by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from duck_cli.health import freshness as fr
from duck_cli.health.assess import AssetHealth, Assessment, freshness_inputs
from duck_cli.health.blockers import Blocker, Blockers, find_blockers
from duck_cli.health.state import (
    Promise, State, fails_on, product_state, warns, worst,
)
from duck_cli.models import Product
from duck_cli.records import Attempt, CheckRow


@dataclass(frozen=True)
class CheckSummary:
    """Latest check results across an asset's partitions."""

    defined: int
    passed: int
    failed: int
    warned: int
    failing: tuple[str, ...]  # names of the checks that did not pass, first seen first


@dataclass(frozen=True)
class ReasonGroup:
    """One staleness reason of an asset and the partitions it holds for."""

    code: str
    message: str
    keys: tuple[str, ...]


@dataclass(frozen=True)
class AssetStatus:
    """One asset's status: its health, and what the catalog says about its checks and runs."""

    health: AssetHealth
    state: State
    checks: CheckSummary
    reasons: tuple[ReasonGroup, ...]
    blockers: tuple[Blocker, ...]  # root causes only
    last_run: Attempt | None
    partition_checks: dict[str, tuple[CheckRow, ...]]  # latest checks that did not pass, per key

    @property
    def warn(self) -> bool:
        """Whether it carries a warning (`state.warns`)."""
        return warns(self.checks.warned, self.health.promise)

    def keys_in(self, state: State) -> list[str]:
        """Its partitions in one state, in key order."""
        return [p.key for p in self.health.unhealthy() if p.state == state]


@dataclass(frozen=True)
class ProductStatus:
    """A data product: its own freshness promise over the assets it publishes."""

    product: Product
    state: Promise
    asset_states: tuple[State, ...]
    unhealthy: tuple[str, ...]
    freshness: fr.FreshnessResult | None  # the worst of its assets' results


@dataclass(frozen=True)
class StatusReport:
    """Health of the selected assets and of the products that publish them."""

    now: datetime
    assets: tuple[AssetStatus, ...]
    products: tuple[ProductStatus, ...]

    def counts(self) -> dict[State, int]:
        """How many selected assets are in each state."""
        return {s: sum(1 for a in self.assets if a.state == s) for s in (State.FRESH, *_LISTED)}

    def warned(self) -> int:
        """How many selected assets carry a warning."""
        return sum(1 for a in self.assets if a.warn)

    def fails_on(self, names: list[str]) -> bool:
        """Whether `--fail-on` finds what ``names`` name (`state.fails_on`)."""
        counts = self.counts()
        return fails_on(
            names,
            stale=counts[State.STALE] + counts[State.MISSING]
            + sum(p.state == Promise.STALE for p in self.products),
            failed=counts[State.FAILED],
            warned=self.warned() + sum(p.freshness is not None and p.freshness.state ==
                                       Promise.WARN for p in self.products))


_LISTED = (State.STALE, State.MISSING, State.FAILED)  # the documents' order


def status_report(known: Assessment, names: list[str],
                  blockers: Blockers | None = None) -> StatusReport:
    """The status of the selected assets (and their products) from one assessment."""
    found = blockers or find_blockers(known.project, known.health)
    assets = tuple(asset_status(known, known.health.assets[n], found) for n in names)
    products = tuple(product_status(known, p) for p in known.project.products.values()
                     if any(a in names for a in p.assets))
    return StatusReport(known.health.now, assets, products)


def asset_status(known: Assessment, ah: AssetHealth, blockers: Blockers) -> AssetStatus:
    """One asset's status."""
    name, snap = ah.asset.name, known.snapshot
    checks = {k: c for k in ah.keys if (c := snap.checks.get((name, k)))} if snap.checks else {}
    counted = checks if name in snap.check_counts else {}
    unhealthy = [p.key for p in ah.unhealthy()]
    return AssetStatus(ah, ah.state, check_summary(known, ah, counted), reason_groups(ah),
                       tuple(blockers.root_causes(name, unhealthy)),
                       snap.last_attempts.get(name), checks)


def check_summary(known: Assessment, ah: AssetHealth, checks) -> CheckSummary:
    """Latest check results across the asset's partitions."""
    failing: dict[str, None] = {}
    failed = warned = 0
    for rows in checks.values():
        for c in rows:
            failing[c.name] = None
            failed += c.severity == "error"
            warned += c.severity != "error"
    passed = known.snapshot.check_counts.get(ah.asset.name, (0, 0, 0))[0]
    return CheckSummary(len(ah.asset.checks), passed, failed, warned, tuple(failing))


def reason_groups(ah: AssetHealth) -> tuple[ReasonGroup, ...]:
    """Staleness reasons with the partitions each holds for (a breached promise always shows)."""
    groups: dict[str, tuple[str, list[str]]] = {}
    for p in ah.unhealthy():
        for r in p.reasons:
            groups.setdefault(r.code, (r.message, []))[1].append(p.key)
    if ah.promise == Promise.STALE and "freshness_breached" not in groups:
        groups["freshness_breached"] = (f"freshness breached: {ah.freshness.message}", [])
    return tuple(ReasonGroup(code, msg, tuple(keys)) for code, (msg, keys) in groups.items())


def product_status(known: Assessment, product: Product) -> ProductStatus:
    """A data product's state (`state.product_state`) and its promise's worst result."""
    health = known.health
    results = []
    if product.freshness is not None:
        for name in product.assets:
            ah = health.assets[name]
            results.append(fr.evaluate(product.freshness, health.now,
                                       **freshness_inputs(ah.asset, ah.keys, ah.current,
                                                          health.assets)))
    promise = worst(r.state for r in results) if results else None
    states = tuple(health.assets[n].state for n in product.assets)
    unhealthy = tuple(n for n, s in zip(product.assets, states) if s != State.FRESH)
    return ProductStatus(product, product_state(states, promise), states, unhealthy,
                         _worst_result(results))


def _worst_result(results) -> fr.FreshnessResult | None:
    """The result to show: the stalest (stale, warn, unknown, fresh); the first among equals."""
    if not results:
        return None
    order = {Promise.STALE: 0, Promise.WARN: 1, Promise.UNKNOWN: 2, Promise.FRESH: 3}
    return min(results, key=lambda r: order.get(r.state, 9))

