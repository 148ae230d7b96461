"""Source observers: a source whose data lives outside files and tables (an API, a queue) says
what is available through a Python function, ``observe: pipelines/api.py:available_days``.

The function gets a context and returns the available partition keys with their versions
(``{"2026-03-01": "etag-1", ...}``), or just the keys (each then has version ``"1"``), or for an
unpartitioned source one version string. Writing commands (materialize, backfill, reconcile)
call it and record what changed as observations; reading commands (status, plan, why) use the
last recorded ones, so looking never runs user code. An observer that fails stops the command
before anything runs, as an unreachable remote source does.
"""

from __future__ import annotations

from duck_cli.errors import ExecutionError
from duck_cli.graph import partitions as parts
from duck_cli.models import Asset
from duck_cli.run.python_call import Context, UserCodeError, call, load


def observe(s, asset: Asset) -> dict[str, str | None]:
    """Live versions of an observed source's partitions (None: not available)."""
    keys = parts.partition_keys(asset.partitions, s.clock()) if asset.partitions else [""]
    ctx = Context(asset.name, None, None, (), None)
    try:
        fn = load(s.project.root, asset.source.observe, s.python_functions, s.python_lock)
        value = call(fn, {"context": ctx} if _takes_context(fn) else {}, s.project.root, None)
        found = versions(value, asset)
    except UserCodeError as err:  # like an unreachable remote source: nothing runs or is recorded
        raise ExecutionError(
            f"source '{asset.name}': its observer {asset.source.observe} failed: "
            f"{err.text.splitlines()[0]}", asset=asset.name,
            hint="Fix the function (where it failed: " + "; ".join(
                line.strip() for line in err.text.splitlines()[2:] if line.strip().startswith("File"))
            + ")") from None
    return {k: found.get(k) for k in keys}


def versions(value, asset: Asset) -> dict[str, str]:
    """Normalize what an observer returned to {key: version}."""
    if asset.partitions is None:
        if isinstance(value, dict):
            value = value.get("")
        return {} if value in (None, False) else {"": str(value)}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple, set, frozenset)):
        return {str(k): "1" for k in value}
    raise UserCodeError(f"{asset.source.observe.function} returned {type(value).__name__}: "
                        "return {partition key: version} or a list of available keys", "python")


def _takes_context(fn) -> bool:
    import inspect

    return "context" in inspect.signature(fn).parameters


def relation(con, s, asset: Asset, keys: list[str]):
    """What a reader of an observed source gets: (partition_key, version) of its partitions."""
    live = getattr(s, "live", {}).get(asset.name, {})
    rows = [(k, live.get(k)) for k in (keys or [""])]
    return con.sql("SELECT * FROM (SELECT unnest($k) AS partition_key, unnest($v) AS version)",
                   params={"k": [r[0] for r in rows], "v": [r[1] for r in rows]})
