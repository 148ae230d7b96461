"""Freshness: does an asset still meet its consumer contract at a given moment?

Pure: the caller passes the clock, the partitions that exist, when each current
materialization was made and, for time partitions, when each key's period ends.

Semantics:

* ``max_lag`` bounds the age of the data. Unpartitioned and static: age = now - the time it
  was materialized. Time partitions: age = now - the end of the newest materialized
  partition's period (the data's own time). Stale when age > max_lag; warn when
  age > max_lag - warn; due = that reference + max_lag.
* A deadline (``cron`` ticks in ``timezone``) requires, at each tick D, the period just ended.
  Time partitions: the newest existing key whose period ended by D must be materialized
  (older gaps belong to health, not to freshness). Unpartitioned and static: it must have
  been materialized at or after the tick before D. Warn: within ``warn`` before the next tick
  while the next tick's requirement is not met yet.
* Never materialized: 'stale' once something was required (a deadline passed that needed a
  partition, or, with max_lag on time partitions, the first period is older than max_lag);
  before that 'unknown'. An unpartitioned asset with a deadline has always had a deadline
  pass, so it is stale until its first materialization; with max_lag it is 'unknown'.
* Static partitions: each value is judged like an unpartitioned asset and the worst value
  is the result (its key is ``required_key``), so one value left behind is not hidden.
* ``due``: for max_lag the moment the lag passes max_lag; for a deadline the deadline the
  asset missed (stale), else the first deadline it will miss if nothing is rebuilt
  (unpartitioned, static) or the next deadline (time partitions, whose next key may not
  exist yet).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Mapping, Sequence
from zoneinfo import ZoneInfo

from duck_cli.health.wording import deadline_words, format_duration, moment_text
from duck_cli.health.state import RANK, Promise
from duck_cli.models import FreshnessPolicy

UTC = timezone.utc


@dataclass(frozen=True)
class FreshnessResult:
    """The outcome of a freshness policy at one moment (datetimes in the policy's timezone)."""

    state: Promise
    message: str
    required_key: str | None = None  # the partition the last deadline requires ("" unpartitioned)
    last_deadline: datetime | None = None
    next_deadline: datetime | None = None
    lag: timedelta | None = None  # age of the data (see the module docstring)
    due: datetime | None = None  # when it turned or will turn stale (see the module docstring)

    def to_json(self) -> dict:
        """The result as JSON-ready data: ISO 8601 datetimes, the lag in seconds."""
        return {"state": self.state, "message": self.message, "required_key": self.required_key,
                "last_deadline": _iso(self.last_deadline),
                "next_deadline": _iso(self.next_deadline),
                "lag_seconds": self.lag.total_seconds() if self.lag is not None else None,
                "due": _iso(self.due)}


def evaluate(policy: FreshnessPolicy, now: datetime, *, materialized_at: Mapping[str, datetime],
             keys: Sequence[str], period_end: Callable[[str], datetime] | None) -> FreshnessResult:
    """Evaluate ``policy`` at ``now`` (naive times count as UTC; both rules set: the worse)."""
    facts = _Facts(_utc(now), {k: _utc(t) for k, t in materialized_at.items()}, tuple(keys),
                   period_end)
    results = []
    if policy.cron:
        results.append(_by_deadline(policy, facts))
    if policy.max_lag is not None:
        results.append(_by_lag(policy, facts))
    if not results:
        raise ValueError("a freshness policy needs max_lag or cron")
    return _localize(_worst_result(results), ZoneInfo(policy.timezone))


# -- inputs and the schedule ------------------------------------------------------------------


@dataclass(frozen=True)
class _Facts:
    """What evaluate was told, with every time in UTC."""

    now: datetime
    mat: Mapping[str, datetime]
    keys: tuple[str, ...]
    period_end: Callable[[str], datetime] | None

    @property
    def timed(self) -> bool:
        """Whether the asset has time partitions."""
        return self.period_end is not None

    def end(self, key: str) -> datetime:
        """The end of a key's period, in UTC."""
        return _utc(self.period_end(key))

    def newest_ended_by(self, moment: datetime) -> str | None:
        """The newest existing key whose period ended by ``moment``."""
        return next((k for k in reversed(self.keys) if self.end(k) <= moment), None)

    def newest_done(self) -> str | None:
        """The newest materialized key."""
        return next((k for k in reversed(self.keys) if k in self.mat), None)

    def untimed_keys(self) -> tuple[str, ...]:
        """The keys of an unpartitioned or static asset."""
        return self.keys or ("",)

    def next_key_due_by(self, moment: datetime) -> bool:
        """Whether a key that does not exist yet will have ended by ``moment``.

        Estimated from the spacing of the last two keys; when the key after the newest should
        already exist, the definition has ended and no further key comes.
        """
        if len(self.keys) < 2:
            return False
        newest = self.end(self.keys[-1])
        following = newest + (newest - self.end(self.keys[-2]))
        return self.now < following <= moment


@dataclass(frozen=True)
class _Schedule:
    """Cron ticks in a timezone (DST-correct); every datetime in and out is UTC."""

    cron: str
    tz: ZoneInfo

    def after(self, t: datetime) -> datetime:
        """The first tick strictly after ``t``."""
        from croniter import croniter

        return _utc(croniter(self.cron, t.astimezone(self.tz)).get_next(datetime))

    def before(self, t: datetime) -> datetime:
        """The last tick strictly before ``t``."""
        from croniter import croniter

        return _utc(croniter(self.cron, t.astimezone(self.tz)).get_prev(datetime))

    def at_or_after(self, t: datetime) -> datetime:
        """The first tick at or after ``t``."""
        return self.after(self.before(t))

    def at_or_before(self, t: datetime) -> datetime:
        """The last tick at or before ``t``."""
        tick = self.at_or_after(t)
        return tick if tick == t else self.before(t)


@dataclass(frozen=True)
class _Deadlines:
    prev: datetime
    last: datetime
    next: datetime


# -- deadline policies ------------------------------------------------------------------------


def _by_deadline(policy: FreshnessPolicy, f: _Facts) -> FreshnessResult:
    sched = _Schedule(policy.cron, ZoneInfo(policy.timezone))
    last = sched.at_or_before(f.now)
    d = _Deadlines(sched.before(last), last, sched.after(f.now))
    if f.timed:
        return _deadline_timed(policy, sched, d, f)
    return _worst_result([_deadline_key(policy, sched, d, f, k) for k in f.untimed_keys()])


def _deadline_timed(policy: FreshnessPolicy, sched: _Schedule, d: _Deadlines,
                    f: _Facts) -> FreshnessResult:
    req, done = f.newest_ended_by(d.last), f.newest_done()
    lag = f.now - f.end(done) if done is not None else None
    common = dict(required_key=req, last_deadline=d.last, next_deadline=d.next, lag=lag)
    never = "never materialized; " if not f.mat else ""
    if req is not None and req not in f.mat:
        due = sched.at_or_after(f.end(req))
        message = f"{never}required partition {req} missing at {deadline_words(policy, due)}"
        return FreshnessResult(Promise.STALE, message, due=due, **common)
    upcoming = _next_unmet(f, d.next)
    if upcoming and _in_warn_window(policy, f.now, d):
        message = f"{never}{upcoming} required at {deadline_words(policy, d.next)} is not there yet"
        return FreshnessResult(Promise.WARN, message, due=d.next, **common)
    if req is None:
        message = f"{never}no partition was due by {deadline_words(policy, d.last)}"
        return FreshnessResult(Promise.FRESH if f.mat else Promise.UNKNOWN, message, due=d.next, **common)
    message = f"required partition {req} materialized for {deadline_words(policy, d.last)}"
    return FreshnessResult(Promise.FRESH, message, due=d.next, **common)


def _next_unmet(f: _Facts, nxt: datetime) -> str | None:
    """The partition the next deadline requires, in words, if it is not materialized yet."""
    if f.next_key_due_by(nxt):
        return f"the partition after {f.keys[-1]}"
    key = f.newest_ended_by(nxt)
    return f"partition {key}" if key is not None and key not in f.mat else None


def _deadline_key(policy: FreshnessPolicy, sched: _Schedule, d: _Deadlines, f: _Facts,
                  key: str) -> FreshnessResult:
    t, tz, who = f.mat.get(key), ZoneInfo(policy.timezone), _subject(key)
    common = dict(required_key=key, last_deadline=d.last, next_deadline=d.next)
    if t is None:
        message = f"{who}never materialized; required by {deadline_words(policy, d.last)}"
        return FreshnessResult(Promise.STALE, message, due=d.last, **common)
    lag, when = f.now - t, moment_text(t, tz)
    if t < d.prev:
        due = sched.after(sched.after(t))
        message = f"{who}materialized {when}, too old for {deadline_words(policy, due)}"
        return FreshnessResult(Promise.STALE, message, lag=lag, due=due, **common)
    if _in_warn_window(policy, f.now, d) and t < d.last:
        message = (f"{who}materialized {when}, not since the last deadline; "
                   f"{deadline_words(policy, d.next)} needs a newer one")
        return FreshnessResult(Promise.WARN, message, lag=lag, due=d.next, **common)
    message = f"{who}materialized {when}, current for {deadline_words(policy, d.last)}"
    return FreshnessResult(Promise.FRESH, message, lag=lag, due=sched.after(sched.after(t)), **common)


def _in_warn_window(policy: FreshnessPolicy, now: datetime, d: _Deadlines) -> bool:
    return policy.warn is not None and now >= d.next - policy.warn


# -- max_lag policies -------------------------------------------------------------------------


def _by_lag(policy: FreshnessPolicy, f: _Facts) -> FreshnessResult:
    if f.timed:
        return _lag_timed(policy, f)
    return _worst_result([_lag_key(policy, f, k) for k in f.untimed_keys()])


def _lag_state(policy: FreshnessPolicy, lag: timedelta) -> Promise:
    if lag > policy.max_lag:
        return Promise.STALE
    if policy.warn is not None and lag > policy.max_lag - policy.warn:
        return Promise.WARN
    return Promise.FRESH


def _lag_timed(policy: FreshnessPolicy, f: _Facts) -> FreshnessResult:
    done, tz = f.newest_done(), ZoneInfo(policy.timezone)
    need = _recent_enough(f, f.now - policy.max_lag)
    if done is None:
        return _lag_never(policy, f, need)
    lag = f.now - f.end(done)
    due, state = f.end(done) + policy.max_lag, _lag_state(policy, lag)
    message = f"newest partition {done} ended {format_duration(lag)} ago"
    return FreshnessResult(state, message + _lag_tail(policy, state, due, tz), required_key=need,
                           lag=lag, due=due)


def _lag_never(policy: FreshnessPolicy, f: _Facts, need: str | None) -> FreshnessResult:
    if not f.keys:
        return FreshnessResult(Promise.UNKNOWN, "never materialized; no partition exists yet")
    due = f.end(f.keys[0]) + policy.max_lag
    state = _lag_state(policy, f.now - f.end(f.keys[0]))
    verb = "required since" if state == Promise.STALE else "due by"
    return FreshnessResult(Promise.UNKNOWN if state == Promise.FRESH else state,
                           f"never materialized; {verb} {moment_text(due, ZoneInfo(policy.timezone))}",
                           required_key=need, due=due)


def _recent_enough(f: _Facts, cutoff: datetime) -> str | None:
    """The oldest existing key whose period ends at or after ``cutoff``: what max_lag needs."""
    found = None
    for k in reversed(f.keys):
        if f.end(k) < cutoff:
            break
        found = k
    return found


def _lag_key(policy: FreshnessPolicy, f: _Facts, key: str) -> FreshnessResult:
    t, who = f.mat.get(key), _subject(key)
    if t is None:
        return FreshnessResult(Promise.UNKNOWN, f"{who}never materialized", required_key=key)
    lag, due = f.now - t, t + policy.max_lag
    state = _lag_state(policy, lag)
    message = f"{who}materialized {format_duration(lag)} ago"
    tail = _lag_tail(policy, state, due, ZoneInfo(policy.timezone))
    return FreshnessResult(state, message + tail, required_key=key, lag=lag, due=due)


def _lag_tail(policy: FreshnessPolicy, state: str, due: datetime, tz: ZoneInfo) -> str:
    limit = format_duration(policy.max_lag)
    if state == Promise.STALE:
        return f", more than {limit} (stale since {moment_text(due, tz)})"
    if state == Promise.WARN:
        return f", stale after {limit} at {moment_text(due, tz)}"
    return f", within {limit}"


# -- helpers ----------------------------------------------------------------------------------


def _worst_result(results: Sequence[FreshnessResult]) -> FreshnessResult:
    """The worst result; among equals the stalest (never materialized counts as stalest)."""
    return max(results, key=lambda r: (RANK[r.state], r.lag is None, r.lag or timedelta(0)))


def _localize(r: FreshnessResult, tz: ZoneInfo) -> FreshnessResult:
    """The result with its datetimes in the policy's timezone."""
    def loc(t: datetime | None) -> datetime | None:
        return t.astimezone(tz) if t is not None else None

    return FreshnessResult(r.state, r.message, r.required_key, loc(r.last_deadline),
                           loc(r.next_deadline), r.lag, loc(r.due))


def _subject(key: str) -> str:
    return f"partition {key} " if key else ""


def _utc(t: datetime) -> datetime:
    """``t`` in UTC; a naive datetime counts as UTC."""
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None
