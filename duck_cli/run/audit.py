"""`duck check`: run asset checks on the published data, and record the results."""

from __future__ import annotations


from duck_cli.graph import partitions as parts
from duck_cli.run import checks, files_output, python_checks
from duck_cli.run.python_call import Context
from duck_cli.run.session import session
from duck_cli.sql import quote_ident, slice_predicate


def check_published(state, names: list[str], keys: list[str], now, *, wait: float,
                    faults=None) -> list:
    """(asset, partition, CheckResult) for every check of the selection on published data."""
    project = state.project
    out = []
    with session(project, "check", lambda: now, wait=wait, faults=faults) as s:
        for name in names:
            asset = project.assets[name]
            if not asset.checks or not s.wh.exists(name):
                continue
            for key in _keys(state, asset, keys):
                where, params = _where(asset, key)
                ref = _reference(asset, key, now)
                ctx = Context(name, None, key or None, (key,) if key else (), None, con=s.wh.con,
                              output_dir=files_output.folder(project.root, name, key)
                              if asset.is_files else None)
                for r in checks.run_checks(s.wh.con, asset.checks, quote_ident(name), where=where,
                                           params=params, now=now, reference_time=ref,
                                           table_of=quote_ident,
                                           python=python_checks.checker(s, asset, ctx)):
                    out.append((name, key, r))
        s.pending.checks.extend(checks.check_records(out, s.next_step_seq, run_id=None, step=None,
                                                      at=now, stage="published"))
    return out


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


