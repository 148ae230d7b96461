"""Partition keys: existence at a moment, validation, ranges, batches, compact display, SQL parameters."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from duck_cli.errors import PartitionKeyError, UsageError
from duck_cli.models import StaticPartitions, TimePartitions
from duck_cli.graph.partitions import (batches, bounds, compact, compact_list, expand, key_range, partition_keys,
                                 shift, sql_params, validate_key)

UTC = timezone.utc
AMS = "Europe/Amsterdam"
REGIONS = StaticPartitions(("APAC", "EMEA", "US"))


def at(*args: int) -> datetime:
    """An aware UTC moment."""
    return datetime(*args, tzinfo=UTC)


def daily(start=datetime(2026, 3, 1), end=None, tz="UTC") -> TimePartitions:
    return TimePartitions("daily", start, end, tz)


def hourly(start=datetime(2026, 3, 1), end=None, tz="UTC") -> TimePartitions:
    return TimePartitions("hourly", start, end, tz)


# -- which keys exist ---------------------------------------------------------------------------

def test_daily_keys_up_to_the_last_ended_day():
    assert partition_keys(daily(), at(2026, 3, 4)) == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert partition_keys(daily(), at(2026, 3, 3, 23, 59)) == ["2026-03-01", "2026-03-02"]


def test_no_keys_before_the_first_period_ends():
    assert partition_keys(daily(), at(2026, 3, 1, 12)) == []
    assert partition_keys(daily(), at(2026, 2, 1)) == []


def test_start_in_the_middle_of_a_period_gives_that_period():
    assert partition_keys(daily(datetime(2026, 3, 1, 15)), at(2026, 3, 2))[0] == "2026-03-01"
    assert partition_keys(hourly(datetime(2026, 3, 1, 5, 30)), at(2026, 3, 1, 8)) == [
        "2026-03-01T05", "2026-03-01T06", "2026-03-01T07"]


def test_end_is_the_last_key_inclusive():
    defn = daily(end=datetime(2026, 3, 10, 12))
    assert partition_keys(defn, at(2027, 1, 1))[-1] == "2026-03-10"
    assert partition_keys(defn, at(2026, 3, 6))[-1] == "2026-03-05"


def test_monthly_keys_across_years():
    defn = TimePartitions("monthly", datetime(2025, 11, 15))
    assert partition_keys(defn, at(2026, 2, 1)) == ["2025-11", "2025-12", "2026-01"]


def test_weekly_iso_weeks_across_a_year_boundary():
    defn = TimePartitions("weekly", datetime(2026, 12, 20))
    assert partition_keys(defn, at(2027, 1, 11)) == ["2026-W51", "2026-W52", "2026-W53", "2027-W01"]
    first_2025 = TimePartitions("weekly", datetime(2024, 12, 31))  # a Tuesday in ISO week 2025-W01
    assert partition_keys(first_2025, at(2025, 1, 6)) == ["2025-W01"]
    assert bounds(first_2025, "2025-W01") == (at(2024, 12, 30), at(2025, 1, 6))


def test_daily_amsterdam_ends_at_local_midnight():
    defn = daily(tz=AMS)
    assert partition_keys(defn, at(2026, 3, 1, 22, 30)) == []  # 23:30 in Amsterdam: not over
    assert partition_keys(defn, at(2026, 3, 1, 23, 0)) == ["2026-03-01"]  # local midnight
    assert partition_keys(defn, at(2026, 3, 1, 23, 30)) == ["2026-03-01"]


def test_daily_new_york_still_running_at_utc_midnight():
    defn = daily(tz="America/New_York")
    assert partition_keys(defn, at(2026, 3, 1, 23, 30)) == []
    assert partition_keys(defn, at(2026, 3, 2, 4, 59)) == []
    assert partition_keys(defn, at(2026, 3, 2, 5, 0)) == ["2026-03-01"]


def test_monthly_amsterdam_ends_at_local_midnight():
    defn = TimePartitions("monthly", datetime(2026, 1, 1), timezone=AMS)
    assert partition_keys(defn, at(2026, 1, 31, 22, 59)) == []
    assert partition_keys(defn, at(2026, 1, 31, 23, 0)) == ["2026-01"]


def test_hourly_spring_forward_day_has_23_keys():
    keys = partition_keys(hourly(datetime(2026, 3, 29), tz=AMS), at(2026, 3, 30))
    day = [k for k in keys if k.startswith("2026-03-29")]
    assert len(day) == 23 and "2026-03-29T02" not in day
    assert bounds(hourly(tz=AMS), "2026-03-29T01")[1] == bounds(hourly(tz=AMS), "2026-03-29T03")[0]


def test_hourly_fall_back_day_has_24_keys_and_a_two_hour_key():
    defn = hourly(datetime(2026, 10, 25), tz=AMS)
    day = [k for k in partition_keys(defn, at(2026, 10, 26)) if k.startswith("2026-10-25")]
    assert len(day) == 24 and day.count("2026-10-25T02") == 1
    start, end = bounds(defn, "2026-10-25T02")
    assert (start, end) == (at(2026, 10, 25, 0), at(2026, 10, 25, 2))


def test_repeated_hour_ends_after_its_second_occurrence():
    defn = hourly(datetime(2026, 10, 25), tz=AMS)
    assert partition_keys(defn, at(2026, 10, 25, 0, 30))[-1] == "2026-10-25T01"  # 02:30 CEST
    assert partition_keys(defn, at(2026, 10, 25, 1, 30))[-1] == "2026-10-25T01"  # 02:30 CET
    assert partition_keys(defn, at(2026, 10, 25, 2, 0))[-1] == "2026-10-25T02"  # 03:00 CET


def test_new_york_dst_days():
    defn = hourly(datetime(2026, 3, 8), tz="America/New_York")
    keys = partition_keys(defn, at(2026, 11, 3))
    assert sum(k.startswith("2026-03-08") for k in keys) == 23
    assert sum(k.startswith("2026-11-01") for k in keys) == 24
    assert bounds(defn, "2026-11-01T01")[1] - bounds(defn, "2026-11-01T01")[0] == timedelta(hours=2)


def test_midnight_gap_havana():
    defn = daily(datetime(2026, 3, 1), tz="America/Havana")  # clocks jump 00:00 -> 01:00 on 2026-03-08
    start, end = bounds(defn, "2026-03-08")
    assert end - start == timedelta(hours=23)
    hours = partition_keys(hourly(datetime(2026, 3, 7), tz="America/Havana"), at(2026, 3, 9))
    assert "2026-03-07T23" in hours and "2026-03-08T00" not in hours


def test_static_and_unpartitioned_keys():
    assert partition_keys(REGIONS, at(2026, 1, 1)) == ["APAC", "EMEA", "US"]
    assert partition_keys(None, at(2026, 1, 1)) == [""]


def test_bounds_are_utc_and_touch():
    assert bounds(daily(tz=AMS), "2026-03-29") == (at(2026, 3, 28, 23), at(2026, 3, 29, 22))
    monthly = TimePartitions("monthly", datetime(2026, 1, 1))
    assert bounds(monthly, "2026-12") == (at(2026, 12, 1), at(2027, 1, 1))


# -- validation ------------------------------------------------------------------------------

NOW = at(2026, 3, 15)


def refused(defn, key, now=NOW) -> PartitionKeyError:
    with pytest.raises(PartitionKeyError) as caught:
        validate_key(defn, key, "zone_metrics", now)
    err = caught.value
    assert "zone_metrics" in err.message and repr(key.strip()) in err.message  # repr shows a newline escaped
    assert isinstance(err, UsageError) and err.asset == "zone_metrics"
    return err


@pytest.mark.parametrize("key", ["2026-02-30", "2026-13-01", "2026-03-32"])
def test_impossible_dates_are_refused(key):
    err = refused(daily(datetime(2026, 1, 1)), key)
    assert "not a real date" in err.message
    assert err.hint == "Daily keys look like 2026-01-01, from 2026-01-01 to 2026-03-14."


@pytest.mark.parametrize("key", ["APAC'; drop table x; --", "2026-03-01'; drop table x; --", "2026/03/01",
                                 "2026-3-1", "20260301", "2026-03-01T05", "2026-W10", "２０２６-03-01",
                                 "2026-03-01\n; select 1", ""])
def test_wrong_formats_are_refused_with_the_expected_format(key):
    err = refused(daily(), key)
    assert "is not a daily partition key" in err.message
    assert err.hint == "Daily keys look like 2026-03-01, from 2026-03-01 to 2026-03-14."


def test_out_of_range_and_future_keys_are_refused():
    defn = daily(end=datetime(2026, 3, 31))
    assert "before its first partition" in refused(defn, "2026-02-28").message
    assert "after its last partition" in refused(defn, "2026-04-01").message
    err = refused(defn, "2026-03-20")
    assert "has not ended yet" in err.message and "2026-03-21 00:00 UTC" in err.message
    assert "has not ended yet" in refused(defn, "2026-03-15").message
    assert validate_key(defn, "2026-03-14", "zone_metrics", NOW) == "2026-03-14"


def test_hint_before_any_key_exists():
    err = refused(daily(tz=AMS), "2026-03-01", now=at(2026, 3, 1, 12))
    assert err.hint == ("Daily keys look like 2026-03-01; none has ended yet "
                        "(the first ends 2026-03-02 00:00 Europe/Amsterdam).")


def test_skipped_hour_and_bad_hour_are_refused():
    assert "clocks skip" in refused(hourly(tz=AMS), "2026-03-29T02", now=at(2026, 4, 1)).message
    assert "not a real hour" in refused(hourly(), "2026-03-02T24").message
    weekly = TimePartitions("weekly", datetime(2025, 1, 1))
    assert "not a real ISO week" in refused(weekly, "2025-W53").message
    assert "not a real month" in refused(TimePartitions("monthly", datetime(2025, 1, 1)), "2025-13").message


def test_static_refusals_suggest_a_value():
    err = refused(REGIONS, "APAC'; drop table x; --")
    assert "Its partitions are APAC, EMEA, US." in err.hint
    assert "Did you mean 'EMEA'?" in refused(REGIONS, "EMAE").hint


def test_unpartitioned_takes_no_key():
    err = refused(None, "2026-03-01")
    assert "not partitioned" in err.message
    assert validate_key(None, "", "zone_metrics", NOW) == ""


def test_canonical_forms():
    assert validate_key(daily(), " 2026-03-01 ", "a", NOW) == "2026-03-01"
    assert validate_key(hourly(), "2026-03-01 05:00", "a", NOW) == "2026-03-01T05"
    assert validate_key(TimePartitions("weekly", datetime(2026, 1, 1)), "2026-w10", "a", NOW) == "2026-W10"
    assert validate_key(REGIONS, "apac", "a", NOW) == "APAC"
    assert validate_key(hourly(tz=AMS), "2026-10-25T02", "a", NOW.replace(month=11)) == "2026-10-25T02"


def test_key_range():
    assert key_range(daily(), "2026-03-09", "2026-03-11", "a", NOW) == [
        "2026-03-09", "2026-03-10", "2026-03-11"]
    assert key_range(REGIONS, "EMEA", "US", "a", NOW) == ["EMEA", "US"]
    assert key_range(None, "", "", "a", NOW) == [""]
    with pytest.raises(PartitionKeyError, match="runs backwards"):
        key_range(daily(), "2026-03-11", "2026-03-09", "a", NOW)
    with pytest.raises(PartitionKeyError, match="has not ended yet"):
        key_range(daily(), "2026-03-11", "2026-03-29", "a", NOW)


# -- SQL parameters, batches, compact ------------------------------------------------------------

def test_sql_params():
    p = sql_params(daily(), ["2026-03-01", "2026-03-02"])
    assert p == {"partition_key": "2026-03-01", "partition_start": date(2026, 3, 1),
                 "partition_end": date(2026, 3, 3), "partition_keys": ["2026-03-01", "2026-03-02"]}
    weekly = sql_params(TimePartitions("weekly", datetime(2026, 1, 1)), ["2026-W53"])
    assert (weekly["partition_start"], weekly["partition_end"]) == (date(2026, 12, 28), date(2027, 1, 4))
    hour = sql_params(hourly(tz=AMS), ["2026-03-29T01"])
    assert hour["partition_start"] == datetime(2026, 3, 29, 1)
    assert hour["partition_end"] == datetime(2026, 3, 29, 3)  # 02:00 does not exist
    assert sql_params(REGIONS, ["EMEA"]) == {"partition_key": "EMEA", "partition_start": None,
                                             "partition_end": None, "partition_keys": ["EMEA"]}
    assert sql_params(None, [""]) == {}


def test_batches():
    keys = ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-05"]
    assert batches(daily(), keys, 2) == [["2026-03-01", "2026-03-02"], ["2026-03-03"], ["2026-03-05"]]
    assert batches(daily(), keys, 31) == [keys[:3], ["2026-03-05"]]
    assert batches(REGIONS, ["APAC", "EMEA"], 31) == [["APAC"], ["EMEA"]]
    across_dst = ["2026-03-29T01", "2026-03-29T03"]
    assert batches(hourly(tz=AMS), across_dst, 5) == [across_dst]
    with pytest.raises(ValueError):
        batches(daily(), keys, 0)


def test_compact():
    keys = [f"2026-03-{d:02d}" for d in [*range(1, 12), 13]]
    assert compact(daily(), keys) == "2026-03-01..2026-03-11, 2026-03-13"
    shuffled = ["2026-03-02", "2026-03-01", "2026-03-05", "2026-03-01"]
    assert compact(daily(), shuffled) == "2026-03-01, 2026-03-02, 2026-03-05"
    assert compact_list(daily(), []) == []
    assert compact(REGIONS, ["APAC", "US"]) == "APAC, US"
    assert compact(None, [""]) == ""
    spring = ["2026-03-29T01", "2026-03-29T03", "2026-03-29T04"]
    assert compact(hourly(tz=AMS), spring) == "2026-03-29T01..2026-03-29T04"


def test_shift():
    assert shift(daily(), "2026-03-01", -1) == "2026-02-28"
    assert shift(TimePartitions("monthly", datetime(2026, 1, 1)), "2026-11", 3) == "2027-02"
    assert shift(TimePartitions("weekly", datetime(2026, 1, 1)), "2027-W01", -1) == "2026-W53"
    assert shift(hourly(tz=AMS), "2026-03-29T03", -1) == "2026-03-29T01"
    assert shift(hourly(tz=AMS), "2026-03-28T02", 24) == "2026-03-29T03"
    assert shift(hourly(tz=AMS), "2026-10-25T01", 2) == "2026-10-25T03"


# -- properties ---------------------------------------------------------------------------------

ZONE_DAYS = {  # each zone with days where its clocks change (or a year ends)
    "UTC": [datetime(2026, 12, 28)], AMS: [datetime(2026, 3, 29), datetime(2026, 10, 25)],
    "America/New_York": [datetime(2026, 3, 8), datetime(2026, 11, 1)],
    "Australia/Lord_Howe": [datetime(2026, 4, 5), datetime(2026, 10, 4)],  # half-hour shifts
    "America/Havana": [datetime(2026, 3, 8), datetime(2026, 11, 1)],  # shifts at midnight
    "Asia/Kolkata": [datetime(2026, 12, 28)],
}
MAX_SPAN = {"hourly": 24 * 8, "daily": 400, "weekly": 120, "monthly": 60}


@st.composite
def time_defs(draw) -> TimePartitions:
    """A time definition starting near a DST change or year end (or anywhere), with or without an end."""
    g = draw(st.sampled_from(["hourly", "daily", "weekly", "monthly"]))
    zone = draw(st.sampled_from(sorted(ZONE_DAYS)))
    near = draw(st.sampled_from(ZONE_DAYS[zone])) + timedelta(minutes=draw(st.integers(-3 * 1440, 1440)))
    start = draw(st.one_of(st.just(near), st.datetimes(datetime(2000, 1, 1), datetime(2040, 1, 1))))
    end = draw(st.none() | st.timedeltas(timedelta(0), timedelta(days=800)).map(lambda d: start + d))
    return TimePartitions(g, start.replace(second=0, microsecond=0), end, zone)


@st.composite
def defs_and_keys(draw):
    """A time definition, a moment some periods after its start, and the keys existing then."""
    defn = draw(time_defs())
    first = bounds(defn, first_key(defn))[0]
    minutes = MAX_SPAN[defn.granularity] * HOURS[defn.granularity] * 60
    now = first + timedelta(minutes=draw(st.integers(0, minutes)))
    return defn, now, partition_keys(defn, now)


HOURS = {"hourly": 1, "daily": 24, "weekly": 168, "monthly": 744}


def first_key(defn: TimePartitions) -> str:
    """The key of the period containing the definition's start."""
    probe = TimePartitions(defn.granularity, defn.start, defn.start, defn.timezone)
    return partition_keys(probe, datetime(defn.start.year + 2, 1, 1, tzinfo=UTC))[0]


def utc(defn: TimePartitions, local: datetime) -> datetime | None:
    """A naive local time of the definition's zone in UTC; None if the clocks skip it."""
    aware = local.replace(tzinfo=ZoneInfo(defn.timezone)).astimezone(UTC)
    return aware if aware.astimezone(ZoneInfo(defn.timezone)).replace(tzinfo=None) == local else None


@settings(max_examples=200, deadline=None)
@given(defs_and_keys())
def test_keys_exist_exactly_when_ended(case):
    defn, now, keys = case
    assert all(bounds(defn, k)[1] <= now for k in keys)
    nxt = shift(defn, keys[-1], 1) if keys else first_key(defn)
    end = utc(defn, defn.end) if defn.end else None
    if defn.end is None or (end and bounds(defn, nxt)[0] < end):
        assert bounds(defn, nxt)[1] > now
    start = utc(defn, defn.start)
    if keys and start:
        assert bounds(defn, keys[0])[0] <= start < bounds(defn, keys[0])[1]


@settings(max_examples=150, deadline=None)
@given(defs_and_keys(), st.data())
def test_key_range_covers_without_gap_or_overlap(case, data):
    defn, now, keys = case
    if not keys:
        return
    i = data.draw(st.integers(0, len(keys) - 1))
    j = data.draw(st.integers(i, len(keys) - 1))
    got = key_range(defn, keys[i], keys[j], "a", now)
    assert got == keys[i:j + 1]
    spans = [bounds(defn, k) for k in got]
    assert all(start < end for start, end in spans)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    assert [validate_key(defn, k, "a", now) for k in got] == got


@settings(max_examples=150, deadline=None)
@given(defs_and_keys(), st.data(), st.integers(1, 10))
def test_batches_are_adjacent_runs_of_the_input(case, data, size):
    defn, _, keys = case
    chosen = data.draw(st.lists(st.sampled_from(keys), unique=True).map(sorted) if keys else st.just([]))
    parts = batches(defn, chosen, size)
    assert [k for part in parts for k in part] == chosen
    for part in parts:
        assert 1 <= len(part) <= size
        assert all(shift(defn, a, 1) == b for a, b in zip(part, part[1:]))
    for a, b in zip(parts, parts[1:]):
        assert len(a) == size or shift(defn, a[-1], 1) != b[0]


@settings(max_examples=150, deadline=None)
@given(defs_and_keys(), st.data(), st.integers(1, 10))
def test_the_sql_ranges_of_batches_tile_the_requested_keys(case, data, size):
    """Each batch's [partition_start, partition_end) is exactly its keys' periods, so the batches
    of a request cover its keys without gap or overlap (on DST days too)."""
    defn, _, keys = case
    chosen = data.draw(st.lists(st.sampled_from(keys), unique=True).map(sorted) if keys else st.just([]))
    zone = ZoneInfo(defn.timezone)
    spans = []
    for part in batches(defn, chosen, size):
        params = sql_params(defn, part)
        assert params["partition_keys"] == part and params["partition_key"] == part[0]
        first, last = bounds(defn, part[0]), bounds(defn, part[-1])
        local = [t.astimezone(zone).replace(tzinfo=None) for t in (first[0], last[1])]
        if defn.granularity != "hourly":  # whole days as dates
            local = [t.date() for t in local]
        assert [params["partition_start"], params["partition_end"]] == local, (part, params)
        spans.append((first[0], last[1]))
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    covered = sum((e - s for s, e in spans), timedelta())
    assert covered == sum((bounds(defn, k)[1] - bounds(defn, k)[0] for k in chosen), timedelta())


@settings(max_examples=150, deadline=None)
@given(defs_and_keys(), st.data())
def test_compact_round_trips(case, data):
    defn, _, keys = case
    chosen = data.draw(st.lists(st.sampled_from(keys), unique=True).map(sorted) if keys else st.just([]))
    pieces = compact_list(defn, chosen)
    assert [k for piece in pieces for k in expand(defn, piece)] == chosen
    assert compact(defn, chosen) == ", ".join(pieces)


@settings(max_examples=200, deadline=None)
@given(defs_and_keys(), st.integers(-3000, 3000), st.data())
def test_shift_there_and_back(case, n, data):
    defn, _, keys = case
    if keys:
        k = data.draw(st.sampled_from(keys))
        assert shift(defn, shift(defn, k, n), -n) == k
        assert shift(defn, k, 0) == k


KEYISH = st.from_regex(r"[0-9]{4}-(W[0-9]{2}|[0-9]{2}(-[0-9]{2}([T ][0-9]{2}(:00)?)?)?)", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(time_defs(), st.one_of(st.text(max_size=20), KEYISH))
def test_any_text_is_a_canonical_existing_key_or_refused(defn, key):
    now = at(2026, 6, 1)
    try:
        got = validate_key(defn, key, "a", now)
    except PartitionKeyError:
        return
    assert validate_key(defn, got, "a", now) == got
    assert bounds(defn, got)[1] <= now
