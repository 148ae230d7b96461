"""Partition keys: which exist at a moment, validation, ranges, batches, compact display, SQL parameters.

Pure functions, no I/O. A time key is handled as an integer period index, so bulk work is plain
integer arithmetic: hourly = date ordinal * 24 + hour (local wall clock), daily = date ordinal,
weekly = (ordinal of the ISO week's Monday - 1) // 7, monthly = year * 12 + month - 1.

DST: hourly keys are local wall-clock hours. An hour whose start does not exist (clocks spring
forward: ``2026-03-29T02`` in Europe/Amsterdam) is no key, so that day has 23 keys and ``T01`` is
followed by ``T03``. On a fall-back day the repeated hour is one key covering both occurrences
(two real hours), so that day has 24 keys. ``bounds`` returns UTC datetimes so that comparing and
subtracting them is exact across DST. Weeks are ISO weeks (Monday to Sunday) named by ISO year, so
``2026-W53`` runs from 2026-12-28 to 2027-01-03 and ``2027-W01`` follows it.

Mapping one asset's keys onto an upstream's lives in ``partition_mapping`` (re-exported here).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from calendar import isleap
from datetime import date, datetime, timezone
from functools import lru_cache
from typing import Iterable, Sequence
from zoneinfo import ZoneInfo

from duck_cli.errors import PartitionKeyError, did_you_mean
from duck_cli.models import UNPARTITIONED, PartitionsDef, StaticPartitions, TimePartitions

UTC = timezone.utc
_HOURS = tuple(f"T{h:02d}" for h in range(24))
_UNIT = {"hourly": "hour", "daily": "date", "weekly": "ISO week", "monthly": "month"}
_PATTERN = {  # [0-9], not \d: \d also matches non-ASCII digits
    "hourly": re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2})(?::00(?::00)?)?"),
    "daily": re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})"),
    "weekly": re.compile(r"([0-9]{4})-[Ww]([0-9]{2})"),
    "monthly": re.compile(r"([0-9]{4})-([0-9]{2})"),
}
_MAPPING_API = ("check_mapping", "upstream_map", "downstream_map")


def __getattr__(name: str):
    """Re-export the mapping functions lazily (partition_mapping imports this module)."""
    if name in _MAPPING_API:
        from duck_cli import partition_mapping
        return getattr(partition_mapping, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -- period arithmetic on indices ------------------------------------------------------------

def index_at(granularity: str, local: datetime) -> int:
    """The index of the period containing a naive local time.

    >>> index_at("weekly", datetime(2026, 3, 4)) == index_at("weekly", datetime(2026, 3, 8, 23))
    True
    """
    o = local.toordinal()
    if granularity == "hourly":
        return o * 24 + local.hour
    if granularity == "daily":
        return o
    if granularity == "weekly":
        return (o - 1) // 7  # ordinal 1 (0001-01-01) is a Monday
    return local.year * 12 + local.month - 1


def period_start(granularity: str, i: int) -> datetime:
    """The naive local start of period ``i``.

    >>> period_start("weekly", index_at("weekly", datetime(2026, 1, 1)))
    datetime.datetime(2025, 12, 29, 0, 0)
    """
    if granularity == "hourly":
        return datetime.fromordinal(i // 24).replace(hour=i % 24)
    if granularity == "daily":
        return datetime.fromordinal(i)
    if granularity == "weekly":
        return datetime.fromordinal(i * 7 + 1)
    return datetime(i // 12, i % 12 + 1, 1)


def index_key(granularity: str, i: int) -> str:
    """The key of period ``i``.

    >>> [index_key(g, index_at(g, datetime(2027, 1, 2, 5))) for g in ("hourly", "daily", "weekly", "monthly")]
    ['2027-01-02T05', '2027-01-02', '2026-W53', '2027-01']
    """
    if granularity == "hourly":
        return date.fromordinal(i // 24).isoformat() + _HOURS[i % 24]
    if granularity == "daily":
        return date.fromordinal(i).isoformat()
    if granularity == "weekly":
        year, week, _ = date.fromordinal(i * 7 + 1).isocalendar()
        return f"{year:04d}-W{week:02d}"
    return f"{i // 12:04d}-{i % 12 + 1:02d}"


def _parse(granularity: str, key: str) -> int | None:
    """The index of a key written in any accepted form; None if the form is wrong.

    Raises ValueError for a well-formed key naming no real period (2026-02-30, T24, W54, month 13).
    """
    m = _PATTERN[granularity].fullmatch(key)
    if m is None:
        return None
    n = [int(part) for part in m.groups()]
    if granularity == "hourly":
        if n[3] > 23:
            raise ValueError("hour out of range")
        return date(n[0], n[1], n[2]).toordinal() * 24 + n[3]
    if granularity == "daily":
        return date(n[0], n[1], n[2]).toordinal()
    if granularity == "weekly":
        return (date.fromisocalendar(n[0], n[1], 1).toordinal() - 1) // 7
    if not (n[0] >= 1 and 1 <= n[1] <= 12):
        raise ValueError("month out of range")
    return n[0] * 12 + n[1] - 1


def key_indices(defn: TimePartitions, keys: Iterable[str]) -> list[int]:
    """Period indices of canonical keys (as partition_keys returns them), fast in bulk.

    >>> key_indices(TimePartitions("monthly", datetime(2026, 1, 1)), ["2026-03", "2027-01"])
    [24314, 24324]
    """
    g = defn.granularity
    if g == "daily":
        return [date.fromisoformat(k).toordinal() for k in keys]
    if g == "hourly":
        return _hour_indices(keys)
    out = [_parse(g, k) for k in keys]
    if None in out:
        raise ValueError(f"not a canonical {g} key: {keys!r}")
    return out  # type: ignore[return-value]


def _hour_indices(keys: Iterable[str]) -> list[int]:
    """Wall-hour indices of canonical hourly keys; parses each day once."""
    days: dict[str, int] = {}
    out = []
    for k in keys:
        base = days.get(k[:10])
        if base is None:
            base = days[k[:10]] = date.fromisoformat(k[:10]).toordinal() * 24
        out.append(base + int(k[11:]))
    return out


def index_keys(defn: TimePartitions, idx: Iterable[int]) -> list[str]:
    """Keys of many period indices (formats each day once for hourly keys)."""
    if defn.granularity != "hourly":
        return [index_key(defn.granularity, i) for i in idx]
    days: dict[int, str] = {}
    out = []
    for i in idx:
        day = days.get(i // 24)
        if day is None:
            day = days[i // 24] = date.fromordinal(i // 24).isoformat()
        out.append(day + _HOURS[i % 24])
    return out


# -- DST: wall-clock hours that do not exist --------------------------------------------------

@lru_cache(maxsize=512)
def _year_gaps(tzname: str, year: int) -> tuple[int, ...]:
    """Wall-hour indices of a year whose start does not exist in the zone (clocks spring forward)."""
    if tzname in ("UTC", "Etc/UTC"):
        return ()
    tz = ZoneInfo(tzname)
    first = date(year, 1, 1).toordinal()
    # fold=1 on the next midnight catches a gap that spans midnight
    changing = [o for o in range(first, min(first + 365 + isleap(year), date.max.toordinal()))
                if _offset(tz, o, 0) != _offset(tz, o + 1, 1)]
    return tuple(o * 24 + h for o in changing for h in range(24)
                 if not _exists(tz, datetime.fromordinal(o).replace(hour=h)))


def _offset(tz: ZoneInfo, ordinal: int, fold: int):
    """The UTC offset at local midnight of a day."""
    return datetime.fromordinal(ordinal).replace(tzinfo=tz, fold=fold).utcoffset()


def _exists(tz: ZoneInfo, naive: datetime) -> bool:
    """Whether a local wall time happens at all in the zone."""
    return naive.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None) == naive


@lru_cache(maxsize=512)
def _gaps_years(tzname: str, first: int, last: int) -> tuple[int, ...]:
    """Skipped wall hours of the years first..last, sorted."""
    return tuple(w for year in range(first, last + 1) for w in _year_gaps(tzname, year))


def _gaps(tzname: str, lo: int, hi: int) -> tuple[int, ...]:
    """Skipped wall hours around lo..hi (with a year's margin each side), sorted."""
    year = lambda w: date.fromordinal(min(max(w // 24, 1), date.max.toordinal())).year  # noqa: E731
    return _gaps_years(tzname, max(year(lo) - 1, 1), min(year(hi) + 1, 9998))


def _only_gaps(tzname: str, a: int, b: int) -> bool:
    """Whether every wall hour strictly between a and b is skipped."""
    gaps = _gaps(tzname, a, b)
    return bisect_left(gaps, b) - bisect_right(gaps, a) == b - a - 1


def step(defn: TimePartitions, i: int, n: int) -> int:
    """The index ``n`` periods after ``i``; hourly steps skip non-existent hours.

    >>> step(TimePartitions("hourly", datetime(2026, 1, 1), timezone="Europe/Amsterdam"),
    ...      index_at("hourly", datetime(2026, 3, 29, 1)), 1) % 24
    3
    """
    return steps(defn, [i], n)[0]


def steps(defn: TimePartitions, idx: Sequence[int], n: int) -> list[int]:
    """``step`` for many indices at once."""
    if defn.granularity != "hourly" or not idx:
        return [i + n for i in idx]
    gaps = _gaps(defn.timezone, min(idx) + min(n, 0), max(idx) + max(n, 0))
    if not gaps:
        return [i + n for i in idx]
    return [_step_over(gaps, i, n) for i in idx]


def _step_over(gaps: tuple[int, ...], i: int, n: int) -> int:
    """The wall hour ``n`` existing hours after ``i``, given the skipped hours around them."""
    dense = i - bisect_right(gaps, i) + n  # position among existing hours
    w = dense
    while (nxt := dense + bisect_right(gaps, w)) != w:  # least fixed point: an existing hour
        w = nxt
    return w


def _is_gap(defn: TimePartitions, i: int) -> bool:
    """Whether hourly index ``i`` is a skipped hour (never for other granularities)."""
    return defn.granularity == "hourly" and i in _year_gaps(defn.timezone, date.fromordinal(i // 24).year)


def _follows(defn: TimePartitions, a: int, b: int) -> bool:
    """Whether period ``b`` comes right after period ``a``."""
    return b == a + 1 or (b > a + 1 and defn.granularity == "hourly" and _only_gaps(defn.timezone, a, b))


def _breaks(defn: TimePartitions, idx: Sequence[int]) -> list[int]:
    """Positions p where idx[p] does not come right after idx[p - 1]."""
    found = [p for p, (a, b) in enumerate(zip(idx, idx[1:]), 1) if b != a + 1]
    if defn.granularity == "hourly":
        found = [p for p in found if not _follows(defn, idx[p - 1], idx[p])]
    return found


def _between(defn: TimePartitions, lo: int, hi: int) -> list[str]:
    """The keys of periods lo..hi inclusive."""
    g = defn.granularity
    if g == "daily":
        return [date.fromordinal(o).isoformat() for o in range(lo, hi + 1)]
    if g != "hourly":
        return [index_key(g, i) for i in range(lo, hi + 1)]
    gaps = set(_gaps(defn.timezone, lo, hi)) if hi >= lo else set()
    out: list[str] = []
    for o in range(lo // 24, hi // 24 + 1):
        day, base = date.fromordinal(o).isoformat(), o * 24
        out += [day + _HOURS[h] for h in range(max(lo - base, 0), min(hi - base, 23) + 1)
                if base + h not in gaps]
    return out


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
    return _between(defn, _first(defn), _last(defn, now))


def bounds(defn: TimePartitions, key: str) -> tuple[datetime, datetime]:
    """The period of a key as UTC datetimes [start, end).

    >>> [str(b) for b in bounds(TimePartitions("daily", datetime(2026, 1, 1), timezone="Europe/Amsterdam"),
    ...                         "2026-03-29")]
    ['2026-03-28 23:00:00+00:00', '2026-03-29 22:00:00+00:00']
    """
    g, tz = defn.granularity, ZoneInfo(defn.timezone)
    i = _index(g, key)
    ends = period_start(g, i), period_start(g, step(defn, i, 1))
    return ends[0].replace(tzinfo=tz).astimezone(UTC), ends[1].replace(tzinfo=tz).astimezone(UTC)


def _index(granularity: str, key: str) -> int:
    """The index of a well-formed key; ValueError otherwise."""
    i = _parse(granularity, key)
    if i is None:
        raise ValueError(f"not a {granularity} key: {key!r}")
    return i


def shift(defn: TimePartitions, key: str, n: int) -> str:
    """The key ``n`` periods later (earlier if negative); no bounds check.

    >>> shift(TimePartitions("weekly", datetime(2026, 1, 1)), "2026-W53", 1)
    '2027-W01'
    """
    return index_key(defn.granularity, step(defn, _index(defn.granularity, key), n))


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
        i = _parse(g, key)
    except ValueError:
        raise _key_error(defn, key, asset, now, f"is not a real {_UNIT[g]}") from None
    if i is None:
        raise _key_error(defn, key, asset, now, f"is not a {g} partition key")
    if i < _first(defn):
        raise _key_error(defn, key, asset, now, "is before its first partition")
    if defn.end is not None and i > _containing(defn, defn.end):
        raise _key_error(defn, key, asset, now, "is after its last partition")
    if _is_gap(defn, i):
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
        lo, hi = _index(defn.granularity, a), _index(defn.granularity, b)
    if lo > hi:
        raise PartitionKeyError(f"partition range from {a} to {b} of asset '{asset}' runs backwards",
                                hint=f"Put the earlier key first ({b} before {a}).", asset=asset, partition=a)
    return list(defn.values[lo:hi + 1]) if isinstance(defn, StaticPartitions) else _between(defn, lo, hi)


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
    cuts = [0, *_breaks(defn, key_indices(defn, keys)), len(keys)]
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
    if any(b <= a for a, b in zip(idx, idx[1:])):  # not sorted and unique: sort, dropping repeats
        pairs = sorted(dict(zip(idx, keys)).items())
        idx, keys = [i for i, _ in pairs], [k for _, k in pairs]
    cuts = [0, *_breaks(defn, idx), len(keys)]
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
        return _between(defn, _index(defn.granularity, first), _index(defn.granularity, last))
    return [piece]
