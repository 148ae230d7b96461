"""Periods as integer indices: keys to indices and back, steps across daylight-saving gaps.

hourly = date ordinal * 24 + hour (local wall clock), daily = date ordinal, weekly = (ordinal of
the ISO week's Monday - 1) // 7, monthly = year * 12 + month - 1, so bulk work on keys is plain
integer arithmetic. An hourly index whose wall-clock hour does not exist in the timezone (clocks
spring forward) is a gap: `step`, `steps`, `between` and `breaks` skip it. Pure functions.
"""

from __future__ import annotations

import operator
import re
from bisect import bisect_left, bisect_right
from calendar import isleap
from datetime import date, datetime, timezone
from functools import lru_cache
from itertools import islice
from typing import Iterable, Sequence
from zoneinfo import ZoneInfo

from duck_cli.models import TimePartitions

UTC = timezone.utc
_HOURS = tuple(f"T{h:02d}" for h in range(24))
_PATTERN = {  # [0-9], not \d: \d also matches non-ASCII digits
    "hourly": re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2})(?::00(?::00)?)?"),
    "daily": re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})"),
    "weekly": re.compile(r"([0-9]{4})-[Ww]([0-9]{2})"),
    "monthly": re.compile(r"([0-9]{4})-([0-9]{2})"),
}


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


def parse_index(granularity: str, key: str) -> int | None:
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
    out = [parse_index(g, k) for k in keys]
    if None in out:
        raise ValueError(f"not a canonical {g} key: {keys!r}")
    return out  # type: ignore[return-value]


_HOUR_OF = {f"{h:02d}": h for h in range(24)}


def _hour_indices(keys: Iterable[str]) -> list[int]:
    """Wall-hour indices of canonical hourly keys; parses each day once."""
    days: dict[str, int] = {}
    hours, out = _HOUR_OF, []
    add = out.append
    try:
        for k in keys:
            base = days.get(k[:10])
            if base is None:
                base = days[k[:10]] = date.fromisoformat(k[:10]).toordinal() * 24
            add(base + hours[k[11:]])
    except KeyError as err:
        raise ValueError(f"not a canonical hourly key: {err}") from None
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


def is_gap(defn: TimePartitions, i: int) -> bool:
    """Whether hourly index ``i`` is a skipped hour (never for other granularities)."""
    return defn.granularity == "hourly" and i in _year_gaps(defn.timezone, date.fromordinal(i // 24).year)


def follows(defn: TimePartitions, a: int, b: int) -> bool:
    """Whether period ``b`` comes right after period ``a``."""
    return b == a + 1 or (b > a + 1 and defn.granularity == "hourly" and _only_gaps(defn.timezone, a, b))


def steps_between(idx: Sequence[int]) -> list[int]:
    """idx[p] - idx[p - 1] for each p >= 1 (computed in C: 100,000 keys in a few ms)."""
    return list(map(operator.sub, islice(idx, 1, None), idx))


def breaks(defn: TimePartitions, idx: Sequence[int], diffs: list[int] | None = None
           ) -> list[int]:
    """Positions p where idx[p] does not come right after idx[p - 1] (``diffs``: the
    `steps_between` of ``idx``, when the caller has them)."""
    diffs = steps_between(idx) if diffs is None else diffs
    if diffs.count(1) == len(diffs):  # one run: the common case, without a Python loop
        return []
    found = [p for p, d in enumerate(diffs, 1) if d != 1]
    if defn.granularity == "hourly":
        found = [p for p in found if not follows(defn, idx[p - 1], idx[p])]
    return found


def between(defn: TimePartitions, lo: int, hi: int) -> list[str]:
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


def key_index(granularity: str, key: str) -> int:
    """The index of a well-formed key; ValueError otherwise."""
    i = parse_index(granularity, key)
    if i is None:
        raise ValueError(f"not a {granularity} key: {key!r}")
    return i
