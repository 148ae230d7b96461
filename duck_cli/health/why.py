"""`duck why` as data: the seed's chain of questions, answered from health and blockers, in order.

1. is it stale because it missed freshness?  2. did it fail to materialize, or materialize from
stale upstream data?  3. did an upstream fail a check?  4. was the failure limited to some
partitions?  5. rematerialize here, or backfill the upstream slice first (or wait for a source)?
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from duck_cli.errors import UsageError, did_you_mean
from duck_cli.graph import partitions as parts
from duck_cli.health.assess import Assessment, PartitionHealth
from duck_cli.health.blockers import Blocker, Blockers, find_blockers
from duck_cli.health.freshness import FreshnessResult
from duck_cli.health.state import Promise, State
from duck_cli.health.status import product_status

_UPSTREAM = ("upstream_newer",)
_FAILURES = ("check_failed", "last_run_failed")
_CHANGED = ("code_changed", "upstream_newer")  # a retry may succeed: something changed


@dataclass(frozen=True)
class Question:
    """One of the five questions, answered yes, no or n/a (the either/or action question with
    the choice), with the detail that shows it."""

    id: str
    question: str
    answer: str
    detail: str


@dataclass(frozen=True)
class RootCause:
    """Root-cause blockers of one upstream asset that share a reason."""

    asset: str
    keys: tuple[str, ...]
    ranges: tuple[str, ...]  # the keys as compact ranges
    reason: str
    message: str

    @property
    def where(self) -> str:
        """The asset and its partitions, in words."""
        return f"{self.asset} {', '.join(self.ranges)}".strip()


@dataclass(frozen=True)
class NextAction:
    """What to do next, and the command that does it (if any)."""

    action: str  # none | wait_for_source | backfill_upstream | fix_data_or_check | rematerialize
    message: str
    command: str | None


@dataclass(frozen=True)
class WhyReport:
    """Why an asset (or one partition, or a data product) is not healthy."""

    target: str
    target_type: str  # asset | product
    partition: str | None  # the key asked about
    state: str  # a State for an asset, a Promise for a product
    freshness: FreshnessResult | None
    unhealthy: tuple[str, ...]  # unhealthy partitions in focus, as compact ranges
    questions: tuple[Question, ...]
    blockers: tuple[Blocker, ...]  # nearest first
    root_causes: tuple[RootCause, ...]
    next_action: NextAction
    assets: tuple[tuple[str, State], ...] | None = None  # a product's assets and their states
    explained_asset: str | None = None  # the product's asset the questions are about
    relation: str | None = None  # an asset's relation (schema.name)


def why(known: Assessment, target: str, key: str | None,
        blockers: Blockers | None = None) -> WhyReport:
    """The `why` report for an asset (optionally one partition) or a data product."""
    project = known.project
    found = blockers or find_blockers(project, known.health)
    if target in project.products:
        return _product(known, project.products[target], found)
    if target not in project.assets:
        tip = did_you_mean(target, [*project.assets, *project.products])
        raise UsageError(f"no asset or data product named '{target}'",
                         hint=tip or "Run `duck status` to list them.")
    return _asset(known, target, key, found)


def ranges(defn, keys) -> tuple[str, ...]:
    """Keys as compact ranges (none for an unpartitioned asset)."""
    keys = list(keys)
    return tuple(parts.compact_list(defn, keys)) if keys and defn is not None else ()


def _focus(known: Assessment, name: str, key: str | None) -> list[PartitionHealth]:
    ah = known.health.assets[name]
    if key is None:
        return ah.unhealthy()
    canonical = parts.validate_key(ah.asset.partitions, key, name, known.health.now) \
        if ah.asset.partitions is not None else ""
    p = ah.partitions[canonical]
    return [p] if p.state != State.FRESH else []


def _asset(known: Assessment, name: str, key: str | None, blockers: Blockers) -> WhyReport:
    ah = known.health.assets[name]
    focus = _focus(known, name, key)
    found = blockers.walk(name, [p.key for p in focus])
    roots = _roots(known, found) + _own_roots(known, name, focus)
    state = (focus[0].state if focus else State.FRESH) if key else ah.state
    questions = (_q1(ah.freshness, "its freshness policy"), _q2(focus), _q3(found),
                 _q4(known, name, focus, roots), _q5(roots, focus, name))
    return WhyReport(name, "asset", key, state, ah.freshness,
                     ranges(ah.asset.partitions, [p.key for p in focus]), questions,
                     tuple(found), roots, _next(name, focus, roots), relation=ah.asset.relation)


def _product(known: Assessment, product, blockers: Blockers) -> WhyReport:
    entry = product_status(known, product)
    worst = entry.unhealthy[0] if entry.unhealthy else product.assets[0]
    report = _asset(known, worst, None, blockers)
    questions = (_q1(entry.freshness, f"the product's promise ({product.name})"),
                 *report.questions[1:])
    return replace(report, target=product.name, target_type="product", state=entry.state,
                   freshness=entry.freshness, questions=questions,
                   assets=tuple(zip(product.assets, entry.asset_states)), explained_asset=worst)


def _roots(known: Assessment, found: list[Blocker]) -> tuple[RootCause, ...]:
    groups: dict[tuple, list[str]] = {}
    messages: dict[tuple, str] = {}
    for b in found:
        if b.root:
            groups.setdefault((b.asset, b.reason.code), []).append(b.key)
            messages.setdefault((b.asset, b.reason.code), b.reason.message)
    return tuple(RootCause(asset, tuple(keys), ranges(known.project.assets[asset].partitions, keys),
                           code, messages[(asset, code)]) for (asset, code), keys in groups.items())


def _own_roots(known: Assessment, name: str, focus) -> tuple[RootCause, ...]:
    """The asset's own failed checks, where nothing changed since: a rebuild fails the same way."""
    keys = [p.key for p in focus if p.state == State.FAILED
            and any(r.code == "check_failed" for r in p.reasons)
            and not any(r.code in _CHANGED for r in p.reasons)]
    if not keys:
        return ()
    first = known.health.partition(name, keys[0])
    message = next(r.message for r in first.reasons if r.code == "check_failed")
    return (RootCause(name, tuple(keys), ranges(known.project.assets[name].partitions, keys),
                      "check_failed", message),)


def _q1(fresh: FreshnessResult | None, what: str) -> Question:
    q = "Is it stale because it missed freshness?"
    if fresh is None:
        return Question("freshness", q, "n/a", "no freshness policy")
    answer = "yes" if fresh.state == Promise.STALE else "no"
    return Question("freshness", q, answer, f"{what}: {fresh.state}: {fresh.message}")


def _q2(focus: list[PartitionHealth]) -> Question:
    q = "Did it fail to materialize, or materialize from stale upstream data?"
    failed = [p for p in focus if p.state == State.FAILED]
    stale_up = [p for p in focus if any(r.code in _UPSTREAM for r in p.reasons)]
    missing = [p for p in focus if p.state == State.MISSING]
    if failed:
        detail = f"its last run failed for {len(failed)} partition(s): {failed[0].reasons[0].message}"
    elif missing:
        detail = f"{len(missing)} partition(s) were never materialized"
    elif stale_up:
        detail = f"it was materialized before newer upstream data: {stale_up[0].reasons[0].message}"
    else:
        return Question("materialization", q, "no",
                        "every partition in focus materialized from current upstream data")
    return Question("materialization", q, "yes", detail)


def _q3(found: list[Blocker]) -> Question:
    q = "Did an upstream asset fail a check (or a run)?"
    bad = [b for b in found if b.root and b.reason.code in _FAILURES]
    if not bad:
        return Question("upstream_failure", q, "no", "no upstream check or run failure")
    b = bad[0]
    return Question("upstream_failure", q, "yes",
                    f"{b.asset} {b.key}: {b.reason.message}".replace("  ", " "))


def _q4(known: Assessment, name: str, focus, roots: tuple[RootCause, ...]) -> Question:
    q = "Is the failure limited to some partitions?"
    ah = known.health.assets[name]
    if ah.asset.partitions is None and not roots:
        return Question("scope", q, "n/a", "not partitioned")
    if not focus:
        return Question("scope", q, "n/a", "nothing is unhealthy")
    limited = len(focus) < len(ah.keys)
    detail = (f"{len(focus)} of {len(ah.keys)} partition(s) unhealthy: "
              f"{', '.join(ranges(ah.asset.partitions, [p.key for p in focus]))}")
    if roots:
        detail += f"; root cause in {'; '.join(r.where for r in roots)}"
    return Question("scope", q, "yes" if limited else "no", detail)


def _q5(roots: tuple[RootCause, ...], focus, name: str) -> Question:
    """Answered with the choice (an either/or question), and what it rests on."""
    q = "Rematerialize here, or repair upstream first?"
    if not focus:
        return Question("action", q, "n/a", "nothing to do")
    upstream = [r for r in roots if r.asset != name]
    own = [r for r in roots if r.asset == name]
    where = "; ".join(r.where for r in upstream)
    if any(r.reason == "source_missing" for r in upstream):
        return Question("action", q, "wait for the source", f"a source has not arrived: {where}")
    if upstream:
        return Question("action", q, "repair upstream first",
                        f"rebuilding here would read the broken upstream: {where}")
    if own:
        return Question("action", q, "fix the data or the check",
                        f"its own check failed and nothing changed since: {own[0].message}")
    return Question("action", q, "rematerialize here", "no upstream blocker: rematerialize here")


def _next(name: str, focus, roots: tuple[RootCause, ...]) -> NextAction:
    """The suggested next action and the command that does it."""
    if not focus:
        return NextAction("none", "nothing to do: it is healthy", None)
    waits = [r for r in roots if r.reason == "source_missing"]
    if waits:
        r = waits[0]
        return NextAction("wait_for_source",
                          f"wait for source {r.asset} partition {_joined(r)} to arrive; "
                          f"no rebuild can fix it. Then reconcile.",
                          f"duck reconcile {name} --apply")
    fixes = [r for r in roots if r.reason in _FAILURES and r.asset != name]
    if fixes:
        r = fixes[0]
        keys = " ".join(f"--partition {k}" for k in r.keys[:10] if k)
        return NextAction("backfill_upstream",
                          f"backfill the upstream slice {r.asset} {_joined(r) or ''} first "
                          f"(fix what made it fail: {r.message}), then its downstream",
                          f"duck backfill {r.asset} {keys} --downstream".replace("  ", " "))
    own_checks = [r for r in roots if r.asset == name]
    if own_checks:
        return _fix_data_or_check(name, own_checks[0])
    keys = [p.key for p in focus if p.key]
    verb = "fix the failure, then rematerialize here" if any(
        p.state == State.FAILED for p in focus) else "rematerialize here"
    opts = " ".join(f"--partition {k}" for k in keys[:10])
    return NextAction("rematerialize", verb, f"duck materialize {name} {opts}".strip())


def _joined(r: RootCause) -> str | None:
    """A root cause's partitions as the document's ``partition`` field: ranges, comma-joined."""
    return ", ".join(r.ranges) or None


def _fix_data_or_check(name: str, root: RootCause) -> NextAction:
    """Its own check failed on unchanged inputs: rebuilding as is would fail the same way."""
    keys = " ".join(f"--partition {k}" for k in root.keys[:10] if k)
    return NextAction("fix_data_or_check",
                      f"fix the data or the check: {root.where} failed its own check "
                      f"({root.message}); a rebuild of the same inputs fails the same way. "
                      "Correct the upstream data (or the check, if it is wrong), then rebuild",
                      f"duck materialize {name} {keys}".strip())
