"""The `--json` documents: plain dicts with a `schema_version`, shaped by schemas/*.schema.json.

Pure functions from core data and reports (`health.status.StatusReport`, `health.why.WhyReport`)
to documents; `render.py` prints them.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Iterable

from duck_cli.graph import partitions as parts
from duck_cli.health.state import State
from duck_cli.records import RunStatus
from duck_cli.sql import env_schema, split_relation
from duck_cli.state import versions

if TYPE_CHECKING:  # annotations only: a writing command renders no status (about 15 ms)
    from duck_cli.health.status import AssetStatus, ProductStatus, StatusReport
    from duck_cli.health.why import WhyReport

SCHEMA_VERSION = 1


def doc(kind: str, **body) -> dict:
    """A document envelope: its kind and schema version first."""
    return {"schema_version": SCHEMA_VERSION, "kind": kind, **body}


def ts(value: datetime | None) -> str | None:
    """An ISO 8601 timestamp (or None)."""
    return value.isoformat() if value is not None else None


def shown(value: datetime | str | None, tz: tzinfo | None = None) -> str:
    """A time for a table: in ``tz`` (None: local time) to the second, with its offset (JSON
    keeps ``ts``).

    >>> from datetime import timezone
    >>> shown("2026-03-13T07:30:00.123456+01:00", timezone.utc)
    '2026-03-13 06:30:00+00:00'
    """
    if value is None or value == "":
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(tz).isoformat(sep=" ", timespec="seconds")


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
        steps=[{"index": s.index, "asset": s.asset,
                "relation": written(assets[s.asset].relation, state.project.settings.env),
                "partitions": ranges(assets[s.asset].partitions, s.keys),
                "partition_count": len(s.keys) if assets[s.asset].partitions else 0,
                "reasons": list(s.reasons), "reason_codes": list(s.codes),
                "needs": list(s.needs), "strategy": assets[s.asset].materialize.strategy}
               for s in plan.steps],
        held=held(plan, state),
        estimate={"steps": len(plan.steps), "partitions": plan.partitions,
                  "assets": len({s.asset for s in plan.steps})},
        changes=changes(state), **preview(plan))


def written(relation: str, env: str) -> str:
    """Where a step writes ``relation`` ('schema.name'): in an environment, its own copy.

    >>> written('marts.orders', 'prod'), written('marts.orders', 'pr-7')
    ('marts.orders', 'marts__pr_7.orders')
    """
    schema, name = split_relation(relation)
    return f"{env_schema(env, schema)}.{name}"


def preview(plan) -> dict:
    """In an environment, what the plan builds there and what it reads from production."""
    info = getattr(plan, "preview", None)
    return {} if info is None else {"preview": info.as_dict()}


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
    recorded = {a for a, _k in state.snapshot.current}
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


# -- status and why --------------------------------------------------------------------------


def status_doc(report: StatusReport, with_partitions: bool) -> dict:
    """`duck status --json`: the selected assets' health and their products' (a StatusReport)."""
    assets = [asset_status(a, with_partitions) for a in report.assets]
    summary = {"assets": len(assets), **report.counts(), "warn": report.warned()}
    return doc("status", now=ts(report.now), summary=summary, assets=assets,
               products=[product_entry(p) for p in report.products])


def asset_status(a: AssetStatus, with_partitions: bool) -> dict:
    """One asset's status entry."""
    ah = a.health
    defn = ah.asset.partitions
    latest = max(ah.current.values(), key=lambda m: m.seq, default=None)
    out = {
        "name": ah.asset.name, "relation": ah.asset.relation, "kind": ah.asset.kind,
        "owner": ah.asset.owner, "tags": list(ah.asset.tags), "state": a.state, "partitioned": defn is not None,
        "partitions": {"definition": defn.kind if defn else None, "total": len(ah.keys),
                       **ah.counts(),
                       **{f"{s}_ranges": ranges(defn, a.keys_in(s)) for s in _LISTED}},
        "last_materialization": _mat(latest),
        "rows": sum(m.row_count or 0 for m in ah.current.values())
        if not ah.asset.is_source else None,
        "freshness": ah.freshness.to_json() if ah.freshness is not None else None,
        "checks": {"defined": a.checks.defined, "passed": a.checks.passed,
                   "failed": a.checks.failed, "warned": a.checks.warned,
                   "failing": list(a.checks.failing)},
        "reasons": [{"code": g.code, "message": g.message, "partitions": ranges(defn, g.keys)}
                    for g in a.reasons],
        "blockers": [{"asset": b.asset, "partition": b.key or None, "reason": b.reason.code,
                      "message": b.reason.message} for b in a.blockers],
        "last_run": _run_ref(a.last_run),
    }
    if ah.asset.is_source:  # partitions that arrived with no data rows (an empty file)
        empty = [k for k in ah.keys if ah.current.get(k) is not None
                 and versions.is_empty(ah.current[k].data_version)]
        out["partitions"]["empty"] = len(empty)
        out["partitions"]["empty_ranges"] = ranges(defn, empty)
    if with_partitions:
        out["partition_list"] = [partition_entry(a, k) for k in ah.keys]
    return out


_LISTED = (State.STALE, State.MISSING, State.FAILED)  # the ``*_ranges`` keys, in this order


def _mat(m) -> dict | None:
    if m is None:
        return None
    return {"seq": m.seq, "run_id": m.run_id, "at": ts(m.created_at), "rows": m.row_count,
            "kind": m.kind, "code_version": m.code_version}


def partition_entry(a: AssetStatus, key: str) -> dict:
    """One partition's row for `status --partitions`."""
    p = a.health.partitions[key]
    return {"partition": key, "state": p.state, "materialization": _mat(a.health.current.get(key)),
            "reasons": [{"code": r.code, "message": r.message} for r in p.reasons],
            "checks": [{"name": c.name, "passed": c.passed, "severity": c.severity,
                        "message": c.message} for c in a.partition_checks.get(key, ())]}


def _run_ref(att) -> dict | None:
    return {"run_id": att.run_id, "status": att.status} if att else None


def product_entry(p: ProductStatus) -> dict:
    """A data product's status entry."""
    return {"name": p.product.name, "owner": p.product.owner, "state": p.state,
            "assets": list(p.product.assets), "asset_states": list(p.asset_states),
            "unhealthy_assets": list(p.unhealthy),
            "freshness": p.freshness.to_json() if p.freshness is not None else None}


def _next_action(a) -> dict:
    # the key order each action has always had in the document
    if a.action in ("wait_for_source", "backfill_upstream"):
        return {"action": a.action, "command": a.command, "message": a.message}
    return {"action": a.action, "message": a.message, "command": a.command}


def why_doc(r: WhyReport) -> dict:
    """`duck why --json` (a WhyReport)."""
    out = doc("why", target=r.target, target_type=r.target_type, partition=r.partition,
              state=r.state, freshness=r.freshness.to_json() if r.freshness else None,
              unhealthy_partitions=list(r.unhealthy),
              questions=[{"id": q.id, "question": q.question, "answer": q.answer,
                          "detail": q.detail} for q in r.questions],
              blockers=[{"asset": b.asset, "partition": b.key or None, "reason": b.reason.code,
                         "message": b.reason.message, "depth": b.depth, "root": b.root}
                        for b in r.blockers],
              root_causes=[{"asset": c.asset, "partition": ", ".join(c.ranges) or None,
                            "partitions": list(c.keys), "reason": c.reason,
                            "message": c.message} for c in r.root_causes],
              next_action=_next_action(r.next_action))
    if r.relation is not None:
        out["relation"] = r.relation
    if r.target_type == "product":
        out.update(assets=[{"asset": a, "state": s} for a, s in r.assets or ()],
                   explained_asset=r.explained_asset)
    return out


# -- runs ------------------------------------------------------------------------------------


def run_entry(r) -> dict:
    """A run row as data."""
    return {"run_id": r.run_id, "command": r.command, "status": r.status,
            "started_at": ts(r.started_at), "ended_at": ts(r.ended_at), "pid": r.pid,
            "host": r.host, "args": r.args, "backfill_id": r.backfill_id, "error": r.error}


def step_entry(s, snapshot: int | None = None) -> dict:
    """A recorded step (records.StepRecord) as data, for `duck runs show` (with the lake
    snapshot its publish made, in lake mode)."""
    entry = {"step": s.step, "asset": s.asset, "partitions": [p for p in s.partitions or [] if p],
             "status": s.status, "rows": s.row_count, "error": s.error,
             "error_kind": s.error_kind, "log": s.log, "blocked_by": s.blocked_by, "reasons": s.reasons,
             "started_at": ts(s.started_at), "ended_at": ts(s.ended_at)}
    return entry | ({"snapshot": snapshot} if snapshot is not None else {})


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
              "error": r.error, "error_kind": r.error_kind, "log": r.log, "blocked_by": r.blocked_by,
              "checks": [check_entry(c) for c in r.checks]} for r in result.results]
    counts = {k: sum(1 for r in result.results if r.status == k)
              for k in (RunStatus.SUCCESS, RunStatus.FAILED, RunStatus.SKIPPED)}
    return doc("run", run_id=result.run_id, status=result.status,
               backfill_id=result.backfill_id, summary=counts, steps=steps,
               held=held(plan, state),
               partitions=sum(len(r.keys) for r in result.results
                              if r.status == RunStatus.SUCCESS))


def doctor_doc(report) -> dict:
    """`duck doctor --json`: every finding, and whether the project is consistent."""
    out = doc("doctor", ok=report.ok, findings=[
        {"level": f.level, "code": f.code, "message": f.message} for f in report.findings])
    if report.storage is not None:
        s = report.storage
        out["storage"] = {"mode": s.mode, "state": {"backend": s.state, "at": s.state_at,
                                                    "schema_version": s.schema_version,
                                                    "server": s.server},
                          "warehouse": {"backend": s.warehouse, "at": s.warehouse_at}}
    return out
