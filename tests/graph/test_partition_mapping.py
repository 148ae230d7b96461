"""Mapping an asset's partitions onto an upstream's: which keys read which."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from duck_cli.errors import UsageError
from duck_cli.models import Dep, StaticPartitions, TimePartitions
from duck_cli.graph.mapping import check_mapping, downstream_map, upstream_map
from duck_cli.graph.partitions import bounds, partition_keys

UTC = timezone.utc
NOW = datetime(2026, 6, 1, tzinfo=UTC)
DAILY = TimePartitions("daily", datetime(2026, 3, 5))
MONTHLY = TimePartitions("monthly", datetime(2026, 1, 1))
WEEKLY = TimePartitions("weekly", datetime(2026, 1, 1))
REGIONS = StaticPartitions(("APAC", "EMEA", "US"))


def days(month: int, first: int, last: int) -> tuple[str, ...]:
    return tuple(f"2026-{month:02d}-{d:02d}" for d in range(first, last + 1))


def test_monthly_reads_that_months_days_present_upstream():
    up = partition_keys(DAILY, NOW)
    got = upstream_map(MONTHLY, DAILY, Dep("raw"), ["2026-02", "2026-03", "2026-04"], up)
    assert got == {"2026-02": (), "2026-03": days(3, 5, 31), "2026-04": days(4, 1, 30)}


def test_daily_reads_its_month():
    got = upstream_map(DAILY, MONTHLY, Dep("raw"), ["2026-03-05", "2026-03-31", "2026-04-01"], ["2026-03"])
    assert got == {"2026-03-05": ("2026-03",), "2026-03-31": ("2026-03",), "2026-04-01": ()}


def test_weekly_and_monthly_overlap():
    got = upstream_map(WEEKLY, MONTHLY, Dep("raw"), ["2026-W09", "2026-W10"], ["2026-02", "2026-03"])
    assert got == {"2026-W09": ("2026-02", "2026-03"), "2026-W10": ("2026-03",)}  # W09: Feb 23 - Mar 1


def test_previous_day_offset():
    keys = partition_keys(DAILY, NOW)
    got = upstream_map(DAILY, DAILY, Dep("raw", "offset", -1), keys, keys)
    assert got["2026-03-05"] == ()
    assert got["2026-03-06"] == ("2026-03-05",)
    assert all(got[b] == (a,) for a, b in zip(keys, keys[1:]))


def test_offset_then_overlap():
    got = upstream_map(MONTHLY, DAILY, Dep("raw", "offset", -1), ["2026-04"], partition_keys(DAILY, NOW))
    assert got == {"2026-04": days(3, 5, 31)}


def test_all_and_unpartitioned_both_ways():
    up = partition_keys(DAILY, NOW)
    assert upstream_map(REGIONS, DAILY, Dep("raw", "all"), ["APAC", "US"], up) == {
        "APAC": tuple(up), "US": tuple(up)}
    assert upstream_map(None, DAILY, Dep("raw"), [""], up) == {"": tuple(up)}
    assert upstream_map(DAILY, None, Dep("raw"), ["2026-03-05", "2026-03-06"], [""]) == {
        "2026-03-05": ("",), "2026-03-06": ("",)}
    assert downstream_map(DAILY, None, Dep("raw"), ["2026-03-05", "2026-03-06"], [""]) == {
        "": ("2026-03-05", "2026-03-06")}
    assert downstream_map(None, DAILY, Dep("raw"), [""], up[:2]) == {up[0]: ("",), up[1]: ("",)}


def test_static_identity():
    up = StaticPartitions(("APAC", "EMEA"))
    got = upstream_map(REGIONS, up, Dep("raw", "identity"), ["APAC", "US"], ["APAC", "EMEA"])
    assert got == {"APAC": ("APAC",), "US": ()}


def test_hourly_and_daily_on_dst_days():
    hourly = TimePartitions("hourly", datetime(2026, 3, 28), timezone="Europe/Amsterdam")
    daily = TimePartitions("daily", datetime(2026, 3, 28), timezone="Europe/Amsterdam")
    hours = partition_keys(hourly, datetime(2026, 3, 31, tzinfo=UTC))
    got = upstream_map(daily, hourly, Dep("raw"), ["2026-03-29"], hours)
    assert len(got["2026-03-29"]) == 23 and got["2026-03-29"][0] == "2026-03-29T00"
    back = upstream_map(hourly, daily, Dep("raw"), ["2026-03-29T23", "2026-03-30T00"],
                        ["2026-03-29", "2026-03-30"])
    assert back == {"2026-03-29T23": ("2026-03-29",), "2026-03-30T00": ("2026-03-30",)}


def test_different_timezones_overlap_in_real_time():
    local = TimePartitions("daily", datetime(2026, 3, 1), timezone="Europe/Amsterdam")
    utc = TimePartitions("daily", datetime(2026, 3, 1))
    got = upstream_map(local, utc, Dep("raw"), ["2026-03-02"], ["2026-03-01", "2026-03-02", "2026-03-03"])
    assert got == {"2026-03-02": ("2026-03-01", "2026-03-02")}
    same = upstream_map(local, utc, Dep("raw", "identity"), ["2026-03-02"], ["2026-03-01", "2026-03-02"])
    assert same == {"2026-03-02": ("2026-03-02",)}


def test_check_mapping():
    assert check_mapping(DAILY, MONTHLY, Dep("raw")) is None
    assert check_mapping(REGIONS, DAILY, Dep("raw", "all")) is None
    assert check_mapping(None, DAILY, Dep("raw")) is None
    assert "use mapping: all" in check_mapping(REGIONS, DAILY, Dep("raw"))
    assert "use mapping: all" in check_mapping(DAILY, REGIONS, Dep("raw", "identity"))
    fewer = StaticPartitions(("APAC", "EMEA"))
    assert "US are not partitions of upstream 'raw'" in check_mapping(REGIONS, fewer, Dep("raw"))
    assert "offset" in check_mapping(REGIONS, REGIONS, Dep("raw", "offset", -1))
    assert "offset" in check_mapping(None, DAILY, Dep("raw", "offset", -1))
    assert "use mapping: auto" in check_mapping(DAILY, MONTHLY, Dep("raw", "identity"))
    assert "unknown mapping" in check_mapping(DAILY, DAILY, Dep("raw", "sideways"))


def test_a_mapping_that_cannot_work_raises():
    with pytest.raises(UsageError, match="use mapping: all"):
        upstream_map(REGIONS, DAILY, Dep("raw"), ["APAC"], ["2026-03-05"])


# -- properties ---------------------------------------------------------------------------------

ZONES = ["UTC", "Europe/Amsterdam", "America/Havana"]
SPAN_HOURS = {"hourly": 24 * 5, "daily": 24 * 70, "weekly": 24 * 7 * 12, "monthly": 24 * 31 * 8}


@st.composite
def defs(draw):
    """A time definition near a DST change, static values, or None."""
    kind = draw(st.sampled_from(["hourly", "daily", "weekly", "monthly", "static", "none"]))
    if kind == "none":
        return None
    if kind == "static":
        return StaticPartitions(tuple(draw(st.lists(st.sampled_from("ABCDE"), min_size=1, unique=True))))
    start = datetime(2026, 3, 8) + timedelta(hours=draw(st.integers(-24 * 40, 24 * 30)))
    return TimePartitions(kind, start, None, draw(st.sampled_from(ZONES)))


def some_keys(draw, defn) -> list[str]:
    """A subset (in order) of the keys that exist a while after the definition's start."""
    if not isinstance(defn, TimePartitions):
        return partition_keys(defn, NOW)
    probe = TimePartitions(defn.granularity, defn.start, defn.start, defn.timezone)
    now = bounds(defn, partition_keys(probe, datetime(2028, 1, 1, tzinfo=UTC))[0])[0]
    keys = partition_keys(defn, now + timedelta(hours=draw(st.integers(0, SPAN_HOURS[defn.granularity]))))
    return [k for k in keys if draw(st.booleans())] if keys and draw(st.booleans()) else keys


@settings(max_examples=200, deadline=None)
@given(defs(), defs(), st.sampled_from(["auto", "identity", "all", "offset"]), st.integers(-3, 3), st.data())
def test_downstream_map_is_the_inverse_of_upstream_map(down, up, mapping, offset, data):
    dep = Dep("up", mapping, offset)
    down_keys, up_keys = some_keys(data.draw, down), some_keys(data.draw, up)
    try:
        ups = upstream_map(down, up, dep, down_keys, up_keys)
    except UsageError:
        assert check_mapping(down, up, dep) is not None
        return
    downs = downstream_map(down, up, dep, down_keys, up_keys)
    assert list(ups) == down_keys
    forward = {(d, u) for d, us in ups.items() for u in us}
    assert forward == {(d, u) for u, ds in downs.items() for d in ds}
    if up is not None:
        assert all(set(us) <= set(up_keys) for us in ups.values())


@settings(max_examples=200, deadline=None)
@given(defs(), defs(), st.data())
def test_overlap_mapping_reads_exactly_the_overlapping_periods(down, up, data):
    if not (isinstance(down, TimePartitions) and isinstance(up, TimePartitions)):
        return
    down_keys, up_keys = some_keys(data.draw, down), some_keys(data.draw, up)
    same = down.granularity == up.granularity and down.timezone == up.timezone
    ups = upstream_map(down, up, Dep("up"), down_keys, up_keys)
    for d in down_keys:
        ds, de = bounds(down, d)
        overlap = [u for u in up_keys if bounds(up, u)[0] < de and bounds(up, u)[1] > ds]
        expected = [u for u in up_keys if u == d] if same else overlap
        assert list(ups[d]) == expected
