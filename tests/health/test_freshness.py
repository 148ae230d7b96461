"""Freshness against the clock: deadlines in a timezone (across DST), max_lag, never built."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from duck_cli.health.freshness import FreshnessResult, evaluate
from duck_cli.health.state import worst
from duck_cli.health.wording import describe
from duck_cli.models import FreshnessPolicy

AMS = ZoneInfo("Europe/Amsterdam")
UTC = timezone.utc
DAILY_7 = FreshnessPolicy(cron="0 7 * * *", deadline="07:00", timezone="Europe/Amsterdam")
WEEKDAYS_7 = FreshnessPolicy(cron="0 7 * * 1-5", timezone="Europe/Amsterdam")


def ams(text: str) -> datetime:
    """A local Amsterdam time."""
    return datetime.fromisoformat(text).replace(tzinfo=AMS)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def day_end(key: str) -> datetime:
    """The end of a daily Amsterdam partition: the next local midnight."""
    return datetime.combine(date.fromisoformat(key) + timedelta(days=1), time(0), tzinfo=AMS)


def daily_keys(now: datetime, start: str = "2026-03-01") -> list[str]:
    """The daily keys whose period has ended by ``now``."""
    keys, d = [], date.fromisoformat(start)
    while day_end(d.isoformat()) <= now:
        keys.append(d.isoformat())
        d += timedelta(days=1)
    return keys


def daily(policy: FreshnessPolicy, now: datetime, done: list[str], start: str = "2026-03-01"):
    """Evaluate a daily-partitioned asset with ``done`` materialized (an hour after each ended)."""
    keys = daily_keys(now, start)
    mats = {k: day_end(k) + timedelta(hours=1) for k in done if k in keys}
    return evaluate(policy, now, materialized_at=mats, keys=keys, period_end=day_end)


def single(policy: FreshnessPolicy, now: datetime, at: datetime | None):
    """Evaluate an unpartitioned asset last materialized ``at`` (None: never)."""
    mats = {"": at} if at is not None else {}
    return evaluate(policy, now, materialized_at=mats, keys=[""], period_end=None)


def days(first: str, last: str) -> list[str]:
    d, out = date.fromisoformat(first), []
    while d <= date.fromisoformat(last):
        out.append(d.isoformat())
        d += timedelta(days=1)
    return out


# -- the 07:00 Europe/Amsterdam deadline --------------------------------------------------------


def test_just_before_the_deadline_yesterdays_partition_is_not_required_yet():
    r = daily(DAILY_7, ams("2026-03-13T06:59:59"), days("2026-03-01", "2026-03-11"))
    assert r.state == "fresh"
    assert r.required_key == "2026-03-11"
    assert r.last_deadline == ams("2026-03-12T07:00")
    assert r.next_deadline == ams("2026-03-13T07:00")


def test_at_the_deadline_a_missing_partition_is_stale():
    r = daily(DAILY_7, ams("2026-03-13T07:00"), days("2026-03-01", "2026-03-11"))
    assert r.state == "stale"
    assert r.required_key == "2026-03-12"
    assert r.message == ("required partition 2026-03-12 missing at the 07:00 Europe/Amsterdam "
                         "deadline (2026-03-13 07:00 CET)")
    assert r.due == ams("2026-03-13T07:00")


def test_at_0730_yesterdays_partition_is_required_and_there():
    r = daily(DAILY_7, ams("2026-03-13T07:30"), days("2026-03-01", "2026-03-12"))
    assert (r.state, r.required_key) == ("fresh", "2026-03-12")
    assert r.lag == timedelta(hours=7, minutes=30)
    assert r.due == r.next_deadline == ams("2026-03-14T07:00")


def test_older_gaps_do_not_make_the_asset_stale():
    done = [k for k in days("2026-03-01", "2026-03-12") if k != "2026-03-05"]
    assert daily(DAILY_7, ams("2026-03-13T08:00"), done).state == "fresh"


def test_warn_window_before_the_deadline_while_the_partition_is_missing():
    policy = FreshnessPolicy(cron="0 7 * * *", timezone="Europe/Amsterdam", warn=timedelta(hours=2))
    missing = days("2026-03-01", "2026-03-11")
    assert daily(policy, ams("2026-03-13T04:59"), missing).state == "fresh"
    r = daily(policy, ams("2026-03-13T05:00"), missing)
    assert r.state == "warn" and "partition 2026-03-12" in r.message
    assert daily(policy, ams("2026-03-13T05:00"), missing + ["2026-03-12"]).state == "fresh"


def test_warn_never_overrides_stale():
    policy = FreshnessPolicy(cron="0 7 * * *", timezone="Europe/Amsterdam", warn=timedelta(hours=2))
    r = daily(policy, ams("2026-03-13T06:30"), days("2026-03-01", "2026-03-10"))
    assert r.state == "stale" and r.required_key == "2026-03-11"


def test_now_in_another_timezone_is_the_same_moment():
    r = daily(DAILY_7, utc("2026-03-13T06:00"), days("2026-03-01", "2026-03-11"))
    assert r.state == "stale" and r.last_deadline == utc("2026-03-13T06:00")
    assert r.last_deadline.tzinfo == AMS


# -- daylight saving time -----------------------------------------------------------------------


@pytest.mark.parametrize("now, last, nxt", [
    # last Sunday of March 2026: 07:00 local is 06:00 UTC before the change, 05:00 UTC after
    ("2026-03-29T04:59", "2026-03-28T06:00", "2026-03-29T05:00"),
    ("2026-03-29T05:00", "2026-03-29T05:00", "2026-03-30T05:00"),
    # last Sunday of October 2026: 05:00 UTC before the change, 06:00 UTC after
    ("2026-10-25T05:30", "2026-10-24T05:00", "2026-10-25T06:00"),
    ("2026-10-25T06:00", "2026-10-25T06:00", "2026-10-26T06:00"),
])
def test_deadline_follows_local_time_across_dst(now, last, nxt):
    r = daily(DAILY_7, utc(now), [])
    assert r.last_deadline == utc(last)
    assert r.next_deadline == utc(nxt)
    assert r.last_deadline.astimezone(AMS).hour == 7


def test_required_key_on_the_spring_dst_morning():
    done = days("2026-03-01", "2026-03-27")
    before = daily(DAILY_7, utc("2026-03-29T04:59"), done)
    assert (before.state, before.required_key) == ("fresh", "2026-03-27")
    after = daily(DAILY_7, utc("2026-03-29T05:00"), done)
    assert (after.state, after.required_key) == ("stale", "2026-03-28")
    assert after.message.endswith("(2026-03-29 07:00 CEST)")


def test_required_key_on_the_autumn_dst_morning():
    done = days("2026-10-01", "2026-10-24")
    assert daily(DAILY_7, utc("2026-10-25T05:59"), done, "2026-10-01").state == "fresh"
    r = daily(DAILY_7, utc("2026-10-25T06:00"), done, "2026-10-01")
    assert r.state == "fresh" and r.required_key == "2026-10-24"
    r = daily(DAILY_7, utc("2026-10-26T06:00"), done, "2026-10-01")
    assert r.state == "stale" and r.message.endswith("(2026-10-26 07:00 CET)")


# -- weekdays only ------------------------------------------------------------------------------


def test_weekday_deadline_on_monday_requires_the_newest_day_ended_sunday():
    done = days("2026-03-01", "2026-03-13")  # through Friday 13 March
    r = daily(WEEKDAYS_7, ams("2026-03-16T07:30"), done)  # Monday
    assert (r.state, r.required_key) == ("stale", "2026-03-15")
    assert "(cron '0 7 * * 1-5')" in r.message
    assert r.due == ams("2026-03-16T07:00")


def test_weekday_deadline_over_the_weekend_still_points_at_friday_morning():
    done = days("2026-03-01", "2026-03-12")  # Saturday and Sunday not built: not required yet
    r = daily(WEEKDAYS_7, ams("2026-03-15T12:00"), done)
    assert (r.state, r.required_key) == ("fresh", "2026-03-12")
    assert r.last_deadline == ams("2026-03-13T07:00")
    assert r.next_deadline == ams("2026-03-16T07:00")


def test_hourly_deadline_reports_when_the_partition_first_became_due():
    hourly = FreshnessPolicy(cron="0 * * * *", timezone="Europe/Amsterdam")
    r = daily(hourly, ams("2026-03-13T10:30"), days("2026-03-01", "2026-03-11"))
    assert (r.state, r.required_key) == ("stale", "2026-03-12")
    assert r.due == ams("2026-03-13T00:00")
    assert r.last_deadline == ams("2026-03-13T10:00")


# -- unpartitioned deadlines --------------------------------------------------------------------


def test_unpartitioned_deadline_needs_a_materialization_since_the_previous_deadline():
    built = ams("2026-03-12T06:00")
    assert single(DAILY_7, ams("2026-03-12T08:00"), built).state == "fresh"
    assert single(DAILY_7, ams("2026-03-13T06:59"), built).state == "fresh"
    r = single(DAILY_7, ams("2026-03-13T07:00"), built)
    assert r.state == "stale" and r.required_key == ""
    assert r.due == ams("2026-03-13T07:00")
    assert r.message == ("materialized 2026-03-12 06:00 CET, too old for the 07:00 "
                         "Europe/Amsterdam deadline (2026-03-13 07:00 CET)")


def test_unpartitioned_warn_until_rebuilt_after_the_last_deadline():
    policy = FreshnessPolicy(cron="0 7 * * *", timezone="Europe/Amsterdam", warn=timedelta(hours=2))
    assert single(policy, ams("2026-03-13T06:00"), ams("2026-03-12T06:00")).state == "warn"
    assert single(policy, ams("2026-03-13T06:00"), ams("2026-03-12T07:00")).state == "fresh"


# -- max_lag ------------------------------------------------------------------------------------


LAG = FreshnessPolicy(max_lag=timedelta(hours=26), warn=timedelta(hours=2))


@pytest.mark.parametrize("hours, state", [(23, "fresh"), (24, "fresh"), (25, "warn"), (26, "warn"),
                                          (27, "stale")])
def test_max_lag_unpartitioned(hours, state):
    now = utc("2026-03-13T12:00")
    r = single(LAG, now, now - timedelta(hours=hours))
    assert r.state == state
    assert r.lag == timedelta(hours=hours)
    assert r.due == now - timedelta(hours=hours) + timedelta(hours=26)


@pytest.mark.parametrize("now, state", [("2026-03-13T23:00", "fresh"), ("2026-03-14T01:30", "warn"),
                                        ("2026-03-14T02:01", "stale")])
def test_max_lag_partitioned_measures_the_data_time(now, state):
    # the newest materialized partition, 2026-03-12, ended at 2026-03-13 00:00 local
    r = daily(LAG, ams(now), days("2026-03-01", "2026-03-12"))
    assert r.state == state
    assert r.lag == ams(now) - ams("2026-03-13T00:00")
    assert r.due == ams("2026-03-14T02:00")


def test_max_lag_stale_points_at_the_oldest_partition_that_would_do():
    r = daily(LAG, ams("2026-03-14T08:00"), days("2026-03-01", "2026-03-11"))
    assert r.state == "stale"
    assert r.required_key == "2026-03-13"
    assert "newest partition 2026-03-11" in r.message


# -- never materialized -------------------------------------------------------------------------


def test_never_materialized_unpartitioned_with_a_deadline_is_stale():
    r = single(DAILY_7, ams("2026-03-13T08:00"), None)
    assert r.state == "stale"
    assert r.message == ("never materialized; required by the 07:00 Europe/Amsterdam deadline "
                         "(2026-03-13 07:00 CET)")


def test_never_materialized_unpartitioned_with_max_lag_is_unknown():
    r = single(LAG, ams("2026-03-13T08:00"), None)
    assert (r.state, r.message, r.lag) == ("unknown", "never materialized", None)


def test_never_materialized_partitioned_before_and_after_the_first_deadline():
    start = "2026-03-13"
    assert daily(DAILY_7, ams("2026-03-13T10:00"), [], start).state == "unknown"  # no key yet
    r = daily(DAILY_7, ams("2026-03-14T06:00"), [], start)  # 03-13 exists, not due until 07:00
    assert r.state == "unknown" and r.message.startswith("never materialized")
    r = daily(DAILY_7, ams("2026-03-14T07:00"), [], start)
    assert r.state == "stale"
    assert r.message.startswith("never materialized; required partition 2026-03-13 missing")


def test_never_materialized_partitioned_with_max_lag():
    start = "2026-03-13"
    assert daily(LAG, ams("2026-03-13T10:00"), [], start).state == "unknown"
    assert daily(LAG, ams("2026-03-14T10:00"), [], start).state == "unknown"
    assert daily(LAG, ams("2026-03-15T01:00"), [], start).state == "warn"
    r = daily(LAG, ams("2026-03-15T03:00"), [], start)
    assert r.state == "stale" and r.due == ams("2026-03-15T02:00")


def test_no_deadline_passed_since_the_first_partition_with_data_is_fresh():
    policy = FreshnessPolicy(cron="0 7 * * 1", timezone="Europe/Amsterdam")  # Mondays
    r = daily(policy, ams("2026-03-14T12:00"), ["2026-03-13"], "2026-03-13")  # a Saturday
    assert (r.state, r.required_key) == ("fresh", None)


# -- static partitions --------------------------------------------------------------------------


def test_static_partitions_report_the_value_left_behind():
    now = ams("2026-03-13T08:00")
    mats = {"eu": ams("2026-03-13T06:00"), "us": ams("2026-03-10T06:00")}
    r = evaluate(DAILY_7, now, materialized_at=mats, keys=["eu", "us"], period_end=None)
    assert (r.state, r.required_key) == ("stale", "us")
    assert r.message.startswith("partition us materialized 2026-03-10 06:00 CET")
    r = evaluate(LAG, now, materialized_at={"eu": now}, keys=["eu", "us"], period_end=None)
    assert (r.state, r.required_key) == ("unknown", "us")
    assert r.message == "partition us never materialized"


# -- aggregation, description, JSON -------------------------------------------------------------


def test_worst_orders_stale_warn_unknown_fresh():
    assert worst(["fresh", "unknown"]) == "unknown"
    assert worst(["unknown", "warn", "fresh"]) == "warn"
    assert worst(["warn", "stale"]) == "stale"
    assert worst([]) == "fresh"


def test_describe():
    assert describe(DAILY_7) == "current by 07:00 Europe/Amsterdam every day"
    assert describe(FreshnessPolicy(max_lag=timedelta(hours=26))) == "at most 26h old"
    assert describe(WEEKDAYS_7) == "cron '0 7 * * 1-5' (Europe/Amsterdam)"


def test_to_json_uses_iso_strings():
    r = daily(DAILY_7, ams("2026-03-13T07:30"), days("2026-03-01", "2026-03-12"))
    doc = r.to_json()
    assert doc == {"state": "fresh", "message": r.message, "required_key": "2026-03-12",
                   "last_deadline": "2026-03-13T07:00:00+01:00",
                   "next_deadline": "2026-03-14T07:00:00+01:00",
                   "lag_seconds": 27000.0, "due": "2026-03-14T07:00:00+01:00"}
    assert FreshnessResult("unknown", "x").to_json()["due"] is None


def test_a_policy_without_a_rule_is_an_error():
    with pytest.raises(ValueError):
        single(FreshnessPolicy(), ams("2026-03-13T08:00"), None)


# -- properties ---------------------------------------------------------------------------------


POLICIES = st.sampled_from([
    DAILY_7, WEEKDAYS_7,
    FreshnessPolicy(cron="0 7 * * *", timezone="Europe/Amsterdam", warn=timedelta(hours=3)),
    FreshnessPolicy(cron="30 */6 * * *", timezone="UTC"),
    LAG,
])
MOMENTS = st.integers(0, 50 * 24 * 60).map(lambda m: utc("2026-03-01T00:00") + timedelta(minutes=m))


def _next_moment(policy, r, now, step):
    """A later moment still before the next deadline (any later moment for max_lag)."""
    if r.next_deadline is None:
        return now + timedelta(minutes=step)
    return now + (r.next_deadline - now) * (step / 10_001)


@settings(max_examples=300, deadline=None)
@given(policy=POLICIES, now=MOMENTS, done=st.sets(st.integers(0, 60)), step=st.integers(0, 10_000))
def test_moving_now_forward_within_a_deadline_period_never_unstales_partitioned(policy, now, done,
                                                                                 step):
    existing = daily_keys(now)  # only partitions that exist can have been materialized
    keys = [k for k in ((date(2026, 3, 1) + timedelta(days=i)).isoformat() for i in sorted(done))
            if k in existing]
    first = daily(policy, now, keys)
    later = daily(policy, _next_moment(policy, first, now, step), keys)
    assert first.state != "stale" or later.state == "stale"


@settings(max_examples=300, deadline=None)
@given(policy=POLICIES, now=MOMENTS, age=st.none() | st.integers(0, 20 * 24 * 60),
       step=st.integers(0, 10_000))
def test_moving_now_forward_within_a_deadline_period_never_unstales_unpartitioned(policy, now, age,
                                                                                   step):
    built = None if age is None else now - timedelta(minutes=age)
    first = single(policy, now, built)
    later = single(policy, _next_moment(policy, first, now, step), built)
    assert first.state != "stale" or later.state == "stale"
    assert later.state in ("fresh", "warn", "stale", "unknown")
