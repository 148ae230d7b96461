"""`duck why`: the seed's chain of questions, answered from health and blockers, in order.

1. is it stale because it missed freshness?  2. did it fail to materialize, or materialize from
stale upstream data?  3. did an upstream fail a check?  4. was the failure limited to some
partitions?  5. rematerialize here, or backfill the upstream slice first (or wait for a source)?
"""

from __future__ import annotations

from duck_cli.errors import UsageError, did_you_mean
from duck_cli.graph import partitions as parts
from duck_cli.report import documents as docs
from duck_cli.health.assess import FRESH, blockers

_UPSTREAM = ("upstream_newer",)
_CHANGED = ("code_changed", "upstream_newer")  # a retry may succeed: something changed


def why(state, target: str, key: str | None) -> dict:
    """The `why` report for an asset (optionally one partition) or a data product."""
    project = state.project
    if target in project.products:
        return _product(state, project.products[target])
    if target not in project.assets:
        tip = did_you_mean(target, [*project.assets, *project.products])
        raise UsageError(f"no asset or data product named '{target}'",
                         hint=tip or "Run `duck status` to list them.")
    return _asset(state, target, key)


def _focus(state, name: str, key: str | None) -> list:
    ah = state.health.assets[name]
    if key is None:
        return ah.unhealthy()
    canonical = parts.validate_key(ah.asset.partitions, key, name, state.health.now) \
        if ah.asset.partitions is not None else ""
    return [ah.partitions[canonical]] if ah.partitions[canonical].state != FRESH else []


def _asset(state, name: str, key: str | None, product_fresh=None) -> dict:
    ah = state.health.assets[name]
    focus = _focus(state, name, key)
    found = _blockers(state, name, focus)
    roots = _roots(state, found) + _own_roots(state, name, focus)
    fresh = product_fresh or ah.freshness
    questions = [
        _q1(fresh), _q2(focus), _q3(found), _q4(state, name, focus, roots), _q5(roots, focus, name)]
    return docs.doc("why", target=name, target_type="asset", partition=key,
                    state=(focus[0].state if key and focus else ah.state if not key else FRESH),
                    freshness=fresh.to_json() if fresh is not None else None,
                    unhealthy_partitions=docs.ranges(ah.asset.partitions,
                                                     [p.key for p in focus]),
                    questions=questions,
                    blockers=[{"asset": b.asset, "partition": b.key or None,
                               "reason": b.reason.code, "message": b.reason.message,
                               "depth": b.depth, "root": b.root} for b in found],
                    root_causes=roots, next_action=_next(state, name, focus, roots))


def _product(state, product) -> dict:
    entry = docs.product_status(state, product)
    worst = entry["unhealthy_assets"][0] if entry["unhealthy_assets"] else product.assets[0]
    report = _asset(state, worst, None)
    fresh = entry["freshness"]
    report.update(target=product.name, target_type="product", state=entry["state"],
                  freshness=fresh, assets=[{"asset": a, "state": s} for a, s in
                                           zip(entry["assets"], entry["asset_states"])],
                  explained_asset=worst)
    report["questions"][0] = _q1_doc(fresh, f"the product's promise ({product.name})")
    return report


def _blockers(state, name: str, focus) -> list:
    seen, out = set(), []
    for p in focus[:200]:
        for b in blockers(state.project, state.health, name, p.key):
            if (b.asset, b.key) not in seen:
                seen.add((b.asset, b.key))
                out.append(b)
    return sorted(out, key=lambda b: (b.depth, b.asset, b.key))


def _roots(state, found) -> list[dict]:
    groups: dict[tuple, list[str]] = {}
    messages: dict[tuple, str] = {}
    for b in found:
        if b.root:
            groups.setdefault((b.asset, b.reason.code), []).append(b.key)
            messages.setdefault((b.asset, b.reason.code), b.reason.message)
    out = []
    for (asset, code), keys in groups.items():
        defn = state.project.assets[asset].partitions
        out.append({"asset": asset, "partition": ", ".join(docs.ranges(defn, keys)) or None,
                    "partitions": keys, "reason": code, "message": messages[(asset, code)]})
    return out


def _own_roots(state, name: str, focus) -> list[dict]:
    """The asset's own failed checks, where nothing changed since: a rebuild fails the same way."""
    keys = [p.key for p in focus if p.state == "failed"
            and any(r.code == "check_failed" for r in p.reasons)
            and not any(r.code in _CHANGED for r in p.reasons)]
    if not keys:
        return []
    first = state.health.partition(name, keys[0])
    message = next(r.message for r in first.reasons if r.code == "check_failed")
    defn = state.project.assets[name].partitions
    return [{"asset": name, "partition": ", ".join(docs.ranges(defn, keys)) or None,
             "partitions": keys, "reason": "check_failed", "message": message}]


def _q1(fresh) -> dict:
    return _q1_doc(fresh.to_json() if fresh is not None else None, "its freshness policy")


def _q1_doc(fresh: dict | None, what: str) -> dict:
    q = "Is it stale because it missed freshness?"
    if fresh is None:
        return {"id": "freshness", "question": q, "answer": "n/a", "detail": "no freshness policy"}
    answer = "yes" if fresh["state"] == "stale" else "no"
    return {"id": "freshness", "question": q, "answer": answer,
            "detail": f"{what}: {fresh['state']}: {fresh['message']}"}


def _q2(focus) -> dict:
    q = "Did it fail to materialize, or materialize from stale upstream data?"
    failed = [p for p in focus if p.state == "failed"]
    stale_up = [p for p in focus if any(r.code in _UPSTREAM for r in p.reasons)]
    missing = [p for p in focus if p.state == "missing"]
    if failed:
        detail = f"its last run failed for {len(failed)} partition(s): {failed[0].reasons[0].message}"
    elif missing:
        detail = f"{len(missing)} partition(s) were never materialized"
    elif stale_up:
        detail = f"it was materialized before newer upstream data: {stale_up[0].reasons[0].message}"
    else:
        detail = "every partition in focus materialized from current upstream data"
        return {"id": "materialization", "question": q, "answer": "no", "detail": detail}
    return {"id": "materialization", "question": q, "answer": "yes", "detail": detail}


def _q3(found) -> dict:
    q = "Did an upstream asset fail a check (or a run)?"
    bad = [b for b in found if b.root and b.reason.code in ("check_failed", "last_run_failed")]
    if not bad:
        return {"id": "upstream_failure", "question": q, "answer": "no",
                "detail": "no upstream check or run failure"}
    b = bad[0]
    return {"id": "upstream_failure", "question": q, "answer": "yes",
            "detail": f"{b.asset} {b.key}: {b.reason.message}".replace("  ", " ")}


def _q4(state, name, focus, roots) -> dict:
    q = "Is the failure limited to some partitions?"
    ah = state.health.assets[name]
    if ah.asset.partitions is None and not roots:
        return {"id": "scope", "question": q, "answer": "n/a", "detail": "not partitioned"}
    if not focus:
        return {"id": "scope", "question": q, "answer": "n/a", "detail": "nothing is unhealthy"}
    limited = len(focus) < len(ah.keys)
    where = "; ".join(f"{r['asset']} {r['partition'] or ''}".strip() for r in roots)
    detail = (f"{len(focus)} of {len(ah.keys)} partition(s) unhealthy: "
              f"{', '.join(docs.ranges(ah.asset.partitions, [p.key for p in focus]))}")
    if where:
        detail += f"; root cause in {where}"
    return {"id": "scope", "question": q, "answer": "yes" if limited else "no", "detail": detail}


def _q5(roots, focus, name: str) -> dict:
    """Answered with the choice (an either/or question), and what it rests on."""
    q = "Rematerialize here, or repair upstream first?"
    if not focus:
        return {"id": "action", "question": q, "answer": "n/a", "detail": "nothing to do"}
    upstream = [r for r in roots if r["asset"] != name]
    own = [r for r in roots if r["asset"] == name]
    where = "; ".join(f"{r['asset']} {r['partition'] or ''}".strip() for r in upstream)
    if any(r["reason"] == "source_missing" for r in upstream):
        return {"id": "action", "question": q, "answer": "wait for the source",
                "detail": f"a source has not arrived: {where}"}
    if upstream:
        return {"id": "action", "question": q, "answer": "repair upstream first",
                "detail": f"rebuilding here would read the broken upstream: {where}"}
    if own:
        return {"id": "action", "question": q, "answer": "fix the data or the check",
                "detail": f"its own check failed and nothing changed since: {own[0]['message']}"}
    return {"id": "action", "question": q, "answer": "rematerialize here",
            "detail": "no upstream blocker: rematerialize here"}


def _next(state, name, focus, roots) -> dict:
    """The suggested next action and the command that does it."""
    if not focus:
        return {"action": "none", "message": "nothing to do: it is healthy", "command": None}
    waits = [r for r in roots if r["reason"] == "source_missing"]
    if waits:
        r = waits[0]
        return {"action": "wait_for_source", "command": f"duck reconcile {name} --apply",
                "message": f"wait for source {r['asset']} partition {r['partition']} to arrive; "
                           f"no rebuild can fix it. Then reconcile."}
    fixes = [r for r in roots if r["reason"] in ("check_failed", "last_run_failed")
             and r["asset"] != name]
    if fixes:
        r = fixes[0]
        keys = " ".join(f"--partition {k}" for k in r["partitions"][:10] if k)
        return {"action": "backfill_upstream",
                "command": f"duck backfill {r['asset']} {keys} --downstream".replace("  ", " "),
                "message": f"backfill the upstream slice {r['asset']} {r['partition'] or ''} first "
                           f"(fix what made it fail: {r['message']}), then its downstream"}
    own_checks = [r for r in roots if r["asset"] == name]
    if own_checks:
        return _fix_data_or_check(name, own_checks[0])
    keys = [p.key for p in focus if p.key]
    own = [p for p in focus if p.state == "failed"]
    opts = " ".join(f"--partition {k}" for k in keys[:10])
    verb = "fix the failure, then rematerialize here" if own else "rematerialize here"
    return {"action": "rematerialize", "message": verb,
            "command": f"duck materialize {name} {opts}".strip()}


def _fix_data_or_check(name: str, root: dict) -> dict:
    """Its own check failed on unchanged inputs: rebuilding as is would fail the same way."""
    keys = " ".join(f"--partition {k}" for k in root["partitions"][:10] if k)
    where = f"{name} {root['partition'] or ''}".strip()
    return {"action": "fix_data_or_check",
            "command": f"duck materialize {name} {keys}".strip(),
            "message": f"fix the data or the check: {where} failed its own check "
                       f"({root['message']}); a rebuild of the same inputs fails the same way. "
                       "Correct the upstream data (or the check, if it is wrong), then rebuild"}
