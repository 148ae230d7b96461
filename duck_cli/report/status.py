"""Tables for `duck status` and the report for `duck why`, drawn from their JSON documents."""

from __future__ import annotations

from duck_cli.report.documents import warns
from duck_cli.report.style import _esc, _table, styled


FOLD_AFTER = 200  # above this many assets, the table lists only those that need attention


def print_status(out, d: dict, with_partitions: bool, show_all: bool = False) -> None:
    """The status table: one row per asset (only unhealthy ones in a big project), products."""
    shown = d["assets"]
    if len(shown) > FOLD_AFTER and not show_all:
        shown = [a for a in shown if a["state"] != "fresh" or a["checks"]["failed"] or warns(a)]
    table = _table(f"Status at {d['now']}", "Asset", "Kind", "Owner", "State", "Partitions",
                   "Freshness", "Checks", "Last run", "Rows", "Why / blocked by")
    for a in shown:
        table.add_row(a["name"], a["kind"], _esc(a["owner"] or ""), styled(a["state"]),
                      _partitions_cell(a), _freshness_cell(a["freshness"]), _checks_cell(a),
                      _run_cell(a["last_run"]),
                      "" if a["rows"] is None else f"{a['rows']:,}", _esc(_why_cell(a)))
    if shown:
        out.print(table)
    hidden = len(d["assets"]) - len(shown)
    if hidden:
        out.print(f"{hidden:,} fresh assets not listed (of {len(d['assets']):,}); "
                  "`duck status --all` lists every asset, `--json` gives them all as data.")
    if d["products"]:
        pt = _table("Data products", "Product", "Owner", "State", "Freshness", "Assets")
        for p in d["products"]:
            pt.add_row(p["name"], _esc(p["owner"] or ""), styled(p["state"]),
                       _freshness_cell(p["freshness"]),
                       ", ".join(f"{n} ({s})" for n, s in zip(p["assets"], p["asset_states"])))
        out.print(pt)
    if with_partitions and d["assets"]:
        _partition_table(out, d["assets"][0])


def _partitions_cell(a: dict) -> str:
    if not a["partitioned"]:
        return "-"
    p = a["partitions"]
    parts = [f"{p['fresh']}/{p['total']} fresh"]
    for state in ("missing", "stale", "failed"):
        if p[state]:
            shown = ", ".join(p[f"{state}_ranges"][:3])
            more = " ..." if len(p[f"{state}_ranges"]) > 3 else ""
            parts.append(f"{styled(state)} {_esc(shown)}{more}")
    if p.get("empty"):
        parts.append(f"arrived empty {_esc(', '.join(p['empty_ranges'][:3]))}")
    return "\n".join(parts)


def _freshness_cell(f: dict | None) -> str:
    if not f:
        return "-"
    return styled(f["state"])


def _checks_cell(a: dict) -> str:
    c = a["checks"]
    if not c["defined"]:
        return "-"
    if c["failed"]:
        return styled("failed") + " " + _esc(", ".join(c["failing"]))
    if c["warned"]:
        return styled("warn") + " " + _esc(", ".join(c["failing"]))
    return f"{c['passed']} passed" if c["passed"] else "not run"


def _run_cell(r: dict | None) -> str:
    return f"{r['run_id']} {styled(r['status'])}" if r else "-"


def _why_cell(a: dict) -> str:
    if a["blockers"]:
        b = a["blockers"][0]
        more = f" (+{len(a['blockers']) - 1})" if len(a["blockers"]) > 1 else ""
        return f"blocked by {b['asset']} {b['partition'] or ''}: {b['message']}{more}".replace(
            "  ", " ")
    return "; ".join(r["message"] for r in a["reasons"][:2])


def _partition_table(out, a: dict) -> None:
    table = _table(f"{a['name']}: partitions", "Partition", "State", "Materialized", "Run",
                   "Rows", "Why")
    for p in a["partition_list"]:
        m = p["materialization"] or {}
        table.add_row(p["partition"] or "-", styled(p["state"]), m.get("at") or "",
                      m.get("run_id") or "", "" if m.get("rows") is None else f"{m['rows']:,}",
                      _esc("; ".join(r["message"] for r in p["reasons"])))
    out.print(table)


def print_why(out, r: dict) -> None:
    """The chain of questions, answered in order, then the root cause and the next action."""
    head = r["target"] + (f" {r['partition']}" if r.get("partition") else "")
    out.print(f"[bold]{_esc(head)}[/]: {styled(r['state'])}")
    for i, q in enumerate(r["questions"], 1):
        mark = "[red]yes[/]" if q["answer"] == "yes" else ("[green]no[/]" if q["answer"] == "no"
                                                            else "[dim]n/a[/]")
        out.print(f" {i}. {_esc(q['question'])} {mark}: {_esc(q['detail'])}")
    if r["root_causes"]:
        out.print("[bold]Root cause:[/]")
        for c in r["root_causes"]:
            where = f"{c['asset']} {c['partition'] or ''}".strip()
            out.print(f"  {_esc(where)}: {_esc(c['message'])}")
    out.print(f"[bold]Next:[/] {_esc(r['next_action']['message'])}")
    if r["next_action"].get("command"):
        out.print(f"  $ {_esc(r['next_action']['command'])}")
