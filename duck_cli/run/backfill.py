"""Recording a backfill: the request a backfill's runs work through, resumable until done."""

from __future__ import annotations

import json

from duck_cli.graph.select import as_selection
from duck_cli.plan.builder import Plan
from duck_cli.records import Backfill, BackfillRecord
from duck_cli.run.session import Session, new_run_id


def record(s: Session, p: Plan, selection, opts, resumed: Backfill | None = None) -> str:
    """Record a new backfill (or reuse ``resumed``, the one --resume named) and return its id."""
    if resumed is not None:
        return resumed.backfill_id
    backfill_id = new_run_id(s, prefix="b")
    requested_keys = {}
    for step in p.steps:
        requested_keys.setdefault(step.asset, []).extend(step.keys)
    for held in p.blocked():
        requested_keys.setdefault(held.asset, []).extend(held.keys)
    options = {"downstream": opts.downstream, "batch_size": opts.batch_size,
               "missing": opts.missing, "failed": opts.failed}
    s.pending.backfills.append(BackfillRecord(
        backfill_id, s.clock(), as_selection(selection).text(), json.dumps(requested_keys),
        json.dumps(options), "requested"))
    return backfill_id  # recorded with the run's first flush

