"""The `--json` documents: plain dicts with a `schema_version`, shaped by schemas/*.schema.json.

Pure functions from core data to documents; `render.py` prints them (or tables built from them).
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from duck_cli.graph import partitions as parts
from duck_cli.state import versions
from duck_cli.health import freshness as fr
from duck_cli.health.assess import FRESH, AssetHealth, blockers, freshness_inputs

SCHEMA_VERSION = 1


def doc(kind: str, **body) -> dict:
    """A document envelope: its kind and schema version first."""
    return {"schema_version": SCHEMA_VERSION, "kind": kind, **body}


def ts(value: datetime | None) -> str | None:
    """An ISO 8601 timestamp (or None)."""
    return value.isoformat() if value is not None else None


def ranges(defn, keys: Iterable[str]) -> list[str]:
    """Keys as compact pieces: ['2026-03-01..2026-03-11', '2026-03-13']."""
    keys = list(keys)
    if not keys:
        return []
    return parts.compact_list(defn, keys) if defn is not None else []


# -- plan ------------------------------------------------------------------------------------


def plan_doc(plan, state) -> dict:
    """A plan as data: steps with reasons, what is held back, an estimate."""
    assets = state.project.assets
    return doc(
        "plan", command=plan.command, now=ts(state.health.now), empty=not plan.steps,
        steps=[{"index": s.index, "asset": s.asset, "partitions": ranges(assets[s.asset].partitions,
                                                                        s.keys),
                "partition_count": len(s.keys) if assets[s.asset].partitions else 0,
                "reasons": list(s.reasons), "reason_codes": list(s.codes),
                "needs": list(s.needs), "strategy": assets[s.asset].materialize.strategy}
               for s in plan.steps],
        held=held(plan, state),
        estimate={"steps": len(plan.steps), "partitions": plan.partitions,
                  "assets": len({s.asset for s in plan.steps})},
        changes=changes(state))


def held(plan, state) -> list[dict]:
    """What a plan leaves alone, and why (in the plan and in the run documents)."""
    assets = state.project.assets
    return [{"asset": h.asset, "status": h.status, "message": h.message,
             "partitions": ranges(assets[h.asset].partitions, h.keys),
             "partition_count": len(h.keys) if assets[h.asset].partitions else 0,
             "blocker": _blocker_ref(h.blocker, state)}
            for h in plan.held]


def changes(state) -> dict:
    """Assets added, removed or modified since the catalog last saw them, and what they stale."""
    recorded = {a for (a, _k), m in state.snapshot.current.items()}
    project, health = state.project, state.health
    added = [n for n in state.graph.order if n not in recorded]
    removed = sorted(recorded - set(project.assets))
    modified = [n for n in state.graph.order if n in recorded and any(
        r.code == "code_changed" for p in health.assets[n].unhealthy() for r in p.reasons)]
    downstream = state.graph.ordered(state.graph.downstream_closure(modified) - set(modified))
    return {"added": added, "removed": removed, "modified": modified,
            "stale_downstream": downstream}


def _blocker_ref(blocker, state) -> dict | None:
    if blocker is None:
        return None
    asset, key = blocker
    p = state.health.partition(asset, key)
    reason = p.reasons[0] if p.reasons else None
    return {"asset": asset, "partition": key or None, "state": p.state,
            "reason": reason.code if reason else None,
            "message": reason.message if reason else None}


# -- status ----------------------------------------------------------------------------------


def status_doc(state, names: list[str], with_partitions: bool) -> dict:
    """Health of the selected assets and of the products that publish them."""
    assets = [asset_status(state, state.health.assets[n], with_partitions) for n in names]
    products = [product_status(state, p) for p in state.project.products.values()
                if any(a in names for a in p.assets)]
    summary = {"assets": len(assets)}
    for key in ("fresh", "stale", "missing", "failed"):
        summary[key] = sum(1 for a in assets if a["state"] == key)
    summary["warn"] = sum(1 for a in assets if warns(a))
    return doc("status", now=ts(state.health.now), summary=summary, assets=assets,
               products=products)


def warns(entry: dict) -> bool:
    """Whether an asset's status entry carries a warning (a warn check, freshness at risk)."""
    return bool(entry["checks"]["warned"]) or (entry["freshness"] or {}).get("state") == "warn"


def asset_status(state, ah: AssetHealth, with_partitions: bool) -> dict:
    """One asset's status entry."""
    a, defn = ah.asset, ah.asset.partitions
    counts = ah.counts()
    by_state: dict[str, list[str]] = {"stale": [], "missing": [], "failed": []}
    for p in ah.unhealthy():
        by_state[p.state].append(p.key)
    latest = max(ah.current.values(), key=lambda m: m.seq, default=None)
    out = {
        "name": a.name, "kind": a.kind, "owner": a.owner, "tags": list(a.tags),
        "state": ah.state, "partitioned": defn is not None,
        "partitions": {"definition": defn.kind if defn else None, "total": len(ah.keys),
                       **counts, **{f"{k}_ranges": ranges(defn, v) for k, v in by_state.items()}},
        "last_materialization": _mat(latest),
        "rows": sum(m.row_count or 0 for m in ah.current.values()) if not a.is_source else None,
        "freshness": ah.freshness.to_json() if ah.freshness is not None else None,
        "checks": check_summary(state, ah),
        "reasons": reasons(ah),
        "blockers": asset_blockers(state, ah),
        "last_run": _run_ref(state.snapshot.last_attempts.get(a.name)),
    }
    if a.is_source:  # partitions that arrived with no data rows (an empty file)
        empty = [k for k in ah.keys if ah.current.get(k) is not None
                 and versions.is_empty(ah.current[k].data_version)]
        out["partitions"]["empty"] = len(empty)
        out["partitions"]["empty_ranges"] = ranges(defn, empty)
    if with_partitions:
        out["partition_list"] = [partition_entry(state, ah, k) for k in ah.keys]
    return out


def _mat(m) -> dict | None:
    if m is None:
        return None
    return {"seq": m.seq, "run_id": m.run_id, "at": ts(m.created_at), "rows": m.row_count,
            "kind": m.kind, "code_version": m.code_version}


def partition_entry(state, ah: AssetHealth, key: str) -> dict:
    """One partition's row for `status --partitions`."""
    p = ah.partitions[key]
    return {"partition": key, "state": p.state, "materialization": _mat(ah.current.get(key)),
            "reasons": [{"code": r.code, "message": r.message} for r in p.reasons],
            "checks": [{"name": c.name, "passed": c.passed, "severity": c.severity,
                        "message": c.message}
                       for c in state.snapshot.checks.get((ah.asset.name, key), ())]}


def check_summary(state, ah: AssetHealth) -> dict:
    """Latest check results across the asset's partitions."""
    name = ah.asset.name
    failing: dict[str, None] = {}
    failed = warned = 0
    if name in state.snapshot.check_counts:
        for key in ah.keys:
            for c in state.snapshot.checks.get((name, key), ()):
                failing[c.name] = None
                failed += c.severity == "error"
                warned += c.severity != "error"
    passed = state.snapshot.check_counts.get(name, (0, 0, 0))[0]
    return {"defined": len(ah.asset.checks), "passed": passed, "failed": failed,
            "warned": warned, "failing": list(failing)}


def reasons(ah: AssetHealth) -> list[dict]:
    """Staleness reasons with the partitions each holds for."""
    groups: dict[str, dict] = {}
    for p in ah.unhealthy():
        for r in p.reasons:
            g = groups.setdefault(r.code, {"code": r.code, "message": r.message, "keys": []})
            g["keys"].append(p.key)
    if ah.freshness is not None and ah.freshness.state == "stale" and "freshness_breached" \
            not in groups:
        groups["freshness_breached"] = {"code": "freshness_breached", "keys": [],
                                        "message": f"freshness breached: {ah.freshness.message}"}
    return [{"code": g["code"], "message": g["message"],
             "partitions": ranges(ah.asset.partitions, g["keys"])} for g in groups.values()]


def asset_blockers(state, ah: AssetHealth, limit: int = 50) -> list[dict]:
    """Root-cause blockers upstream of the asset's unhealthy partitions (distinct)."""
    found: dict[tuple, dict] = {}
    for p in ah.unhealthy()[:limit]:
        for b in blockers(state.project, state.health, ah.asset.name, p.key):
            if b.root and (b.asset, b.key) not in found:
                found[(b.asset, b.key)] = {"asset": b.asset, "partition": b.key or None,
                                           "reason": b.reason.code, "message": b.reason.message}
    return list(found.values())


def _run_ref(att) -> dict | None:
    return {"run_id": att.run_id, "status": att.status} if att else None


def product_status(state, product) -> dict:
    """A data product: its own freshness promise over the assets it publishes."""
    results = []
    for name in product.assets:
        ah = state.health.assets[name]
        if product.freshness is not None:
            results.append(fr.evaluate(product.freshness, state.health.now,
                                       **freshness_inputs(ah.asset, ah.keys, ah.current,
                                                          state.health.assets)))
    fresh_state = fr.worst(r.state for r in results) if results else None
    asset_states = [state.health.assets[n].state for n in product.assets]
    unhealthy = [n for n in product.assets if state.health.assets[n].state != FRESH]
    overall = "stale" if fresh_state == "stale" or unhealthy else (fresh_state or "fresh")
    return {"name": product.name, "owner": product.owner, "state": overall,
            "assets": list(product.assets), "asset_states": asset_states,
            "unhealthy_assets": unhealthy,
            "freshness": _worst_result(results)}


def _worst_result(results) -> dict | None:
    if not results:
        return None
    order = {"stale": 0, "warn": 1, "unknown": 2, "fresh": 3}
    return min(results, key=lambda r: order.get(r.state, 9)).to_json()


# -- runs ------------------------------------------------------------------------------------


def run_entry(r) -> dict:
    """A run row as data."""
    return {"run_id": r.run_id, "command": r.command, "status": r.status,
            "started_at": ts(r.started_at), "ended_at": ts(r.ended_at), "pid": r.pid,
            "host": r.host, "args": r.args, "backfill_id": r.backfill_id, "error": r.error}


def step_entry(s) -> dict:
    """A recorded step (records.StepRecord) as data, for `duck runs show`."""
    return {"step": s.step, "asset": s.asset, "partitions": [p for p in s.partitions or [] if p],
            "status": s.status, "rows": s.row_count, "error": s.error, "error_kind": s.error_kind,
            "blocked_by": s.blocked_by, "reasons": s.reasons, "started_at": ts(s.started_at),
            "ended_at": ts(s.ended_at)}


def backfill_entry(b) -> dict:
    """A recorded backfill (records.Backfill) as data, for `duck backfills`."""
    return {"backfill_id": b.backfill_id, "created_at": ts(b.created_at),
            "selection": b.selection, "status": b.status,
            "requested": {a: [k for k in keys if k] for a, keys in b.requested.items()},
            "options": b.options, "runs": [{"run_id": i, "status": s} for i, s in
                                           zip(b.run_ids, b.run_statuses)]}


def check_entry(c) -> dict:
    """A check result as data (from checks.CheckResult or catalog.CheckRow)."""
    return {"name": c.name, "kind": c.kind, "severity": c.severity, "passed": c.passed,
            "observed": c.observed, "failing": c.failing, "message": c.message,
            "sample": list(c.sample)}


def result_doc(result, plan, state) -> dict:
    """A finished run: every step's outcome and the health after it."""
    assets = state.project.assets
    steps = [{"step": r.step, "asset": r.asset, "partitions": ranges(assets[r.asset].partitions,
                                                                     r.keys),
              "status": r.status, "rows": r.row_count, "seconds": round(r.seconds, 4),
              "error": r.error, "error_kind": r.error_kind, "blocked_by": r.blocked_by,
              "checks": [check_entry(c) for c in r.checks]} for r in result.results]
    counts = {k: sum(1 for r in result.results if r.status == k)
              for k in ("success", "failed", "skipped")}
    return doc("run", run_id=result.run_id, status=result.status,
               backfill_id=result.backfill_id, summary=counts, steps=steps,
               held=held(plan, state),
               partitions=sum(len(r.keys) for r in result.results if r.status == "success"))


def doctor_doc(report) -> dict:
    """`duck doctor --json`: every finding, and whether the project is consistent."""
    return doc("doctor", ok=report.ok, findings=[
        {"level": f.level, "code": f.code, "message": f.message} for f in report.findings])
