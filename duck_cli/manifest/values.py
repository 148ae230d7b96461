"""Pure parsers for the values manifests write as text: durations, deadlines, partition dates, time zones.

Each raises ValueError with a message that can go straight into a Problem.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime, timedelta

from duck_cli.errors import did_you_mean

_DURATION_PART = re.compile(r"\s*(\d+)\s*([smhdw])\s*")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
PLACEHOLDERS = {"key": None, "date": "daily", "hour": "hourly", "week": "weekly", "month": "monthly",
                "value": "static"}
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def parse_duration(text: str) -> timedelta:
    """A duration such as ``90s``, ``15m``, ``26h``, ``2d``, ``1w`` or ``1h30m``.

    >>> parse_duration("1h30m")
    datetime.timedelta(seconds=5400)
    >>> parse_duration("2d") == timedelta(days=2)
    True
    >>> parse_duration("soon")
    Traceback (most recent call last):
    ValueError: 'soon' is not a duration
    """
    text = str(text)
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(m.group(0) for m in _DURATION_PART.finditer(text)) != text:
        raise ValueError(f"'{text}' is not a duration")
    total = timedelta()
    for amount, unit in parts:
        total += timedelta(**{_UNITS[unit]: int(amount)})
    if total <= timedelta():
        raise ValueError(f"'{text}' is not a positive duration")
    return total


def deadline_cron(text: str) -> str:
    """The cron expression of a deadline: ``HH:MM`` daily, or a 5-field cron expression as is.

    >>> deadline_cron("07:00"), deadline_cron("7:30"), deadline_cron("0 7 * * 1-5")
    ('0 7 * * *', '30 7 * * *', '0 7 * * 1-5')
    >>> deadline_cron("25:00")
    Traceback (most recent call last):
    ValueError: '25:00' is not a valid deadline
    """
    text = str(text).strip()
    match = _HHMM.match(text)
    if match:
        return f"{int(match.group(2))} {int(match.group(1))} * * *"
    if len(text.split()) == 5 and ":" not in text and _valid_cron(text):
        return " ".join(text.split())
    raise ValueError(f"'{text}' is not a valid deadline")


def _valid_cron(text: str) -> bool:
    from croniter import croniter

    try:
        return bool(croniter.is_valid(text))
    except Exception:  # croniter raises assorted types for odd input; invalid is the answer
        return False


def parse_partition_time(text: str, granularity: str) -> datetime:
    """A partition bound: ``YYYY-MM-DD``, or for hourly also ``YYYY-MM-DDTHH:MM``; naive.

    >>> parse_partition_time("2026-03-01", "daily")
    datetime.datetime(2026, 3, 1, 0, 0)
    >>> parse_partition_time("2026-03-01T05:00", "hourly")
    datetime.datetime(2026, 3, 1, 5, 0)
    >>> parse_partition_time("2026-02-30", "daily")
    Traceback (most recent call last):
    ValueError: '2026-02-30' is not a valid date: day is out of range for month
    """
    text = str(text).strip()
    if len(text) > 10 and granularity != "hourly":
        raise ValueError(f"'{text}' has a time, but {granularity} partitions start on a date")
    if len(text) > 10 and text[14:] != "00":
        raise ValueError(f"'{text}' is not on the hour")
    try:
        return datetime.fromisoformat(text.replace(" ", "T")) if len(text) > 10 else \
            datetime.fromisoformat(text[:10] + "T00:00")
    except ValueError as err:
        raise ValueError(f"'{text}' is not a valid date: {err}") from None


def check_timezone(name: str) -> str:
    """The name, if it is a known IANA time zone.

    >>> check_timezone("Europe/Amsterdam")
    'Europe/Amsterdam'
    >>> check_timezone("Europe/Amsterdm")
    Traceback (most recent call last):
    ValueError: unknown time zone 'Europe/Amsterdm'
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone '{name}'") from None
    return str(name)


@functools.lru_cache(maxsize=1)
def _zone_names() -> tuple[str, ...]:
    from zoneinfo import available_timezones

    return tuple(sorted(available_timezones()))


def timezone_hint(name: str) -> str:
    """A did-you-mean for a time zone name, or how to write one."""

    return did_you_mean(str(name), _zone_names()) or "Use an IANA name such as UTC or Europe/Amsterdam."


def placeholders(path: str) -> list[str]:
    """The ``{...}`` placeholders in a source path.

    >>> placeholders("data/{date}/trips-{key}.csv")
    ['date', 'key']
    """
    return _PLACEHOLDER.findall(path)


def placeholder_problem(path: str, kind: str | None) -> str | None:
    """Why the path's placeholders do not fit partitions of ``kind`` (None: unpartitioned), if they do not.

    >>> placeholder_problem("d/{date}.csv", "daily") is None
    True
    >>> placeholder_problem("d/{date}.csv", None)
    "the path holds '{date}' but the source is not partitioned"
    >>> placeholder_problem("d/{day}.csv", "daily")
    "unknown placeholder '{day}' in the path"
    """
    for name in placeholders(path):
        if kind is None:
            return f"the path holds '{{{name}}}' but the source is not partitioned"
        if name not in PLACEHOLDERS:
            return f"unknown placeholder '{{{name}}}' in the path"
        if PLACEHOLDERS[name] not in (None, kind):
            return f"'{{{name}}}' is for {PLACEHOLDERS[name]} partitions, but these are {kind}"
    return None
