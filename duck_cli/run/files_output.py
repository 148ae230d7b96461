"""Kind ``file``: a Python function writes files into a staging folder; duck checks them and
publishes the folder by rename into ``outputs/ASSET/[partition]/``.

The materialization is the file list: a table named after the asset holds ``(partition_key,
file, bytes)`` per partition, so checks run on it like on any staged data (``row_count: {min:
1}`` says a file exists, ``accepted_range: {column: bytes, ...}`` bounds sizes, a ``python``
check opens the files in ``context.output_dir``), and the warehouse ledger records it. The
folder is swapped in with one atomic exchange (Linux ``renameat2``; two renames elsewhere)
right before the ledger commits, and swapped back if the commit fails.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from duck_cli.records import RunStatus
from duck_cli.run import python_asset, python_process
from duck_cli.run.python_call import UserCodeError
from duck_cli.sql import PROD, env_slug

OUTPUTS = "outputs"
STAGE = "__duck_stage"
_COLUMNS = "partition_key VARCHAR, file VARCHAR, bytes BIGINT"


def folder(root: Path, asset: str, key: str, env: str = PROD) -> Path:
    """Where a partition's files are published: outputs/ASSET/[KEY]/ (an environment's in
    outputs/.envs/ENV/ASSET/[KEY]/: production's files stay as they are)."""
    base = (root / OUTPUTS if env == PROD else root / OUTPUTS / ".envs" / env_slug(env)) / asset
    return base / key if key else base


def run(b, started):
    """Build a file asset's step (``b`` is its build.Builder); a StepResult either way."""
    from duck_cli.engine import duckdb

    b.python_log = b.python_context = b.python_folder = None
    key = b.keys[0] if b.keys else ""
    staging = b.s.project.root / OUTPUTS / ".staging" / f"{b.asset.name}-{key}-{b.run_id}-{b.step}"
    for left in staging.parent.glob(f"{b.asset.name}-{key}-*"):  # a killed run's (we hold the lock)
        shutil.rmtree(left, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        ctx = python_asset.context(b, output_dir=staging)
        python_asset.invoke(b, ctx)
        return _audit_and_publish(b, started, key, staging)
    except UserCodeError as err:
        b.wh.rollback()
        return python_asset.failed(b, started, err)
    except duckdb.Error as err:
        return b.sql_failed(started, err)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        python_process.remove(b.python_folder)


def listing(staging: Path, key: str) -> list[tuple[str, str, int]]:
    """(partition key, file relative to the folder, bytes) of every file written, sorted."""
    return sorted((key, p.relative_to(staging).as_posix(), p.stat().st_size)
                  for p in staging.rglob("*") if p.is_file())


def _audit_and_publish(b, started, key: str, staging: Path):
    files = listing(staging, key)
    if not files and not b.asset.allow_empty:
        raise UserCodeError(f"{b.asset.materialize.python.function} wrote no files into "
                            f"context.output_dir for {b.asset.name} {key}".rstrip() +
                            ". Write the outputs there (or set allow_empty: true)", "python")
    b.s.faults.hit("stage")
    con = b.wh.con
    b.wh.begin()
    con.execute(f"CREATE OR REPLACE TEMP TABLE {STAGE} ({_COLUMNS})")
    if files:
        con.executemany(f"INSERT INTO {STAGE} VALUES (?, ?, ?)", files)
    results = b.audit(STAGE)
    b.s.faults.hit("checks")
    bad = [c for c in results if c.blocking]
    if bad:
        b.wh.rollback()
        res = b.result(started, RunStatus.FAILED, len(files), results,
                       "; ".join(f"check {c.name} failed: {c.message}" for c in bad), "check")
        res.data_error = True
        return res
    _publish_table(b, key)
    return _swap_and_commit(b, started, key, staging, len(files), results)


def _publish_table(b, key: str) -> None:
    """Replace the partition's rows of the file-list table (inside the step's transaction)."""
    con, rel = b.wh.con, b.asset.relation
    table = b.wh.relation(rel)
    if b.wh.table_kind(rel) != "BASE TABLE":
        b.wh.drop(rel)
        con.execute(f"CREATE TABLE {table} ({_COLUMNS})")
        b.wh.mark(rel, "BASE TABLE")
    con.execute(f"DELETE FROM {table} WHERE partition_key = ?", [key])
    con.execute(f"INSERT INTO {table} SELECT * FROM {STAGE}")
    con.execute(f"DROP TABLE {STAGE}")


def _swap_and_commit(b, started, key: str, staging: Path, rows: int, results):
    """Swap the staged folder in, then commit the file list and ledger; undo the swap if the
    commit fails (the staging path then holds the old files, which `run` deletes)."""
    final = folder(b.s.project.root, b.asset.name, key, b.s.settings.env)
    final.parent.mkdir(parents=True, exist_ok=True)
    had = final.exists()
    exchange(staging, final)
    b.s.faults.hit("publish")
    try:
        return b.finish(started, rows, results)
    except BaseException:
        if had:
            exchange(staging, final)
        else:
            shutil.rmtree(final, ignore_errors=True)
        raise


def exchange(a: Path, b: Path) -> None:
    """Swap two paths atomically (``b`` may be missing: then ``a`` moves there, an empty folder
    is left at ``a``)."""
    if not b.exists():
        os.replace(a, b)
        a.mkdir()
        return
    if not _renameat2_exchange(a, b):
        aside = a.with_name(a.name + ".old")
        os.replace(b, aside)
        os.replace(a, b)
        os.replace(aside, a)


def _renameat2_exchange(a: Path, b: Path) -> bool:
    """Linux's atomic exchange of two paths; False where it is not available."""
    import ctypes  # a files asset's publish only: an SQL run never loads it

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0
