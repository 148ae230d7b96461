"""How freshness reads for people: a policy in a few words, durations, deadlines, moments."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from duck_cli.models import FreshnessPolicy

UTC = timezone.utc
_DAILY = re.compile(r"(\d{1,2}) (\d{1,2}) \* \* \*")


def describe(policy: FreshnessPolicy) -> str:
    """The policy in a few words.

    >>> describe(FreshnessPolicy(cron="0 7 * * *", timezone="Europe/Amsterdam"))
    'current by 07:00 Europe/Amsterdam every day'
    >>> describe(FreshnessPolicy(max_lag=timedelta(hours=26)))
    'at most 26h old'
    >>> describe(FreshnessPolicy(cron="0 7 * * 1-5", timezone="Europe/Amsterdam"))
    "cron '0 7 * * 1-5' (Europe/Amsterdam)"
    """
    if policy.max_lag is not None:
        return f"at most {format_duration(policy.max_lag)} old"
    daily = daily_time(policy.cron or "")
    if daily:
        return f"current by {daily} {policy.timezone} every day"
    return f"cron '{policy.cron}' ({policy.timezone})"


def format_duration(td: timedelta) -> str:
    """A duration in compact units (whole days from 2 days on; seconds dropped past an hour).

    >>> format_duration(timedelta(hours=26)), format_duration(timedelta(minutes=90))
    ('26h', '1h30m')
    >>> format_duration(timedelta(days=7)), format_duration(timedelta(seconds=-45))
    ('7d', '-45s')
    """
    secs = int(td.total_seconds())
    sign, secs = ("-" if secs < 0 else ""), abs(secs)
    if secs >= 2 * 86400 and secs % 86400 == 0:
        return f"{sign}{secs // 86400}d"
    hours, rest = divmod(secs, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "",
             f"{seconds}s" if seconds and not hours else ""]
    return sign + ("".join(parts) or "0s")


def deadline_words(policy: FreshnessPolicy, when: datetime) -> str:
    """A deadline in words: "the 07:00 Europe/Amsterdam deadline (2026-03-13 07:00 CET)"."""
    tz, daily = ZoneInfo(policy.timezone), daily_time(policy.cron or "")
    if daily:
        return f"the {daily} {policy.timezone} deadline ({moment_text(when, tz)})"
    return f"the deadline {moment_text(when, tz)} (cron '{policy.cron}')"


def daily_time(cron: str) -> str | None:
    """``HH:MM`` for a once-a-day cron expression, else None.

    >>> daily_time("0 7 * * *"), daily_time("0 7 * * 1-5")
    ('07:00', None)
    """
    m = _DAILY.fullmatch(cron.strip())
    if not m or int(m.group(1)) > 59 or int(m.group(2)) > 23:
        return None
    return f"{int(m.group(2)):02d}:{int(m.group(1)):02d}"


def moment_text(t: datetime, tz: ZoneInfo) -> str:
    """A moment for people, in ``tz``.

    >>> moment_text(datetime(2026, 3, 13, 6, tzinfo=UTC), ZoneInfo("Europe/Amsterdam"))
    '2026-03-13 07:00 CET'
    """
    return t.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
