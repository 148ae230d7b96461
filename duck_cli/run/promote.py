"""`duck promote --env E`: production takes what environment E built, recomputing nothing.

Under production's write lock, in one warehouse transaction for all assets (the local file
allows it, and so does a DuckLake: the tables and the ledger are all the lake's): each promoted asset's table (or the previewed partitions' slice) is copied from
``main__<e>`` into ``main``, a view is created again over production's tables, and one ledger
row per partition is written; then production's state records one run (``<env>/<run>``, the
preview's run) with a step per asset and the materializations, which point at that run. Checks
are not run again: they passed in the environment. File assets' folders are copied after the
commit. Refused (UsageError, exit 2) when the manifests' code differs from what was previewed,
or when production materialized a promoted asset or one of its upstream after the preview.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass

from duck_cli import __version__
from duck_cli.graph.dag import AssetGraph
from duck_cli.graph import partitions as parts
from duck_cli.models import STATEFUL, Project
from duck_cli.plan import defer
from duck_cli.records import Batch, Mat, RunRecord, RunStatus, Snapshot, StepRecord
from duck_cli.code_version import moved_keys
from duck_cli.errors import ExecutionError
from duck_cli.run import files_output
from duck_cli.run.transaction import attempts
from duck_cli.sql import quote_ident, relation, slice_predicate
from duck_cli.state.lake_config import is_conflict
from duck_cli.state.warehouse import ledger_row


@dataclass(frozen=True)
class Promoted:
    """What a promotion copied: the run it recorded, and partitions per asset."""

    env: str
    run_id: str | None
    assets: dict  # asset -> list of partition keys ([""] when unpartitioned)


def what(project: Project, env: Snapshot, prod: Snapshot, now) -> dict[str, list[Mat]]:
    """The environment's current materializations of the assets it builds, by asset; less
    those that read a previewed window as if it were the whole upstream (an unpartitioned or
    ``all`` reader of a partitioned asset the preview built only some partitions of) and what
    reads them: production rebuilds those from its own complete tables."""
    graph = AssetGraph.build(project.assets)
    _found, built = defer.to_build(project, graph, prod)
    out: dict[str, list[Mat]] = {}
    for (asset, _key), mat in sorted(env.current.items()):
        if asset in built and mat.kind == "materialization":
            out.setdefault(asset, []).append(mat)
    kept: dict[str, list[Mat]] = {}
    for name in (a for a in graph.order if a in out):
        if not any(_partial_read(project, project.assets[name], d, out, kept, now)
                   for d in project.assets[name].deps):
            kept[name] = out[name]
    return kept


def _partial_read(project: Project, asset, dep, built: dict, kept: dict, now) -> bool:
    """Whether ``asset`` read ``dep`` partially: an upstream left out, or a window of it."""
    if dep.asset in built and dep.asset not in kept:
        return True
    upstream = project.assets[dep.asset]
    if dep.asset not in kept or upstream.partitions is None:
        return False
    whole = asset.partitions is None or dep.mapping == "all"
    have = {m.partition for m in kept[dep.asset]}
    return whole and not set(parts.partition_keys(upstream.partitions, now)) <= have


def refusal(project: Project, mats: dict[str, list[Mat]], prod: Snapshot, base_seq: int,
            env: str) -> str | None:
    """Why production cannot take the preview as it is (None: it can)."""
    if not mats:
        return f"environment {env} holds nothing built to promote"
    stateful = [a for a in mats if project.assets[a].materialize.strategy in STATEFUL]
    if stateful:
        return (f"{', '.join(stateful)} keep history (append, merge, snapshot) that a preview "
                "does not hold; materialize them in production instead")
    for asset, rows in mats.items():
        if any(m.code_version != project.assets[asset].code_version for m in rows):
            return (f"the manifests changed since {env} was built: {asset}'s code differs from "
                    "what was previewed; build the preview again")
    graph = AssetGraph.build(project.assets)
    watched = graph.upstream_closure(mats) | set(mats)
    moved = sorted({a for (a, _k), m in prod.current.items() if a in watched and m.seq > base_seq
                    and m.kind in ("materialization", "observation")})
    if moved:
        return (f"production moved since {env} was built: {', '.join(moved)} changed there "
                "after the preview; build the preview again")
    return None


def promote(s, env_name: str, mats: dict[str, list[Mat]], env_snap: Snapshot) -> Promoted:
    """Copy ``mats`` from the environment's tables into production's and record them (``s``
    is production's writing session)."""
    run_id = f"{env_name}/{max(m.run_id or '' for rows in mats.values() for m in rows)}"
    now = s.clock()
    ledger = [ledger_row(s.next_seq(), s.project.assets[asset], m.partition, run_id, step, now,
                         m.row_count, "materialization",
                         upstream=json.dumps({"promoted_from": env_name, "seq": m.seq}))
              for step, (asset, rows) in enumerate(mats.items()) for m in rows]
    s.unrecorded()  # a crash after the commit leaves rows the next command records
    _retried(s, env_name, lambda: _publish(s, env_name, mats, ledger))
    _record(s, run_id, mats, ledger, now)
    for asset in (a for a in mats if s.project.assets[a].is_files):
        _copy_files(s.project.root, asset, [m.partition for m in mats[asset]], env_name)
    return Promoted(env_name, run_id, {a: [m.partition for m in rows] for a, rows in mats.items()})


def _publish(s, env_name: str, mats: dict[str, list[Mat]], ledger: list) -> None:
    """One transaction: every asset's copy and the ledger rows (rolled back on any error)."""
    s.wh.begin()
    try:
        for asset, rows in mats.items():
            _copy(s.wh, s.project.assets[asset], [m.partition for m in rows], env_name)
            _drop_moved(s, s.project.assets[asset], [m.partition for m in rows])
        s.wh.append_ledger(ledger)
        s.faults.hit("promote")
        s.wh.commit()
    except BaseException:
        s.wh.rollback()
        raise


def _retried(s, env_name: str, publish) -> None:
    """Run ``publish`` until it commits: in a lake, another writer committing to one of the
    same tables first (a DuckLake transaction conflict) makes the whole promotion run again
    after a random pause that grows, as a step's publish does (`lake_publish`), up to a bound."""
    from duck_cli.engine import duckdb

    tried = 0
    for tried in attempts():
        try:
            return publish()
        except duckdb.Error as err:
            if not (s.wh.lake and is_conflict(err)):
                raise
    raise ExecutionError(
        f"promoting environment '{env_name}' into production: the lake refused the commit "
        f"{tried + 1} times because other writers changed the same tables at the same moment "
        "(DuckLake transaction conflicts); nothing was promoted",
        hint=f"Run `duck promote --env {env_name}` again once the other writers finish.")


def _copy(wh, asset, keys: list[str], env: str) -> None:
    """Production's relation of ``asset`` becomes the environment's (its previewed slice)."""
    rel = asset.relation
    source, target = relation(asset.name, asset.schema, env), wh.relation(rel)
    if asset.materialize.strategy == "view":
        if wh.table_kind(rel) == "BASE TABLE":
            wh.drop(rel)
        wh.con.execute(f"CREATE OR REPLACE VIEW {target} AS {asset.materialize.sql}")
        wh.mark(rel, "VIEW")
        return
    partial = asset.partitions is not None and wh.table_kind(rel) == "BASE TABLE" and (
        asset.materialize.strategy == "incremental" or asset.is_files)
    if not partial:
        if wh.table_kind(rel) == "VIEW":
            wh.drop(rel)
        wh.con.execute(f"CREATE OR REPLACE TABLE {target} AS SELECT * FROM {source}")
        wh.mark(rel, "BASE TABLE")
        return
    _add_columns(wh.con, target, source)
    if asset.is_files:  # a file asset's table lists its files by partition key
        pred, params = "partition_key IN (SELECT unnest($keys))", {"keys": keys}
    else:
        pred, params = slice_predicate(asset.partitions, parts.sql_params(asset.partitions, keys))
    wh.con.execute(f"DELETE FROM {target} WHERE {pred}", params)
    wh.con.execute(f"INSERT INTO {target} BY NAME SELECT * FROM {source} WHERE {pred}", params)


def _drop_moved(s, asset, keys: list[str]) -> None:
    """Drop production's relation in the schema the asset moved from once the promotion
    replaces every partition recorded there."""
    for schema, left in moved_keys(s.snapshot, asset).items():
        if left <= set(keys):
            s.wh.drop_relation(f"{schema}.{asset.name}")


def _add_columns(con, target: str, source: str) -> None:
    """Columns the preview added, added to production's table (empty in its other slices)."""
    have = {r[0] for r in con.execute(f"DESCRIBE {target}").fetchall()}
    for column, kind, *_rest in con.execute(f"DESCRIBE {source}").fetchall():
        if column not in have:
            con.execute(f"ALTER TABLE {target} ADD COLUMN {quote_ident(column)} {kind}")


def _record(s, run_id: str, mats: dict[str, list[Mat]], ledger, now) -> None:
    """Production's state: the promotion's run, a step per asset, the materializations."""
    run = RunRecord(run_id, "promote", RunStatus.SUCCESS, now, now, os.getpid(),
                    os.uname().nodename, f"promote --env {run_id.split('/')[0]}", None, None,
                    __version__)
    steps = [StepRecord(s.next_step_seq(), run_id, i, asset, [m.partition for m in rows],
                        RunStatus.SUCCESS, now, now, None, None,
                        sum(m.row_count or 0 for m in rows), None, rows[0].code_version,
                        f"promoted from environment {run_id.split('/')[0]}", None)
             for i, (asset, rows) in enumerate(mats.items())]
    with s.catalog() as c:
        c.write(Batch(runs=[run], steps=steps, mats=ledger))
    s.recorded()


def _copy_files(root, asset: str, keys: list[str], env: str) -> None:
    """A file asset's previewed folders replace production's."""
    for key in keys:
        src, dst = (files_output.folder(root, asset, key, env),
                    files_output.folder(root, asset, key))
        if src.is_dir():
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(src, dst)
