"""W8: a pull-request preview of a one-asset change in the 200-asset DAG, then its promotion.

Production is built once (untimed). One asset in the middle layer gets new SQL (the same rows,
another code version). Timed: `duck plan --env pr` + `duck materialize --env pr` (it must build
exactly that asset and its downstream, checked against the graph), and `duck promote --env pr`
(target: under 1 s). Raw DuckDB runs the same copy statements as the promotion in one
transaction: CREATE OR REPLACE TABLE main.X AS SELECT * FROM main__pr.X for every promoted asset.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path

from bench import generate as gen


def changed_workload(w: gen.Workload) -> tuple[list[gen.AssetSpec], str]:
    """The DAG's specs with one middle-layer asset's SQL changed (same rows); its name."""
    i = len(w.assets) // 2
    spec = w.assets[i]
    specs = list(w.assets)
    specs[i] = replace(spec, sql=f"SELECT * FROM (\n{spec.sql}\n) AS changed WHERE true")
    return specs, spec.name


def downstream(specs: list[gen.AssetSpec], name: str) -> set[str]:
    """``name`` and every asset that reads it, directly or not."""
    out, grew = {name}, True
    while grew:
        more = {a.name for a in specs if set(a.deps) & out} - out
        out |= more
        grew = bool(more)
    return out


def rewrite(root: Path, specs: list[gen.AssetSpec]) -> None:
    """The project's manifests, written again from ``specs``."""
    for old in root.glob("assets_*.yaml"):
        old.unlink()
    gen.write_manifests(root, [gen.source_yaml("events", "events")] +
                        [gen.asset_yaml(a) for a in specs])


def copy_statements(names: list[str]) -> list:
    """What `duck promote` does to the warehouse, as plain SQL in one transaction."""
    return [("BEGIN TRANSACTION", None)] + [
        (f'CREATE OR REPLACE TABLE main."{n}" AS SELECT * FROM main__pr."{n}"', None)
        for n in names] + [("COMMIT", None)]


def _planned(b, root: Path) -> set[str]:
    out = subprocess.run([b.duck, "plan", "--env", "pr", "--json", "-p", str(root)],
                         capture_output=True, text=True, env={**__import__("os").environ,
                                                              "DUCK_NOW": gen.NOW}, check=True)
    return {s["asset"] for s in json.loads(out.stdout)["steps"]}


def bench(b) -> None:
    """Preview (plan + materialize --env) and promote, against raw DuckDB's copy."""
    from bench.run import Row, fresh_copy, run_duck, time_raw, time_raw_process

    assets, layers, rows = b.scale["dag"]
    w = gen.dag(b.work / "envs" / "pristine", assets, layers, rows)
    run_duck(["materialize"], w.root, duck=b.duck)
    specs, name = changed_workload(w)
    rewrite(w.root, specs)
    expected = downstream(specs, name)
    previews, promotes, raws, sql_only = [], [], [], []
    for _ in b.reps():
        proj = fresh_copy(w.root, b.work / "envs" / "duck")
        assert _planned(b, proj) == expected, "the preview must build only the change"
        plan = run_duck(["plan", "--env", "pr"], proj, duck=b.duck)
        mat = run_duck(["materialize", "--env", "pr"], proj, duck=b.duck)
        previews.append(type(plan)(plan.seconds + mat.seconds, plan.cpu + mat.cpu,
                                   max(plan.rss_mb or 0, mat.rss_mb or 0) or None))
        raw_db = fresh_copy(proj / gen.WAREHOUSE, b.work / "envs" / "raw.duckdb")
        promotes.append(run_duck(["promote", "--env", "pr"], proj, duck=b.duck))
        statements = copy_statements(sorted(expected))
        raws.append(time_raw_process(statements, raw_db, b.work / "envs" / "raw.json"))
        raw_db = fresh_copy(proj / gen.WAREHOUSE, b.work / "envs" / "raw.duckdb")
        from bench import raw

        sql_only.append(time_raw(lambda: raw.execute(raw_db, statements)))
    label = f"one-asset change in the {assets}-asset DAG ({len(expected)} asset(s) rebuilt)"
    b.res.add(Row(f"preview: `plan --env` + `materialize --env`, {label}", previews))
    b.res.add(Row(f"`duck promote --env`, {label}", promotes, raws, target="1s",
                  sql_only=sql_only))
