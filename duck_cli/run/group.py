"""Building several small steps in one warehouse transaction: commits, not statements,
dominate small steps, so steps that `shares_transaction` allows share one."""

from __future__ import annotations

from duck_cli.records import RunStatus
from duck_cli.run import inputs
from duck_cli.models import Asset
from duck_cli.run.build import Builder
from duck_cli.run.transaction import direct_ok, plain_step
from duck_cli.run.transaction import (SliceError, commit_with_ledger, rollback_or_raise,
                                     staged_counts)


def shares_transaction(s, wh, asset: Asset) -> bool:
    """Whether a step is plain statements on its published table, so it can share a
    transaction with other such steps (`run_group`)."""
    if asset.materialize is None or not plain_step(wh, asset):
        return False
    return asset.materialize.strategy == "table" or direct_ok(s, wh, asset)


def creates_table(wh, asset: Asset) -> bool:
    """Whether a step would create its incremental table, plain statements otherwise, in a
    lake: its group's transaction can create the table with the first slice it publishes
    (`LakeBuilder.clear_slice`), so the step need not commit alone before the rest."""
    return (wh.lake and asset.materialize is not None and plain_step(wh, asset)
            and asset.materialize.strategy == "incremental" and asset.partitions is not None
            and wh.table_kind(asset.relation) is None)


def run_group(s, builders: list[Builder], wh) -> list | None:
    """Several steps that `shares_transaction` allows and that do not read each other, in ONE
    transaction with one ledger insert and one commit: commits, not statements, dominate small
    steps.

    All or nothing: on any error the transaction rolls back and None says so; the caller then
    builds the steps one by one, each in its own transaction, so a bad step fails alone. After a
    first Ctrl-C the group stops after the step in progress and commits the steps it finished:
    the results are then fewer than the builders.

    In a lake each step's rows are staged locally first (`LakeBuilder.stage_slice`; a first
    Ctrl-C then stops the staging, and the transaction publishes the steps staged), and the
    group is one DuckLake commit (nothing to audit: plain steps have no checks; an incremental
    table not made yet is created in it, with the stage's columns, so a crash leaves neither the
    table nor any slice),
    labelled and noted like a step's (`lake_publish`); a transaction conflict rolls it back like
    any error, and the steps then publish one by one with their own retries. Steps reading
    per-partition source files stay alone there (their TEMP views would be a second database
    written in the lake's transaction)."""
    if wh.lake and any(b.inputs for b in builders):
        return None
    try:
        return _in_transaction(s, builders, wh)
    finally:
        if wh.lake:  # LakeBuilders
            _drop_stages(wh, builders)


def _in_transaction(s, builders: list[Builder], wh) -> list | None:
    """`run_group`'s transaction (a lake's slices staged before it begins)."""
    import time

    from duck_cli.engine import duckdb

    try:
        if wh.lake:  # after a first Ctrl-C: the steps staged before it, all of them
            builders = _stage_slices(s, builders, wh)
    except (duckdb.Error, RuntimeError, SliceError) as err:
        rollback_or_raise(wh, err)
        return None
    if not builders:
        return []
    done = []
    wh.begin()
    try:
        if wh.lake:
            wh.label_commit(builders[0].run_id, [(b.step, b.asset.name) for b in builders])
            made: set[str] = set()  # the tables this transaction creates
            for b in builders:  # every staged slice's DELETE before the first INSERT
                if b.slice_stage is not None:
                    b.clear_slice(made)
            insert_slices(s, wh, builders)
        for b in builders:
            if s.interrupted and not wh.lake:  # a lake's slices are deleted already
                break  # finish the step in progress, not the whole group
            # a staged step (`LakeBuilder.stage_slice`) began when its staging did
            started, t0 = getattr(b, "stage_started", None) or s.clock(), time.perf_counter()
            strategy = b.asset.materialize.strategy
            b.open_inputs()
            try:
                rows = b.replace_table() if strategy == "table" else b.replace_slice()
            finally:
                inputs.drop(wh.con, b.inputs)
            done.append((b, started, rows, time.perf_counter() - t0
                         + getattr(b, "stage_seconds", 0.0)))
        if not done:
            wh.rollback()
            return []
        for b, *_rest in done:
            b.drop_moved()
        with s.commit_lock:
            ledgers = [b.ledger(rows) for b, _started, rows, _secs in done]
            commit_with_ledger(s, wh, [row for ledger in ledgers for row in ledger])
            if wh.lake:  # what `runs show` and `why` name (commits here are serialised)
                ledgers = with_snapshot(ledgers, wh.snapshot_id())
        s.faults.hit("published")
    except (duckdb.Error, RuntimeError, SliceError, inputs.SourceFileError) as err:
        rollback_or_raise(wh, err)
        return None
    out = []
    for (b, started, rows, seconds), ledger in zip(done, ledgers):
        res = b.result(started, RunStatus.SUCCESS, rows, [], None, None)
        res.ledger, res.seconds = ledger, seconds
        out.append(res)
    return out


def _stage_slices(s, builders: list[Builder], wh) -> list[Builder]:
    """Stage each incremental step of a lake group before its transaction; the steps the
    transaction builds: all, or after a first Ctrl-C those before it (results stay a prefix
    of the group's steps). In one transaction of their own (they write TEMP tables only):
    each statement alone would be a transaction of its own, fetching the lake's latest
    snapshot from its catalog again (a round trip, ~1-3 ms), and every stage reads the same
    snapshot of the lake."""
    slices = [b.asset.materialize.strategy == "incremental" for b in builders]
    if any(slices):
        wh.begin()
    staged = builders
    for n, (b, is_slice) in enumerate(zip(builders, slices)):
        if s.interrupted:
            staged = builders[:n]
            break
        if is_slice:
            b.stage_slice()
    if any(slices):
        count_stages(wh, staged)
        wh.commit()
    return staged


def count_stages(wh, builders: list[Builder]) -> None:
    """Count the staged slices' rows per partition key, all in one statement, refusing a
    slice with rows outside its partitions (SliceError: the group falls back to its steps)."""
    staged = [b for b in builders if b.slice_stage is not None]
    if not staged:
        return
    found = staged_counts(wh.con, [(b.asset, b.slice_stage, b.predicate()) for b in staged])
    for b, (counts, outside) in zip(staged, found):
        b.counted_stage(counts, outside)


def insert_slices(s, wh, builders: list[Builder]) -> None:
    """Insert a lake group's staged slices (`LakeBuilder.stage_slice`), once `clear_slice`
    made room for them: one INSERT per table for all of its slices. DuckLake writes a Parquet
    file and registers it in its catalog for each INSERT (twelve slices' INSERTs and their
    commit: ~28 ms; one INSERT of them all: ~9 ms, and readers open one file, not twelve)."""
    tables: dict[str, list[Builder]] = {}
    for b in builders:
        if b.slice_stage is not None:
            tables.setdefault(b.asset.relation, []).append(b)
    for name, staged in tables.items():
        for _b in staged:
            s.faults.hit("stage")
        union = " UNION ALL BY NAME ".join(f"SELECT * FROM {b.slice_stage}" for b in staged)
        wh.con.execute(f"INSERT INTO {wh.relation(name)} BY NAME {union}")
        for _b in staged:
            s.faults.hit("publish")


def _drop_stages(wh, builders: list[Builder]) -> None:
    """Drop the stages `_stage_slices` made, in one transaction (see there)."""
    from duck_cli.engine import duckdb

    if not any(b.slice_stage is not None for b in builders):
        return
    try:
        wh.begin()
        opened = True
    except duckdb.Error:  # a transaction still open (an interrupt): not this one's to end
        opened = False
    for b in builders:
        b.drop_slice_stage()
    if opened:
        wh.commit()


def with_snapshot(ledgers: list[list], snapshot: int | None) -> list[list]:
    """The ledger rows with the lake snapshot their commit made noted in ``upstream``."""
    import json

    def noted(upstream: str | None) -> str:
        return json.dumps({**(json.loads(upstream) if upstream else {}), "snapshot": snapshot})

    return [[row._replace(upstream=noted(row.upstream)) for row in rows] for rows in ledgers]
