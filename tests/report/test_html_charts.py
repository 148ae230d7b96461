"""The report's drawings as data: the layered layout, the partition calendar and the Gantt chart."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from duck_cli.records import StepRecord
from duck_cli.report.html import charts, svg


def _cells(drawing: str) -> dict[str, str]:
    return dict(re.findall(r'data-key="([^"]+)" data-state="(\w+)"', drawing))


def test_a_calendar_shows_the_last_year_of_daily_partitions():
    first = date(2025, 1, 1)
    keys = [(first + timedelta(days=i)).isoformat() for i in range(400)]
    states = {k: "fresh" for k in keys} | {keys[-1]: "failed", keys[-2]: "missing",
                                           keys[0]: "stale"}
    cells = _cells(charts.calendar(keys, states, daily=True))
    assert len(cells) == charts.DAYS
    assert min(cells) == keys[-charts.DAYS] and max(cells) == keys[-1]
    assert (cells[keys[-1]], cells[keys[-2]], cells[keys[-3]]) == ("failed", "missing", "fresh")
    assert keys[0] not in cells  # older than a year: off the calendar


def test_hourly_partitions_show_their_worst_hour_per_day():
    keys = [f"2026-03-0{d}T{h:02d}" for d in (1, 2) for h in range(24)]
    states = {k: "fresh" for k in keys} | {"2026-03-02T13": "stale", "2026-03-02T14": "failed"}
    assert _cells(charts.calendar(keys, states, daily=True)) == {
        "2026-03-01": "fresh", "2026-03-02": "failed"}


def test_coarser_partitions_are_a_strip_of_their_newest_keys():
    keys = [f"{2000 + i // 12}-{i % 12 + 1:02d}" for i in range(charts.STRIP + 20)]
    cells = _cells(charts.calendar(keys, {k: "fresh" for k in keys}, daily=False))
    assert list(cells) == keys[-charts.STRIP:]


def _step(start, end, status) -> StepRecord:
    return StepRecord(1, "r00001", 0, "a", [""], status, start, end, None, None, None, None,
                      None, None, None)


def test_gantt_bars_sit_on_one_time_axis():
    t0 = datetime(2026, 3, 13, 6, 0, tzinfo=timezone.utc)
    steps = [_step(t0, t0 + timedelta(seconds=10), "success"),
             _step(t0 + timedelta(seconds=10), t0 + timedelta(seconds=20), "failed"),
             _step(None, None, "skipped")]
    drawing = charts.gantt(steps, lambda s: s.status)
    bars = re.findall(r'<rect x="([\d.]+)" y="\d+" width="([\d.]+)"', drawing)
    half = charts.BAR_W / 2
    assert [(float(x), float(w)) for x, w in bars] == [(charts.LABEL_W, half),
                                                       (charts.LABEL_W + half, half)]
    assert "skipped" not in drawing  # no start time: nothing to place on the axis


@st.composite
def dags(draw):
    n = draw(st.integers(1, 30))
    names = [f"n{i:02d}" for i in range(n)]
    return {name: sorted(set(draw(st.lists(st.sampled_from(names[:i]), max_size=3))))
            if i else [] for i, name in enumerate(names)}


@settings(max_examples=60, deadline=None)
@given(dags())
def test_every_edge_points_to_a_later_layer_and_every_node_is_placed_once(upstream):
    grid = svg.layers(list(upstream), upstream)
    where = {n: i for i, layer in enumerate(grid) for n in layer}
    assert sorted(where) == sorted(upstream) and sum(map(len, grid)) == len(upstream)
    for n, ups in upstream.items():
        for u in ups:
            assert where[u] < where[n]
        if ups:
            assert where[n] == 1 + max(where[u] for u in ups)
