"""Tables for runs and what they leave behind: a run's result and what it held back, the run
history, one run's steps and checks, `duck check`'s results, the backfills and their progress.

Every table fits the console's width (`report.tables`): names, keys and times never wrap, and the
columns that matter less drop first, named below the table.
"""

from __future__ import annotations

from datetime import tzinfo

from duck_cli.health.state import State
from duck_cli.report import documents as docs
from duck_cli.report import tables
from duck_cli.report.style import _esc, styled
from duck_cli.report.tables import NAME, WRAP, Column

FOLD_STEPS = 50  # above this many steps, a run's table lists only steps that need attention
HELD_HINT = ("`duck why ASSET` names the root cause; `duck reconcile --apply` repairs upstream "
             "first; `--force` builds over upstream that has published data.")

RESULT_COLUMNS = (Column("Asset", NAME), Column("Partitions", WRAP), Column("Status"),
                  Column("Rows", drop=1, justify="right"),
                  Column("Seconds", drop=2, justify="right"), Column("Detail", WRAP))
HELD_COLUMNS = (Column("Asset", NAME), Column("Partitions", WRAP), Column("Status"),
                Column("Why", WRAP))
RUNS_COLUMNS = (Column("Run", NAME), Column("Command", NAME), Column("Status"),
                Column("Started", NAME), Column("Ended", NAME, drop=2),
                Column("Backfill", NAME, drop=1))
STEP_COLUMNS = (Column("#", justify="right"), Column("Asset", NAME), Column("Partitions", WRAP),
                Column("Status"), Column("Rows", drop=1, justify="right"), Column("Detail", WRAP))
CHECK_COLUMNS = (Column("Asset", NAME), Column("Partition", NAME), Column("Check", NAME),
                 Column("Severity", drop=2), Column("Result"), Column("Observed", drop=1),
                 Column("Message", WRAP))
BACKFILL_COLUMNS = (Column("Backfill", NAME), Column("Created", NAME, drop=2),
                    Column("Selection", WRAP), Column("Requested", WRAP), Column("Status"),
                    Column("Progress"), Column("Runs", WRAP, drop=1))


def nothing(held: list[dict]) -> str:
    """The one line for a plan without steps: up to date, or held back (and how much)."""
    blocked = [h for h in held if h["status"] != State.FRESH]
    if not blocked:
        return "Nothing to do: everything selected is up to date."
    count = sum(h["partition_count"] or 1 for h in blocked)
    assets = len({h["asset"] for h in blocked})
    rest = ("; the rest of the selection is up to date" if len(blocked) < len(held) else "")
    return (f"Nothing can run: {count} partition(s) of {assets} selected asset(s) need work "
            f"but are held back by their upstream (below){rest}.")


def held_table(out, held: list[dict], what: str) -> None:
    """What a plan holds back and why (nothing when all of it is fresh)."""
    rows = []
    for h in (h for h in held if h["status"] != State.FRESH):
        b = h["blocker"]
        why = h["message"] + (f": {b['message']}" if b and b.get("message") else "")
        rows.append([_esc(h["asset"]), _esc(", ".join(h["partitions"]) or "-"),
                     styled(h["status"]), _esc(why)])
    if rows:
        tables.show(out, tables.fit("Held back", HELD_COLUMNS, rows, out.width), what)


def print_result(out, d: dict, p, result) -> None:
    """A run's steps (or why nothing ran), its totals and what it held back."""
    what = f"duck {p.command}"
    if not result.results:
        out.print(nothing(d["held"]))
        held_table(out, d["held"], what)
        if p.held_back():
            out.print(f"Nothing was built (exit code 5). {HELD_HINT}")
        elif p.blocked():
            out.print(HELD_HINT)
        return
    steps = shown_steps(d)
    rows = [[_esc(a), _esc(parts), styled(status), n, secs, _esc(detail)]
            for a, parts, status, n, secs, detail in result_cells(steps)]
    if rows:
        tables.show(out, tables.fit(f"run {result.run_id}: {result.status}", RESULT_COLUMNS,
                                    rows, out.width), what)
    for line in after_result(d, steps, result):
        out.print(line)
    held_table(out, d["held"], what)


def shown_steps(d: dict) -> list[dict]:
    """The steps a run's table lists: all, or in a long run those that need attention."""
    steps = d["steps"]
    if len(steps) > FOLD_STEPS:  # a long run: list what needs attention, count the rest
        steps = [s for s in steps if s["status"] != "success"
                 or any(not c["passed"] for c in s["checks"])]
    return steps


def result_cells(steps: list[dict]) -> list[list[str]]:
    """The run table's cells as plain text (RESULT_COLUMNS), before markup."""
    return [[s["asset"], ", ".join(s["partitions"]) or "-", s["status"],
             "" if s["rows"] is None else f"{s['rows']:,}", f"{s['seconds']:.2f}",
             first_line(s["error"]) or _check_note(s["checks"])] for s in steps]


def after_result(d: dict, steps: list, result) -> list[str]:
    """The lines under a run's table: how to resume, what was folded, the totals."""
    lines = []
    if result.status == "canceled" and result.backfill_id:
        lines.append(f"Canceled: `duck backfill --resume {result.backfill_id}` finishes the "
                     "backfill.")
    if len(steps) < len(d["steps"]):
        lines.append(f"{len(d['steps']) - len(steps)} more step(s) succeeded with every check "
                     f"passing; `duck runs show {result.run_id}` lists every step.")
    c = d["summary"]
    lines.append(f"{c['success']} succeeded, {c['failed']} failed, {c['skipped']} skipped "
                 f"({d['partitions']} partition(s) published).")
    return lines


def _check_note(checks) -> str:
    warned = [f"{c['name']}: {c['message']}" for c in checks if not c["passed"]]
    return ("warn: " + "; ".join(warned)) if warned else (f"{len(checks)} check(s) passed"
                                                          if checks else "")


def print_runs(out, rows, tz: tzinfo | None, asset: str | None, source: bool) -> None:
    """The run history, newest first (or why it is empty)."""
    if not rows:
        out.print(_no_runs(asset, source))
        return
    cells = [[r.run_id, _esc(r.command), styled(r.status), docs.shown(r.started_at, tz),
              docs.shown(r.ended_at, tz), r.backfill_id or ""] for r in rows]
    tables.show(out, tables.fit("Runs", RUNS_COLUMNS, cells, out.width), "duck runs")


def _no_runs(asset: str | None, source: bool) -> str:
    """Why the run list is empty: no runs at all, none built the asset, or it is a source."""
    if asset is None:
        return "No runs yet."
    if source:  # sources arrive from outside: no run step ever builds one
        return (f"No run builds {asset}: it is a source, observed by duck, not built. "
                f"`duck status {asset}` shows what arrived; `duck runs --asset NAME` lists the "
                "runs of an asset that reads it.")
    return f"No run has built {asset} yet."


def first_line(text: str | None) -> str:
    """The first line of a step's error (a Python step's traceback follows it in `runs show`)."""
    return (text or "").split("\n", 1)[0]


def print_detail(out, run, step_docs: list[dict], checks, tz: tzinfo | None) -> None:
    """One run: its steps and the check results it recorded."""
    out.print(f"run {run.run_id} ({run.command}): {styled(run.status)}, started "
              f"{docs.shown(run.started_at, tz)}"
              + (f", error: {_esc(run.error)}" if run.error else ""))
    rows = [[str(s["step"] + 1), _esc(s["asset"]), _esc(_few(s["partitions"] or []) or "-"),
             styled(s["status"]), "" if s["rows"] is None else f"{s['rows']:,}",
             _esc(first_line(s["error"]) or (f"lake snapshot {s['snapshot']}" if "snapshot" in s
                                             else ""))] for s in step_docs]
    what = f"duck runs show {run.run_id}"
    tables.show(out, tables.fit("Steps", STEP_COLUMNS, rows, out.width), what)
    for s in step_docs:  # a Python step's traceback and log, line by line
        lines = (s["error"] or "").splitlines()[1:] + [
            f"log: {line}" for line in (s.get("log") or "").splitlines()]
        if lines:
            out.print(f"step {s['step'] + 1} {s['asset']} {_esc(', '.join(s['partitions'] or []))}:")
            for line in lines:
                out.print(f"  {_esc(line)}", soft_wrap=True)
    if checks:
        rows = [check_row({"asset": c.asset, "partition": c.partition, **docs.check_entry(c)})
                for c in checks]
        tables.show(out, tables.fit("Checks", CHECK_COLUMNS, rows, out.width), what)


def check_row(e: dict) -> list[str]:
    """One check result as the cells of CHECK_COLUMNS."""
    result = "success" if e["passed"] else ("failed" if e["severity"] == "error" else "warn")
    return [_esc(e["asset"]), _esc(e["partition"] or "-"), _esc(e["name"]), e["severity"],
            styled(result), _esc(e["observed"] or ""), _esc(e["message"])]


def print_checks(out, entries: list[dict]) -> None:
    """`duck check`'s results."""
    if not entries:
        out.print("No checks defined on the selection.")
        return
    rows = [check_row(e) for e in entries]
    tables.show(out, tables.fit("Checks", CHECK_COLUMNS, rows, out.width), "duck check")


def _few(keys: list[str]) -> str:
    """The first three keys and how many more."""
    return ", ".join(keys[:3]) + (f" (+{len(keys) - 3})" if len(keys) > 3 else "")


def progress_of(requested: dict, built: set) -> dict:
    """How many of a backfill's requested partitions its runs built."""
    wanted = [(a, k) for a, keys in requested.items() for k in (keys or [""])]
    return {"done": sum(w in built for w in wanted), "requested": len(wanted)}


def print_backfills(out, entries: list[dict], project, tz: tzinfo | None) -> None:
    """The recorded backfills with their progress, and how to finish an unfinished one."""
    if not entries:
        out.print("No backfills yet.")
        return
    defs = {name: a.partitions for name, a in project.assets.items()}
    rows = []
    for e in entries:  # keys as ranges; an unpartitioned asset (or one since removed) by name
        req = "; ".join(f"{a}: {', '.join(docs.ranges(defs[a], ks))}" if ks and defs.get(a)
                        else a for a, ks in e["requested"].items())
        rows.append([e["backfill_id"], docs.shown(e["created_at"], tz), _esc(e["selection"]),
                     _esc(req), styled(e["status"]),
                     f"{e['progress']['done']}/{e['progress']['requested']}",
                     ", ".join(f"{r['run_id']} ({r['status']})" for r in e["runs"])])
    tables.show(out, tables.fit("Backfills", BACKFILL_COLUMNS, rows, out.width), "duck backfills")
    for e in entries:  # a backfill shared by several runners: who built what
        for runner, built in sorted(e.get("runners", {}).items()):
            done = "; ".join(f"{a}: {', '.join(docs.ranges(defs.get(a), ks))}"
                             for a, ks in built.items())
            out.print(f"{e['backfill_id']}: {_esc(runner)} built {_esc(done)}")
    for e in entries:
        if e["status"] in ("canceled", "partial"):
            out.print(f"{e['backfill_id']} is {e['status']}: `duck backfill --resume "
                      f"{e['backfill_id']}` finishes it.")
