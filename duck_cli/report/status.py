"""Tables for `duck status` and the report for `duck why`, drawn from their reports
(`health.status.StatusReport`, `health.why.WhyReport`), as the JSON documents are."""

from __future__ import annotations

from duck_cli.health.state import State
from duck_cli.health.status import AssetStatus, StatusReport
from duck_cli.health.why import WhyReport
from duck_cli.report.documents import ranges, ts
from duck_cli.state import versions
from duck_cli.report.style import _esc, _table, styled


FOLD_AFTER = 200  # above this many assets, the table lists only those that need attention


def print_status(out, r: StatusReport, with_partitions: bool, show_all: bool = False) -> None:
    """The status table: one row per asset (only unhealthy ones in a big project), products."""
    shown = r.assets
    if len(shown) > FOLD_AFTER and not show_all:
        shown = [a for a in shown if a.state != State.FRESH or a.checks.failed or a.warn]
    table = _table(f"Status at {ts(r.now)}", "Asset", "Kind", "Owner", "State", "Partitions",
                   "Freshness", "Checks", "Last run", "Rows", "Why / blocked by")
    for a in shown:
        ah = a.health
        rows = None if ah.asset.is_source else sum(m.row_count or 0 for m in ah.current.values())
        table.add_row(ah.asset.name, ah.asset.kind, _esc(ah.asset.owner or ""), styled(a.state),
                      _partitions_cell(a), _freshness_cell(ah.freshness), _checks_cell(a.checks),
                      _run_cell(a.last_run), "" if rows is None else f"{rows:,}",
                      _esc(_why_cell(a)))
    if shown:
        out.print(table)
    hidden = len(r.assets) - len(shown)
    if hidden:
        out.print(f"{hidden:,} fresh assets not listed (of {len(r.assets):,}); "
                  "`duck status --all` lists every asset, `--json` gives them all as data.")
    if r.products:
        pt = _table("Data products", "Product", "Owner", "State", "Freshness", "Assets")
        for p in r.products:
            pt.add_row(p.product.name, _esc(p.product.owner or ""), styled(p.state),
                       _freshness_cell(p.freshness),
                       ", ".join(f"{n} ({s})" for n, s in zip(p.product.assets, p.asset_states)))
        out.print(pt)
    if with_partitions and r.assets:
        _partition_table(out, r.assets[0])


def _partitions_cell(a: AssetStatus) -> str:
    ah = a.health
    if ah.asset.partitions is None:
        return "-"
    counts = ah.counts()
    parts = [f"{counts[State.FRESH]}/{len(ah.keys)} fresh"]
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
    return "\n".join(parts)


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
    return "; ".join(g.message for g in a.reasons[:2])


def _partition_table(out, a: AssetStatus) -> None:
    ah = a.health
    table = _table(f"{ah.asset.name}: partitions", "Partition", "State", "Materialized", "Run",
                   "Rows", "Why")
    for key in ah.keys:
        p, m = ah.partitions[key], ah.current.get(key)
        table.add_row(key or "-", styled(p.state), ts(m.created_at) if m else "",
                      (m.run_id or "") if m else "",
                      "" if m is None or m.row_count is None else f"{m.row_count:,}",
                      _esc("; ".join(r.message for r in p.reasons)))
    out.print(table)


def print_why(out, r: WhyReport) -> None:
    """The chain of questions, answered in order, then the root cause and the next action."""
    head = r.target + (f" {r.partition}" if r.partition else "")
    out.print(f"[bold]{_esc(head)}[/]: {styled(r.state)}")
    for i, q in enumerate(r.questions, 1):
        mark = "[red]yes[/]" if q.answer == "yes" else ("[green]no[/]" if q.answer == "no"
                                                         else "[dim]n/a[/]")
        out.print(f" {i}. {_esc(q.question)} {mark}: {_esc(q.detail)}")
    if r.root_causes:
        out.print("[bold]Root cause:[/]")
        for c in r.root_causes:
            out.print(f"  {_esc(c.where)}: {_esc(c.message)}")
    out.print(f"[bold]Next:[/] {_esc(r.next_action.message)}")
    if r.next_action.command:
        out.print(f"  $ {_esc(r.next_action.command)}")
