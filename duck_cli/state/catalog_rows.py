"""Decoding the catalog's rows into duck's records (shared by the local catalog's reads)."""

from __future__ import annotations

import json

from duck_cli.records import Backfill, Mat


def mats(rows: list[tuple]) -> tuple[dict[tuple[str, str], Mat], dict[tuple[str, str], str]]:
    """Materializations by (asset, partition) from LATEST_MATS's groups, and the partitions
    a writer recorded as lost (found their data gone) with why. Each group's shared values
    (asset, run, code version, time) are one object for all its partitions, which halves their
    memory and lets the snapshot cache pickle them as short references."""
    from datetime import timezone

    new, utc = tuple.__new__, timezone.utc
    out, lost = {}, {}
    for asset, run, step, at, code, data, kind, seqs, keys, counts in rows:
        if kind == "lost":
            lost.update(dict.fromkeys(((asset, key) for key in keys), data or "its data is gone"))
            continue
        at = at.replace(tzinfo=utc) if at is not None else None
        for seq, key, count in zip(seqs, keys, counts):
            out[asset, key] = new(Mat, (seq, asset, key, run, step, at, code, data, count, kind))
    return out, lost


def aware(rows: list[tuple], index: int) -> list[tuple]:
    """Rows with the naive UTC timestamp at ``index`` made aware (cheaply: values repeat)."""
    from datetime import timezone

    seen: dict = {}
    out = []
    for row in rows:
        value = row[index]
        if value is not None:
            aware = seen.get(value)
            if aware is None:
                aware = seen[value] = value.replace(tzinfo=timezone.utc)
            row = row[:index] + (aware,) + row[index + 1:]
        out.append(row)
    return out


def decode_backfill(row: tuple) -> Backfill:
    """A backfill from its catalog row, with its runs' ids and statuses."""
    *head, requested, options, status, run_ids, run_statuses = row
    return Backfill(*head, json.loads(requested or "{}"), json.loads(options or "{}"), status,
                    [r for r in run_ids or [] if r], [s for s in run_statuses or [] if s])
