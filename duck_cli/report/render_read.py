"""Rendering the reading commands' views: lineage, plans, status and why (with their
summaries when the rows would not fit the screen). A writing command draws none of them (the
CLI loads this module for `graph`, `plan`, `status`, `why`, a dry run and reconcile)."""

from __future__ import annotations

from duck_cli.errors import UsageError
from duck_cli.health.state import State
from duck_cli.report import documents as docs
from duck_cli.report import lineage
from duck_cli.report import runs as runs_view
from duck_cli.report import status as status_view
from duck_cli.report import summary
from duck_cli.report.render import emit_json
from duck_cli.report.style import Screen, _esc, _table


def graph(screen: Screen, project, g, names, fmt: str, health) -> None:
    """Lineage as a tree, Mermaid, dot or JSON."""
    if fmt == "json":
        emit_json(screen, lineage.graph_doc(project, g, names, health))
    elif fmt in ("mermaid", "dot"):
        screen.stdout.write(getattr(lineage, fmt)(project, g, names, health) + "\n")
    elif fmt == "tree":
        screen.out.print(lineage.tree(project, g, names, health))
    else:
        raise UsageError(f"unknown graph format '{fmt}'", hint="Use tree, mermaid, dot or json.")


def plan(screen: Screen, p, state, as_json: bool, show_all: bool = False) -> dict:
    """A plan: steps with reasons, then what is held back; a summary when that would not fit
    the screen, unless ``show_all``. Returns the plan's document (for the GitHub step summary,
    `report.ci.plan_summary`, which the CLI loads only when asked)."""
    d = docs.plan_doc(p, state)
    if as_json:
        emit_json(screen, d)
        return d
    out = screen.out
    rows = len(d["steps"]) + sum(h["status"] != State.FRESH for h in d["held"])
    if not show_all and not summary.fits(rows, screen.height):
        summary.print_plan_summary(out, d)
        if "preview" in d:
            summary.print_preview(out, d["preview"])
        return d
    if not d["steps"]:
        out.print(runs_view.nothing(d["held"]))
    else:
        title = "plan" if p.command == "plan" else f"{p.command} plan"
        table = _table(f"{title}: {len(d['steps'])} step(s), "
                       f"{d['estimate']['partitions']} partition(s)",
                       "#", "Asset", "Partitions", "Why", "After")
        for s in d["steps"]:
            table.add_row(str(s["index"] + 1), s["asset"], _esc(", ".join(s["partitions"]) or "-"),
                          _esc("; ".join(s["reasons"])), ", ".join(str(n + 1) for n in s["needs"]))
        out.print(table)
    runs_view.held_table(out, d["held"], f"duck {p.command}")
    if "preview" in d:
        summary.print_preview(out, d["preview"])
    return d


def status(screen: Screen, report, with_partitions: bool, as_json: bool,
           show_all: bool = False) -> None:
    """The status table (or document) of a `health.status.StatusReport`."""
    if as_json:
        emit_json(screen, docs.status_doc(report, with_partitions))
        return
    status_view.print_status(screen.out, report, with_partitions, show_all, screen.tz,
                             screen.height)


def why(screen: Screen, report, as_json: bool, lake_snapshot: int | None = None) -> None:
    """The answer to 'why is this stale?' (a `health.why.WhyReport`); in lake mode, the lake
    snapshot of the asset's latest publish."""
    if as_json:
        extra = {"lake_snapshot": lake_snapshot} if lake_snapshot is not None else {}
        emit_json(screen, docs.why_doc(report) | extra)
        return
    status_view.print_why(screen.out, report)
    if lake_snapshot is not None:
        screen.out.print(f"Readers of the lake see its latest publish as of lake snapshot "
                         f"{lake_snapshot}.")
