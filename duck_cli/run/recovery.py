"""What a writing command repairs first: runs that died (abandoned), what they published but
did not record (copied from the warehouse ledger), and materializations the warehouse no longer
holds (recorded as lost)."""

from __future__ import annotations

from dataclasses import replace

from duck_cli.records import Batch, LedgerRow, RunStatus, StepRecord
from duck_cli.state import held
from duck_cli.state.warehouse import ledger_row


def recover(s) -> dict:
    """Mark dead runs abandoned and copy published-but-unrecorded ledger rows to the catalog
    (with the state in PostgreSQL, other writers' runs in progress are alive: left alone, and
    one process at a time records a dead run's rows)."""
    with s.state.serial("recover"), s.catalog() as c:
        snap = c.snapshot(s.scope)
        live = _alive(s, snap.active_runs)
        dead = [r for r in snap.active_runs if r.run_id not in live]
        for run in dead:
            c.mark_abandoned(run, s.clock())
        missing = settled(s, c, [r for r in s.wh.ledger_unrecorded(snap.max_seq, c)
                                 if r.run_id not in live], snap.max_seq)
        step_seq = c.max_step_seq()
        batch = Batch(mats=missing, steps=_synthetic_steps(missing, step_seq))
        if batch:  # a transaction only when there is something to record
            c.write(batch)
            step_seq += len(batch.steps)
        s.snapshot = c.snapshot(s.scope) if (missing or dead) else snap
        s.recorded()
        # read after the snapshot: the warehouse holds at least what the snapshot records
        s.facts, last_run = held.writer_facts(s.wh.con, s.settings.env)
        s.seq = max(snap.max_seq, s.facts.ledger_max)
        s.step_seq = step_seq
        s.ids = c.last_ids()  # counters that survive prune: ids never repeat
        s.ids["r"] = max(s.ids["r"], last_run)
    _floors(s)
    return {"abandoned": [r.run_id for r in dead], "recovered": len(missing)}


def settled(s, c, rows: list[LedgerRow], recorded_max: int) -> list[LedgerRow]:
    """Of the unrecorded ledger ``rows``, those no live writer will record: another runner's
    run that started after the snapshot records its own rows (read the runs again, now), and
    one that finished since has recorded them (ask the state again, after that read)."""
    if not rows:
        return rows
    busy = _alive(s, c.in_progress({r.run_id for r in rows if r.run_id}))
    rows = [r for r in rows if r.run_id not in busy]
    still = set(c.unrecorded([(r.seq, r.run_id) for r in rows], recorded_max))
    return [r for r in rows if r.seq in still]


def _alive(s, runs) -> set[str]:
    """The ids of ``runs`` in progress: other writers' that are alive, and this session's own
    run (a shared backfill recovers mid-run: its own run is neither dead nor to be repaired,
    and the rows it published but has not recorded yet are its own to record)."""
    runs = list(runs)
    own = {r.run_id for r in runs if s.run_id is not None and r.run_id == s.run_id}
    return s.state.alive([r for r in runs if r.run_id not in own]) | own


def _floors(s) -> None:
    """What the issuer (PostgreSQL state) must issue above: what the state and ledger hold."""
    if s.issuer is not None:
        for name, value in (("mat_seq", s.seq), ("step_seq", s.step_seq),
                            ("r", s.ids.get("r", 0)), ("b", s.ids.get("b", 0))):
            s.issuer.floor(name, value)


def record_lost(s) -> list[str]:
    """Record the materializations the warehouse no longer holds (a missing, replaced or older
    warehouse, a dropped table) as lost, so every command sees them missing and plans them;
    then remember which warehouse the catalog describes. The assets affected."""
    snap, path = s.snapshot, held.shown(s.project)
    # identity, ledger end and every schema's relations (an asset that moved is still recorded
    # where it was built), read by `recover` after the snapshot
    facts = s.facts
    # (a scoped read of a catalog that records nothing yet was already all of it)
    if s.scope is not None and snap.max_seq and not held.same_warehouse(snap, facts):
        with s.catalog() as c:  # another or an older warehouse: every partition is checked
            snap = s.snapshot = c.snapshot()
        if any(m.kind == "materialization" for m in snap.current.values()):
            facts = held.writer_facts(s.wh.con, s.settings.env)[0]  # again after the snapshot
    lost = held.lost_partitions(snap, facts, path, s.project.assets)
    now = s.clock()
    rows = [ledger_row(s.next_seq(), s.project.assets[a], k, None, None, now, None, "lost",
                       data_version=why) for (a, k), why in sorted(lost.items())]
    with s.catalog() as c:
        if rows:
            c.write(Batch(mats=rows))
        if facts.identity and snap.warehouse_id != facts.identity:
            c.set_meta("warehouse_id", facts.identity)
    s.snapshot = replace(held.without_lost(snap, lost), warehouse_id=facts.identity,
                         max_seq=max([snap.max_seq] + [r.seq for r in rows]))
    return sorted({a for a, _k in lost})


def _synthetic_steps(rows: list[LedgerRow], seq: int) -> list[StepRecord]:
    """Success steps for ledger rows whose run died before recording them."""
    return [StepRecord(seq + i + 1, r.run_id, r.step, r.asset, [r.partition_key],
                       RunStatus.SUCCESS, None, r.created_at, None, None, r.row_count, None,
                       r.code_version,
                       "recovered from the warehouse ledger", r.seq - 1)
            for i, r in enumerate(rows) if r.kind == "materialization"]
