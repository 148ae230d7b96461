"""`duck check`: run asset checks on the published data, and record the results."""

from __future__ import annotations


from duck_cli.graph import partitions as parts
from duck_cli.run import reads, checks, files_output, python_checks
from duck_cli.run.python_call import Context
from duck_cli.run.session import session
from duck_cli.sql import slice_predicate


def check_published(state, names: list[str], keys: list[str], now, *, wait: float,
                    faults=None) -> list:
    """(asset, partition, CheckResult) for every check of the selection on published data."""
    project = state.project
    out = []
    with session(project, "check", lambda: now, wait=wait, faults=faults) as s:
        for name in names:
            asset = project.assets[name]
            if not asset.checks or not s.wh.exists(asset.relation):
                continue
            out += _check_asset(s, asset, _keys(state, asset, keys), now)
        s.pending.checks.extend(checks.check_records(out, s.next_step_seq, run_id=None, step=None,
                                                      at=now, stage="published"))
    return out


def _check_asset(s, asset, keys: list[str], now) -> list:
    """(asset, partition, result) of an asset's checks: slice-scoped ones per partition; on a
    partitioned asset the whole-table ones run once and their result stands for each key."""
    wide = [c for c in asset.checks if c.table_scoped] if asset.partitions is not None else []
    narrow = [c for c in asset.checks if c not in wide]
    whole = _run(s, asset, wide, "", now) if wide and keys else []
    out = []
    for key in keys:
        done = {r.name: r for r in _run(s, asset, narrow, key, now) + whole}
        out += [(asset.name, key, done[c.name]) for c in asset.checks]
    return out


def _run(s, asset, specs: list, key: str, now) -> list:
    """Results of ``specs`` on the published partition ``key`` ("" for the whole table)."""
    if not specs:
        return []
    where, params = _where(asset, key)
    ctx = Context(asset.name, None, key or None, (key,) if key else (), None, con=s.wh.con,
                  output_dir=files_output.folder(s.project.root, asset.name, key,
                                                               s.settings.env)
                  if asset.is_files else None)
    return checks.run_checks(s.wh.con, specs, s.wh.relation(asset.relation), where=where,
                             params=params, now=now, reference_time=_reference(asset, key, now),
                             table_of=reads.table_of(s.project, s.wh), python=python_checks.checker(s, asset, ctx))


def _keys(state, asset, wanted: list[str]) -> list[str]:
    ah = state.health.assets[asset.name]
    if asset.partitions is None:
        return [""]
    if wanted:
        valid = []
        for k in wanted:
            valid.append(parts.validate_key(asset.partitions, k, asset.name, state.health.now))
        return valid
    return [k for k in ah.keys if k in ah.current]


def _where(asset, key: str):
    if not key:
        return None, None
    if asset.is_files:  # the file list: one row per file, by partition key
        return "partition_key = $partition_key", {"partition_key": key}
    return slice_predicate(asset.partitions, parts.sql_params(asset.partitions, [key]))


def _reference(asset, key: str, now):
    if not key or asset.partitions.kind == "static":
        return None
    return min(now, parts.bounds(asset.partitions, key)[1])


