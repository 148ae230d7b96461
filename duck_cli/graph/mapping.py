"""How an asset's partitions map onto an upstream's: which upstream keys each key reads, and back.

Pure functions over key lists. Time windows are compared as integer spans: in local wall-clock
hours when both definitions share a timezone (no zoneinfo in the loop), else in UTC seconds.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from datetime import date, datetime  # noqa: F401 (datetime: used by the doctests)
from typing import Sequence
from zoneinfo import ZoneInfo

from duck_cli.errors import UsageError
from duck_cli.models import UNPARTITIONED, Dep, PartitionsDef, StaticPartitions, TimePartitions
from duck_cli.graph.periods import index_keys, key_indices, period_start, steps

MAPPINGS = ("auto", "identity", "all", "offset")


def check_mapping(down: PartitionsDef | None, up: PartitionsDef | None, dep: Dep) -> str | None:
    """None if the dependency can map, else a one-sentence reason with a fix.

    >>> print(check_mapping(StaticPartitions(("EU",)), TimePartitions("daily", datetime(2026, 3, 1)),
    ...                     Dep("raw")))
    upstream 'raw' has daily partitions and this asset static ones, so their keys cannot map auto; use mapping: all
    """
    problem = _kind_problem(down, up, dep)
    if problem or not (isinstance(down, StaticPartitions) and isinstance(up, StaticPartitions)):
        return problem
    missing = [v for v in down.values if v not in up.values]
    if missing:
        return (f"static values {', '.join(missing)} are not partitions of upstream '{dep.asset}'; "
                f"add them there or use mapping: all")
    return None


def _kind_problem(down: PartitionsDef | None, up: PartitionsDef | None, dep: Dep) -> str | None:
    """A reason the two kinds of partitions cannot map this way at all, or None."""
    m = dep.mapping
    if m not in MAPPINGS:
        return f"unknown mapping '{m}' on upstream '{dep.asset}'; use one of {', '.join(MAPPINGS)}"
    if m == "all":
        return None
    if m == "offset" and not isinstance(down, TimePartitions):
        return (f"mapping: offset on upstream '{dep.asset}' needs a time-partitioned asset; "
                f"use mapping: identity or all")
    if down is None or up is None:
        return None
    if isinstance(down, StaticPartitions) != isinstance(up, StaticPartitions):
        return (f"upstream '{dep.asset}' has {up.kind} partitions and this asset {down.kind} ones, "
                f"so their keys cannot map {m}; use mapping: all")
    if m == "identity" and down.kind != up.kind:
        return (f"mapping: identity cannot map {down.kind} keys onto {up.kind} upstream '{dep.asset}'; "
                f"use mapping: auto (overlapping periods) or all")
    return None


def upstream_map(down: PartitionsDef | None, up: PartitionsDef | None, dep: Dep,
                 down_keys: Sequence[str], up_keys: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """For each downstream key, the upstream keys (of ``up_keys``) it reads.

    >>> day = TimePartitions("daily", datetime(2026, 3, 1))
    >>> keys = ["2026-03-01", "2026-03-02"]
    >>> upstream_map(day, day, Dep("raw", "offset", -1), keys, keys)
    {'2026-03-01': (), '2026-03-02': ('2026-03-01',)}
    """
    if up is None:
        return dict.fromkeys(down_keys, (UNPARTITIONED,))
    if down is None or dep.mapping == "all":
        return dict.fromkeys(down_keys, tuple(up_keys))
    problem = _kind_problem(down, up, dep)
    if problem:
        raise UsageError(problem, asset=dep.asset)
    if isinstance(down, StaticPartitions):
        return _same_keys(down_keys, down_keys, up_keys)
    assert isinstance(up, TimePartitions)
    return _time_map(down, up, dep, down_keys, up_keys)


def _same_keys(down_keys: Sequence[str], reads: Sequence[str],
               up_keys: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Each downstream key reads its counterpart in ``reads`` if the upstream has it."""
    present = set(up_keys)
    return {k: ((r,) if r in present else ()) for k, r in zip(down_keys, reads)}


def _time_map(down: TimePartitions, up: TimePartitions, dep: Dep,
              down_keys: Sequence[str], up_keys: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Time to time: shift by the offset, then the same key or the overlapping periods."""
    offset = dep.offset if dep.mapping == "offset" else 0
    same = down.granularity == up.granularity and (down.timezone == up.timezone or dep.mapping == "identity")
    if same and not offset:
        return _same_keys(down_keys, down_keys, up_keys)
    idx = steps(down, key_indices(down, down_keys), offset)
    if same:
        return _same_keys(down_keys, index_keys(down, idx), up_keys)
    return dict(zip(down_keys, _overlaps(down, up, idx, up_keys)))


def _overlaps(down: TimePartitions, up: TimePartitions, idx: list[int],
              up_keys: Sequence[str]) -> list[tuple[str, ...]]:
    """For each downstream period index, the upstream keys whose periods overlap it (bisect)."""
    spans = wall_spans if down.timezone == up.timezone else utc_spans
    order = sorted(zip(key_indices(up, up_keys), up_keys))
    ups = [k for _, k in order]
    starts, ends = spans(up, [i for i, _ in order])
    shared: dict[tuple[int, int], tuple[str, ...]] = {}
    out = []
    for s, e in zip(*spans(down, idx)):
        where = bisect_right(ends, s), bisect_left(starts, e)
        if where not in shared:
            shared[where] = tuple(ups[where[0]:where[1]])
        out.append(shared[where])
    return out


def wall_spans(defn: TimePartitions, idx: Sequence[int]) -> tuple[list[int], list[int]]:
    """Periods as starts and ends in local wall-clock hours (hour index = ordinal * 24 + hour).

    >>> starts, ends = wall_spans(TimePartitions("monthly", datetime(2026, 1, 1)), [24314])
    >>> (ends[0] - starts[0]) // 24, starts[0] == date(2026, 3, 1).toordinal() * 24
    (31, True)
    """
    g = defn.granularity
    if g == "hourly":  # no other granularity has a boundary inside a skipped hour
        return list(idx), [i + 1 for i in idx]
    if g == "daily":
        return [i * 24 for i in idx], [i * 24 + 24 for i in idx]
    if g == "weekly":
        return [(i * 7 + 1) * 24 for i in idx], [(i * 7 + 8) * 24 for i in idx]
    month = lambda i: date(i // 12, i % 12 + 1, 1).toordinal() * 24  # noqa: E731
    return [month(i) for i in idx], [month(i + 1) for i in idx]


def utc_spans(defn: TimePartitions, idx: Sequence[int]) -> tuple[list[float], list[float]]:
    """Periods as starts and ends in POSIX seconds (an end reuses the next start when they touch)."""
    tz, g = ZoneInfo(defn.timezone), defn.granularity
    seconds = lambda i: period_start(g, i).replace(tzinfo=tz).timestamp()  # noqa: E731
    starts, nexts = [seconds(i) for i in idx], steps(defn, idx, 1)
    ends = [starts[p + 1] if p + 1 < len(idx) and nexts[p] == idx[p + 1] else seconds(nexts[p])
            for p in range(len(idx))]
    return starts, ends


def downstream_map(down: PartitionsDef | None, up: PartitionsDef | None, dep: Dep,
                   down_keys: Sequence[str], up_keys: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """For each upstream key, the downstream keys that read it (the inverse of upstream_map).

    >>> downstream_map(None, StaticPartitions(("EU", "US")), Dep("raw"), [""], ["EU", "US"])
    {'EU': ('',), 'US': ('',)}
    """
    if up is not None and (down is None or dep.mapping == "all"):
        return dict.fromkeys(up_keys, tuple(down_keys))
    readers: dict[str, list[str]] = {u: [] for u in up_keys}
    for d, ups in upstream_map(down, up, dep, down_keys, up_keys).items():
        for u in ups:
            readers.setdefault(u, []).append(d)
    return {u: tuple(ds) for u, ds in readers.items()}
