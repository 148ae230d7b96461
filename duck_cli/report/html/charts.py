"""Two charts as plain SVG: a calendar heat map of partition states and a run's Gantt chart."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from html import escape
from typing import Mapping

from duck_cli.report.html.templates import STATE_COLOURS, clip

CELL, STEP = 11, 13  # a calendar day: its size and its pitch
RANK = {"fresh": 0, "stale": 1, "missing": 2, "failed": 3}
DAYS = 371  # 53 weeks: a year of daily partitions at a glance
STRIP = 400  # weekly, monthly and static partitions: at most this many, newest last
GANTT_ROWS = 300
LABEL_W, BAR_W, ROW = 260, 680, 18


def day_states(keys: list[str], states: Mapping[str, str]) -> dict[date, str]:
    """The worst partition state per day, for daily or hourly keys.

    >>> day_states(["2026-03-01T00", "2026-03-01T01"], {"2026-03-01T00": "fresh",
    ...                                                 "2026-03-01T01": "failed"})
    {datetime.date(2026, 3, 1): 'failed'}
    """
    out: dict[date, str] = {}
    for k in keys:
        day = date.fromisoformat(k[:10])
        state = states[k]
        if day not in out or RANK[state] > RANK[out[day]]:
            out[day] = state
    return out


def calendar(keys: list[str], states: Mapping[str, str], daily: bool) -> str:
    """A heat map: days in week columns (a year at most) or, for coarser keys, a strip."""
    if not keys:
        return '<p class="muted">no partitions yet</p>'
    if not daily:
        return _strip(keys[-STRIP:], states)
    by_day = day_states(keys, states)
    last = max(by_day)
    first = max(min(by_day), last - timedelta(days=DAYS - 1))
    start = first - timedelta(days=first.weekday())
    weeks = (last - start).days // 7 + 1
    left, top = 30, 16
    width, height = left + weeks * STEP + 4, top + 7 * STEP + 4
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="calendar" width="{width}" '
           f'height="{height}" role="img" aria-label="partition calendar">']
    out += [f'<text x="0" y="{top + r * STEP + 9}" fill="#57606a">{d}</text>'
            for r, d in ((0, "Mon"), (2, "Wed"), (4, "Fri"))]
    labelled = (-3, None)  # (week column, month) of the last month label
    for w in range(weeks):
        monday = start + timedelta(days=7 * w)
        month = max(monday, first).strftime("%b")
        if month != labelled[1] and w - labelled[0] >= 3:
            out.append(f'<text x="{left + w * STEP}" y="11" fill="#57606a">{month}</text>')
            labelled = (w, month)
        for r in range(7):
            day = monday + timedelta(days=r)
            if first <= day <= last:
                out.append(_cell(left + w * STEP, top + r * STEP, day.isoformat(),
                                 by_day.get(day, "none")))
    out.append("</svg>")
    return "".join(out)


def _strip(keys: list[str], states: Mapping[str, str]) -> str:
    per_row = 53
    rows = (len(keys) + per_row - 1) // per_row
    width, height = per_row * STEP + 4, rows * STEP + 4
    cells = [_cell((i % per_row) * STEP, (i // per_row) * STEP, k, states[k])
             for i, k in enumerate(keys)]
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="calendar" width="{width}" '
            f'height="{height}" role="img" aria-label="partition strip">{"".join(cells)}</svg>')


def _cell(x: int, y: int, label: str, state: str) -> str:
    word = "no partition" if state == "none" else state
    return (f'<rect x="{x}" y="{y}" width="{CELL}" height="{CELL}" rx="2" '
            f'fill="{STATE_COLOURS[state]}" data-key="{escape(label)}" data-state="{state}">'
            f"<title>{escape(label)}: {word}</title></rect>")


def gantt(steps: list, label) -> str:
    """Bars from each step's start to its end on one time axis (``label(step)`` names a row;
    a step is a StepRecord, or anything with started_at, ended_at and status)."""
    timed = [s for s in steps if s.started_at is not None][:GANTT_ROWS]
    if not timed:
        return '<p class="muted">no step recorded a start time</p>'
    t0 = min(s.started_at for s in timed)
    t1 = max(s.ended_at or s.started_at for s in timed)
    span = max((t1 - t0).total_seconds(), 0.001)
    height = 24 + len(timed) * ROW
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="gantt" width="{LABEL_W + BAR_W + 50}"'
           f' height="{height}" role="img" aria-label="run timeline">']
    out += _axis(span, height)
    for i, s in enumerate(timed):
        out.append(_bar(i, s, t0, span, label(s)))
    out.append("</svg>")
    note = '<p class="muted">Every step recorded the same start and end time (a fixed clock, ' \
        'such as DUCK_NOW).</p>' if t1 == t0 else ""
    return note + "".join(out)


def _axis(span: float, height: int) -> list[str]:
    out = []
    for i in range(6):
        x = LABEL_W + BAR_W * i // 5
        out.append(f'<line x1="{x}" y1="16" x2="{x}" y2="{height}" stroke="#d0d7de"/>'
                   f'<text x="{x}" y="12" fill="#57606a" text-anchor="middle">'
                   f"{seconds(span * i / 5)}</text>")
    return out


def _bar(i: int, s, t0: datetime, span: float, name: str) -> str:
    y = 22 + i * ROW
    start = (s.started_at - t0).total_seconds()
    took = ((s.ended_at or s.started_at) - s.started_at).total_seconds()
    x, w = LABEL_W + BAR_W * start / span, max(BAR_W * took / span, 2)
    colour = STATE_COLOURS.get(s.status, STATE_COLOURS["unknown"])
    short = clip(name, 40)
    return (f'<g class="bar" data-status="{escape(s.status)}"><title>{escape(name)}: '
            f'{escape(s.status)}, {seconds(took)}</title>'
            f'<text x="{LABEL_W - 8}" y="{y + 11}" text-anchor="end">{escape(short)}</text>'
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{ROW - 5}" rx="2" '
            f'fill="{colour}"/></g>')


def seconds(s: float) -> str:
    """A short duration.

    >>> seconds(0.25), seconds(75), seconds(4000)
    ('0.25s', '1m15s', '1h06m')
    """
    if s < 60:
        return f"{s:.2f}s" if s < 10 else f"{s:.0f}s"
    if s < 3600:
        return f"{int(s // 60)}m{int(s % 60):02d}s"
    return f"{int(s // 3600)}h{int(s % 3600 // 60):02d}m"
