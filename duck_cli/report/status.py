"""Tables for `duck status` and the report for `duck why`, drawn from their reports
(`health.status.StatusReport`, `health.why.WhyReport`), as the JSON documents are.

The status table fits the console's width (`report.tables`): names never wrap, and healthy
assets take one line; which partitions are not fresh goes to the Why column.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import TYPE_CHECKING

from duck_cli.health.state import State
from duck_cli.report import tables
from duck_cli.report.documents import ranges, shown as local_time
from duck_cli.report.style import _esc, _table, styled
from duck_cli.state import versions
from duck_cli.report import summary

if TYPE_CHECKING:  # annotations only: rendering a run imports no status module
    from duck_cli.health.status import AssetStatus, ProductStatus, StatusReport
    from duck_cli.health.why import WhyReport


def print_status(out, r: StatusReport, with_partitions: bool, show_all: bool = False,
                 tz: tzinfo | None = None, height: int = summary.SCREENFUL) -> None:
    """The status table: one row per asset, then products; a summary when the rows would not
    fit the screen (`report.summary`), unless ``show_all``."""
    if not show_all and not summary.fits(len(r.assets), height):
        summary.print_status_summary(out, r, _why_cell)
    else:
        _status_table(out, r, tz)
    if with_partitions and r.assets:
        _partition_table(out, r.assets[0], tz, show_all, height)


STATUS_COLUMNS = (
    tables.Column("Asset", tables.NAME),
    tables.Column("Kind", drop=5),
    tables.Column("Owner", tables.NAME, drop=3),
    tables.Column("State"),
    tables.Column("Partitions"),
    tables.Column("Freshness", drop=2),
    tables.Column("Checks", tables.NAME, drop=1, fold=lambda v: v.startswith(("failed", "warn"))),
    tables.Column("Last run", tables.NAME, drop=4, fold=lambda v: v.endswith(" failed")),
    tables.Column("Rows", drop=6, justify="right"),
    tables.Column("Why / blocked by", tables.WRAP),
)


def _status_table(out, r: StatusReport, tz: tzinfo | None) -> None:
    shown = r.assets
    if shown:
        rows = [_status_row(a) for a in shown]
        title = f"Status at {local_time(r.now, tz)}"
        tables.show(out, tables.fit(title, STATUS_COLUMNS, rows, out.width), "duck status")
    if r.products:
        _products(out, r.products)


def _status_row(a: AssetStatus) -> list[str]:
    ah = a.health
    rows = None if ah.asset.is_source else sum(m.row_count or 0 for m in ah.current.values())
    return [_esc(ah.asset.name), _esc(ah.asset.kind), _esc(ah.asset.owner or ""), styled(a.state),
            _partitions_cell(a), _freshness_cell(ah.freshness), _checks_cell(a.checks),
            _run_cell(a.last_run), "" if rows is None else f"{rows:,}",
            "; ".join(t for t in (_unhealthy_ranges(a), _esc(_why_cell(a))) if t)]


PRODUCT_COLUMNS = (tables.Column("Product", tables.NAME), tables.Column("Owner", tables.NAME, drop=1),
                   tables.Column("State"), tables.Column("Freshness", drop=2),
                   tables.Column("Assets", tables.WRAP))


def _products(out, products: tuple[ProductStatus, ...]) -> None:
    rows = [[_esc(p.product.name), _esc(p.product.owner or ""), styled(p.state),
             _freshness_cell(p.freshness),
             _esc(", ".join(f"{n} ({s})" for n, s in zip(p.product.assets, p.asset_states)))]
            for p in products]
    tables.show(out, tables.fit("Data products", PRODUCT_COLUMNS, rows, out.width), "duck status")


def _partitions_cell(a: AssetStatus) -> str:
    ah = a.health
    if ah.asset.partitions is None:
        return "-"
    return f"{ah.counts()[State.FRESH]}/{len(ah.keys)} fresh"


def _unhealthy_ranges(a: AssetStatus) -> str:
    """Which partitions are not fresh, as ranges (the first three per state), and which of a
    source's partitions arrived empty."""
    ah = a.health
    if ah.asset.partitions is None:
        return ""
    counts, parts = ah.counts(), []
    for state in (State.MISSING, State.STALE, State.FAILED):
        if counts[state]:
            found = ranges(ah.asset.partitions, a.keys_in(state))
            more = " ..." if len(found) > 3 else ""
            parts.append(f"{styled(state)} {_esc(', '.join(found[:3]))}{more}")
    if ah.asset.is_source:  # partitions that arrived with no data rows (an empty file)
        empty = [k for k in ah.keys if ah.current.get(k) is not None
                 and versions.is_empty(ah.current[k].data_version)]
        if empty:
            parts.append(f"arrived empty {_esc(', '.join(ranges(ah.asset.partitions, empty)[:3]))}")
    return "; ".join(parts)


def _freshness_cell(f) -> str:
    return styled(f.state) if f is not None else "-"


def _checks_cell(c) -> str:
    if not c.defined:
        return "-"
    if c.failed:
        return styled("failed") + " " + _esc(", ".join(c.failing))
    if c.warned:
        return styled("warn") + " " + _esc(", ".join(c.failing))
    return f"{c.passed} passed" if c.passed else "not run"


def _run_cell(r) -> str:
    return f"{r.run_id} {styled(r.status)}" if r else "-"


def _why_cell(a: AssetStatus) -> str:
    if a.blockers:
        b = a.blockers[0]
        more = f" (+{len(a.blockers) - 1})" if len(a.blockers) > 1 else ""
        return f"blocked by {b.asset} {b.key or ''}: {b.reason.message}{more}".replace("  ", " ")
    if not a.reasons:
        return ""
    more = f" (+{len(a.reasons) - 1})" if len(a.reasons) > 1 else ""
    return a.reasons[0].message + more


def _partition_table(out, a: AssetStatus, tz: tzinfo | None, show_all: bool = True,
                     height: int = summary.SCREENFUL) -> None:
    ah = a.health
    keys = ah.keys if show_all else summary.partition_rows(ah, height)
    table = _table(f"{ah.asset.name}: partitions", "Partition", "State", "Materialized", "Run",
                   "Rows", "Why")
    for key in keys:
        p, m = ah.partitions[key], ah.current.get(key)
        table.add_row(key or "-", styled(p.state), local_time(m.created_at, tz) if m else "",
                      (m.run_id or "") if m else "",
                      "" if m is None or m.row_count is None else f"{m.row_count:,}",
                      _esc("; ".join(r.message for r in p.reasons)))
    out.print(table)
    if len(keys) < len(ah.keys):
        summary.print_partitions_hidden(out, ah, len(keys))


def print_why(out, r: WhyReport) -> None:
    """The chain of questions, answered in order, then the root cause and the next action."""
    head = r.target + (f" {r.partition}" if r.partition else "")
    out.print(f"[bold]{_esc(head)}[/]: {styled(r.state)}")
    for i, q in enumerate(r.questions, 1):
        mark = {"yes": "[red]yes[/]", "no": "[green]no[/]", "n/a": "[dim]n/a[/]"}.get(
            q.answer, f"[bold]{_esc(q.answer)}[/]")  # an either/or answers with the choice
        out.print(f" {i}. {_esc(q.question)} {mark}: {_esc(q.detail)}")
    if r.root_causes:
        out.print("[bold]Root cause:[/]")
        for c in r.root_causes:
            out.print(f"  {_esc(c.where)}: {_esc(c.message)}")
    out.print(f"[bold]Next:[/] {_esc(r.next_action.message)}")
    if r.next_action.command:
        out.print(f"  $ {_esc(r.next_action.command)}")
