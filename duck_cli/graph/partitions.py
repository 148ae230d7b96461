"""Partition keys: which exist at a moment, validation, ranges, batches, compact display, SQL parameters.

Pure functions, no I/O. A time key is handled as an integer period index (``periods``), so bulk
work is plain integer arithmetic.

DST: hourly keys are local wall-clock hours. An hour whose start does not exist (clocks spring
forward: ``2026-03-29T02`` in Europe/Amsterdam) is no key, so that day has 23 keys and ``T01`` is
followed by ``T03``. On a fall-back day the repeated hour is one key covering both occurrences
(two real hours), so that day has 24 keys. ``bounds`` returns UTC datetimes so that comparing and
subtracting them is exact across DST. Weeks are ISO weeks (Monday to Sunday) named by ISO year, so
``2026-W53`` runs from 2026-12-28 to 2027-01-03 and ``2027-W01`` follows it.

Mapping one asset's keys onto an upstream's lives in ``graph.mapping``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable
from zoneinfo import ZoneInfo

from duck_cli.errors import PartitionKeyError, UsageError, did_you_mean
from duck_cli.models import UNPARTITIONED, PartitionsDef, StaticPartitions, TimePartitions
from duck_cli.graph.periods import (UTC, between, breaks, index_at, index_key, is_gap, key_index,
                                    key_indices, parse_index, period_start, step, steps_between)

_UNIT = {"hourly": "hour", "daily": "date", "weekly": "ISO week", "monthly": "month"}


# -- which keys exist ---------------------------------------------------------------------------

def _first(defn: TimePartitions) -> int:
    """Index of the first key: the period containing start."""
    return _containing(defn, defn.start)


def _containing(defn: TimePartitions, local: datetime) -> int:
    """The index of the key containing a naive local time; a skipped hour belongs to the key before.

    (With a half-hour DST shift, the existing half of a skipped hour really is in the key before.)
    """
    return step(defn, index_at(defn.granularity, local), 0)


def _last(defn: TimePartitions, now: datetime) -> int:
    """Index of the last key that exists at ``now``: ended by then and not past ``end``."""
    if now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime")
    local = now.astimezone(ZoneInfo(defn.timezone)).replace(tzinfo=None)
    last = step(defn, _containing(defn, local), -1)
    return last if defn.end is None else min(last, _containing(defn, defn.end))


def partition_keys(defn: PartitionsDef | None, now: datetime) -> list[str]:
    """All keys that exist at ``now``, in order.

    >>> partition_keys(TimePartitions("daily", datetime(2026, 3, 1)), datetime(2026, 3, 3, 1, tzinfo=UTC))
    ['2026-03-01', '2026-03-02']
    """
    if defn is None:
        return [UNPARTITIONED]
    if isinstance(defn, StaticPartitions):
        return list(defn.values)
    return between(defn, _first(defn), _last(defn, now))


def first_keys(defn: PartitionsDef | None, now: datetime, n: int) -> list[str]:
    """The first (at most) ``n`` keys that exist at ``now``, without listing the others.

    >>> first_keys(TimePartitions("daily", datetime(2026, 3, 1)), datetime(2026, 3, 3, 1, tzinfo=UTC), 5)
    ['2026-03-01', '2026-03-02']
    """
    if defn is None or isinstance(defn, StaticPartitions):
        return partition_keys(defn, now)[:n]
    first = _first(defn)
    return between(defn, first, min(first + n - 1, _last(defn, now)))


def key_count(defn: PartitionsDef | None, now: datetime) -> int:
    """How many keys exist at ``now``, without listing them (hourly gaps not subtracted).

    >>> key_count(TimePartitions("daily", datetime(2026, 3, 1)), datetime(2026, 3, 3, 1, tzinfo=UTC))
    2
    """
    if defn is None:
        return 1
    if isinstance(defn, StaticPartitions):
        return len(defn.values)
    return max(0, _last(defn, now) - _first(defn) + 1)


def check_counts(assets: Iterable, now: datetime, limit: int) -> None:
    """Refuse (UsageError) an asset whose partitions would number more than ``limit`` at
    ``now``: listing them would take minutes and gigabytes."""
    for asset in assets:
        count = key_count(asset.partitions, now)
        if count > limit:
            raise UsageError(
                f"asset '{asset.name}' would have {count:,} {asset.partitions.kind} partitions "
                f"at {now.isoformat()}, more than the limit of {limit:,}", asset=asset.name,
                hint="Give its partitions an 'end', check DUCK_NOW, or raise the limit with "
                     "max_partitions in duck.yaml.")


def bounds(defn: TimePartitions, key: str) -> tuple[datetime, datetime]:
    """The period of a key as UTC datetimes [start, end).

    >>> [str(b) for b in bounds(TimePartitions("daily", datetime(2026, 1, 1), timezone="Europe/Amsterdam"),
    ...                         "2026-03-29")]
    ['2026-03-28 23:00:00+00:00', '2026-03-29 22:00:00+00:00']
    """
    g, tz = defn.granularity, ZoneInfo(defn.timezone)
    i = key_index(g, key)
    ends = period_start(g, i), period_start(g, step(defn, i, 1))
    return ends[0].replace(tzinfo=tz).astimezone(UTC), ends[1].replace(tzinfo=tz).astimezone(UTC)


def shift(defn: TimePartitions, key: str, n: int) -> str:
    """The key ``n`` periods later (earlier if negative); no bounds check.

    >>> shift(TimePartitions("weekly", datetime(2026, 1, 1)), "2026-W53", 1)
    '2027-W01'
    """
    return index_key(defn.granularity, step(defn, key_index(defn.granularity, key), n))


# -- validation -------------------------------------------------------------------------------

def validate_key(defn: PartitionsDef | None, key: str, asset: str, now: datetime) -> str:
    """The canonical form of a user-supplied key, or PartitionKeyError saying what is wrong."""
    if not isinstance(key, str):
        raise PartitionKeyError(f"partition key {key!r} of asset '{asset}' is not text", asset=asset)
    key = key.strip()
    if defn is None:
        if key == UNPARTITIONED:
            return key
        raise PartitionKeyError(
            f"asset '{asset}' is not partitioned, so partition key {_show(key)} does not apply",
            hint="Leave out the partition for this asset.", asset=asset, partition=key)
    if isinstance(defn, StaticPartitions):
        return _validate_static(defn, key, asset)
    return index_key(defn.granularity, _validate_time(defn, key, asset, now))


def _show(key: str) -> str:
    """A key quoted for a message, cut short if very long."""
    return repr(key if len(key) <= 60 else key[:57] + "...")


def _validate_static(defn: StaticPartitions, key: str, asset: str) -> str:
    """The value itself, or the one value equal to it ignoring case."""
    if key in defn.values:
        return key
    folded = [v for v in defn.values if v.casefold() == key.casefold()]
    if len(folded) == 1:
        return folded[0]
    more = len(defn.values) - 10
    shown = ", ".join(defn.values[:10]) + (f" and {more} more" if more > 0 else "")
    hint = " ".join(filter(None, [f"Its partitions are {shown}.", did_you_mean(key, defn.values)]))
    raise PartitionKeyError(f"{_show(key)} is not a partition of asset '{asset}'",
                            hint=hint, asset=asset, partition=key)


def _validate_time(defn: TimePartitions, key: str, asset: str, now: datetime) -> int:
    """The index of a valid, existing key, or PartitionKeyError."""
    g = defn.granularity
    try:
        i = parse_index(g, key)
    except ValueError:
        raise _key_error(defn, key, asset, now, f"is not a real {_UNIT[g]}") from None
    if i is None:
        raise _key_error(defn, key, asset, now, f"is not a {g} partition key")
    if i < _first(defn):
        raise _key_error(defn, key, asset, now, "is before its first partition")
    if defn.end is not None and i > _containing(defn, defn.end):
        raise _key_error(defn, key, asset, now, "is after its last partition")
    if is_gap(defn, i):
        raise _key_error(defn, key, asset, now,
                         f"does not exist in {defn.timezone} (the clocks skip that hour)")
    if i > _last(defn, now):
        raise _key_error(defn, key, asset, now, f"has not ended yet (it ends {_ends(defn, i)})")
    return i


def _ends(defn: TimePartitions, i: int) -> str:
    """When period ``i`` ends, in its timezone, for messages."""
    try:
        return f"{period_start(defn.granularity, step(defn, i, 1)):%Y-%m-%d %H:%M} {defn.timezone}"
    except (ValueError, OverflowError):  # the period ends after the year 9999
        return "after 9999"


def _key_error(defn: TimePartitions, key: str, asset: str, now: datetime, what: str) -> PartitionKeyError:
    """An error naming the asset and key, with the expected format and range as the hint."""
    return PartitionKeyError(f"partition key {_show(key)} of asset '{asset}' {what}",
                             hint=expected(defn, now), asset=asset, partition=key)


def expected(defn: TimePartitions, now: datetime) -> str:
    """What keys of a definition look like and which exist at ``now``, for error hints.

    >>> expected(TimePartitions("daily", datetime(2026, 3, 1)), datetime(2026, 3, 15, tzinfo=UTC))
    'Daily keys look like 2026-03-01, from 2026-03-01 to 2026-03-14.'
    """
    g, first, last = defn.granularity, _first(defn), _last(defn, now)
    head = f"{g.capitalize()} keys look like {index_key(g, first)}"
    if last >= first:
        return f"{head}, from {index_key(g, first)} to {index_key(g, last)}."
    return f"{head}; none has ended yet (the first ends {_ends(defn, first)})."


def key_range(defn: PartitionsDef | None, first: str, last: str, asset: str, now: datetime) -> list[str]:
    """The keys from first to last inclusive (both validated)."""
    a, b = validate_key(defn, first, asset, now), validate_key(defn, last, asset, now)
    if defn is None:
        return [UNPARTITIONED]
    if isinstance(defn, StaticPartitions):
        lo, hi = defn.values.index(a), defn.values.index(b)
    else:
        lo, hi = key_index(defn.granularity, a), key_index(defn.granularity, b)
    if lo > hi:
        raise PartitionKeyError(f"partition range from {a} to {b} of asset '{asset}' runs backwards",
                                hint=f"Put the earlier key first ({b} before {a}).", asset=asset, partition=a)
    return list(defn.values[lo:hi + 1]) if isinstance(defn, StaticPartitions) else between(defn, lo, hi)


# -- steps: batches and SQL parameters ----------------------------------------------------------

def batches(defn: PartitionsDef | None, keys: list[str], size: int) -> list[list[str]]:
    """Split keys (in the given order) into runs of consecutive periods of at most ``size``.

    >>> batches(TimePartitions("daily", datetime(2026, 3, 1)),
    ...         ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-05"], 2)
    [['2026-03-01', '2026-03-02'], ['2026-03-03'], ['2026-03-05']]
    """
    if size < 1:
        raise ValueError("batch size must be at least 1")
    if not isinstance(defn, TimePartitions) or size == 1:
        return [[k] for k in keys]
    cuts = [0, *breaks(defn, key_indices(defn, keys)), len(keys)]
    return [keys[p:min(p + size, b)] for a, b in zip(cuts, cuts[1:]) for p in range(a, b, size)]


def sql_params(defn: PartitionsDef | None, keys: list[str]) -> dict:
    """The parameters an asset's SQL sees for a step over ``keys`` (one key or a batch of adjacent ones).

    >>> sql_params(TimePartitions("monthly", datetime(2026, 1, 1)), ["2026-12"])["partition_end"]
    datetime.date(2027, 1, 1)
    """
    if defn is None:
        return {}
    if not keys:
        raise ValueError("a step needs at least one partition key")
    params = {"partition_key": keys[0], "partition_start": None, "partition_end": None,
              "partition_keys": list(keys)}
    if isinstance(defn, TimePartitions):
        g, idx = defn.granularity, key_indices(defn, keys)
        start, end = period_start(g, min(idx)), period_start(g, step(defn, max(idx), 1))
        if g != "hourly":  # whole days as dates; hours as naive local datetimes
            start, end = start.date(), end.date()
        params["partition_start"], params["partition_end"] = start, end
    return params


# -- compact display ---------------------------------------------------------------------------

def compact_list(defn: PartitionsDef | None, keys: Iterable[str]) -> list[str]:
    """Keys as display pieces: runs of three or more consecutive periods become ``first..last``.

    >>> compact_list(TimePartitions("daily", datetime(2026, 3, 1)),
    ...              ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-05", "2026-03-06"])
    ['2026-03-01..2026-03-03', '2026-03-05', '2026-03-06']
    """
    if defn is None:
        return []
    if isinstance(defn, StaticPartitions):
        return list(keys)
    keys = list(keys)
    idx = key_indices(defn, keys)
    diffs = steps_between(idx)
    if diffs and min(diffs) <= 0:  # not sorted and unique: sort, dropping repeats
        pairs = sorted(dict(zip(idx, keys)).items())
        idx, keys = [i for i, _ in pairs], [k for _, k in pairs]
        diffs = steps_between(idx)
    cuts = [0, *breaks(defn, idx, diffs), len(keys)]
    pieces: list[str] = []
    for a, b in zip(cuts, cuts[1:]):
        pieces += [f"{keys[a]}..{keys[b - 1]}"] if b - a >= 3 else keys[a:b]
    return pieces


def compact(defn: PartitionsDef | None, keys: Iterable[str]) -> str:
    """Keys for display in one line.

    >>> compact(StaticPartitions(("APAC", "EMEA")), ["APAC", "EMEA"])
    'APAC, EMEA'
    """
    return ", ".join(compact_list(defn, keys))


def expand(defn: PartitionsDef | None, piece: str) -> list[str]:
    """The keys one piece of ``compact_list`` stands for.

    >>> expand(TimePartitions("hourly", datetime(2026, 1, 1), timezone="Europe/Amsterdam"),
    ...        "2026-03-29T01..2026-03-29T04")
    ['2026-03-29T01', '2026-03-29T03', '2026-03-29T04']
    """
    if isinstance(defn, TimePartitions) and ".." in piece:
        first, last = piece.split("..")
        return between(defn, key_index(defn.granularity, first), key_index(defn.granularity, last))
    return [piece]
