"""Rendering: rich tables for people, one JSON document for machines.

Rich is imported inside functions: `duck --help` and `--json` output do not pay for it.
"""

from __future__ import annotations

import json

from duck_cli.errors import UsageError
from duck_cli.health.state import State
from duck_cli.report import ci as rep
from duck_cli.report import documents as docs
from duck_cli.report import error_document
from duck_cli.report import lineage
from duck_cli.report import status as status_view
from duck_cli.report.progress import Progress
from duck_cli.report.style import Screen, _esc, _table, styled
from duck_cli.state.lock import describe


def emit_json(screen: Screen, document: dict) -> None:
    """Print one JSON document on stdout and nothing else."""
    # one line: the C encoder (indent switches to the pure-Python one, 10x slower at scale)
    screen.stdout.write(json.dumps(document, default=str) + "\n")

# -- errors and waiting ----------------------------------------------------------------------


def error(screen: Screen, err) -> None:
    """One paragraph per problem on stderr: where, what, how to fix."""
    out = screen.err
    problems = err.problems()
    for p in problems:
        line = p.render()
        if err.partition and err.partition not in line:
            line = f"partition {err.partition}: {line}"
        out.print(f"[bold red]error:[/] {_esc(line)}")
    if len(problems) > 1:
        out.print(f"{len(problems)} problems found.")


def waiting(screen: Screen, info) -> None:
    """Say who holds the lock we are waiting for."""
    screen.err.print(f"waiting for the project lock held by {_esc(describe(info))} ...")


# -- validate and graph -------------------------------------------------------------------------


def validate_doc(project, problems, err=None) -> dict:
    """The `validate --json` document (with the error object when the manifests are invalid)."""
    errors = [p for p in problems if p.severity == "error"]
    extra = {"error": error_document.error_entry(err)} if err is not None else {}
    return docs.doc("validate", valid=project is not None and not errors,
                    assets=len(project.assets) if project else 0,
                    products=len(project.products) if project else 0,
                    problems=[error_document.problem_entry(p) for p in problems], **extra)


def validate_report(screen: Screen, project) -> None:
    """Warnings, then a one-line verdict."""
    out = screen.out
    for w in project.warnings:
        out.print(f"[yellow]warning:[/] {_esc(w.render())}")
    out.print(f"[green]valid:[/] {len(project.assets)} assets, {len(project.products)} products "
              f"in {len(project.manifest_files) or 'the'} manifest file(s)"
              + (f", {len(project.warnings)} warning(s)" if project.warnings else ""))


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


# -- plans and runs --------------------------------------------------------------------------


def plan(screen: Screen, p, state, as_json: bool) -> None:
    """A plan: steps with reasons, then what is held back."""
    d = docs.plan_doc(p, state)
    if as_json:
        emit_json(screen, d)
        return
    out = screen.out
    if not d["steps"]:
        blocked = [h for h in d["held"] if h["status"] != State.FRESH]
        out.print("Nothing to do: everything selected is up to date"
                  + (f" or blocked ({len(blocked)} blocked)." if blocked else "."))
    else:
        title = "plan" if p.command == "plan" else f"{p.command} plan"
        table = _table(f"{title}: {len(d['steps'])} step(s), "
                       f"{d['estimate']['partitions']} partition(s)",
                       "#", "Asset", "Partitions", "Why", "After")
        for s in d["steps"]:
            table.add_row(str(s["index"] + 1), s["asset"], _esc(", ".join(s["partitions"]) or "-"),
                          _esc("; ".join(s["reasons"])), ", ".join(str(n + 1) for n in s["needs"]))
        out.print(table)
    _held_table(out, d["held"])


def _held_table(out, held) -> None:
    rows = [h for h in held if h["status"] != State.FRESH]
    if not rows:
        return
    table = _table("Held back", "Asset", "Partitions", "Status", "Why")
    for h in rows:
        b = h["blocker"]
        why = h["message"] + (f": {b['message']}" if b and b.get("message") else "")
        table.add_row(h["asset"], _esc(", ".join(h["partitions"]) or "-"), styled(h["status"]),
                      _esc(why))
    out.print(table)


def progress(screen: Screen, p, enabled: bool):
    """Progress for a run: a bar on a terminal, one line per step on stderr otherwise."""
    bar = enabled and screen.terminal
    return Progress(p, enabled=bar, plain=not bar, stream=screen.stderr,
                    console=screen.out if bar else None)


FOLD_STEPS = 50  # above this many steps, a run's table lists only steps that need attention


def run_result(screen: Screen, result, p, state, as_json: bool) -> None:
    """The summary of a run."""
    d = docs.result_doc(result, p, state)
    if as_json:
        emit_json(screen, d)
        return
    out = screen.out
    if not result.results:
        out.print("Nothing to do: everything selected is up to date.")
        _held_table(out, d["held"])
        return
    table = _table(f"run {result.run_id}: {result.status}", "Asset", "Partitions", "Status",
                   "Rows", "Seconds", "Detail")
    steps = d["steps"]
    if len(steps) > FOLD_STEPS:  # a long run: list what needs attention, count the rest
        steps = [s for s in steps if s["status"] != "success"
                 or any(not c["passed"] for c in s["checks"])]
    for s in steps:
        detail = s["error"] or _check_note(s["checks"])
        table.add_row(s["asset"], _esc(", ".join(s["partitions"]) or "-"), styled(s["status"]),
                      "" if s["rows"] is None else f"{s['rows']:,}", f"{s['seconds']:.2f}",
                      _esc(detail))
    if steps:
        out.print(table)
    if len(steps) < len(d["steps"]):
        out.print(f"{len(d['steps']) - len(steps)} more step(s) succeeded with every check "
                  f"passing; `duck runs show {result.run_id}` lists every step.")
    c = d["summary"]
    out.print(f"{c['success']} succeeded, {c['failed']} failed, {c['skipped']} skipped "
              f"({d['partitions']} partition(s) published).")
    _held_table(out, d["held"])


def _check_note(checks) -> str:
    warned = [f"{c['name']}: {c['message']}" for c in checks if not c["passed"]]
    return ("warn: " + "; ".join(warned)) if warned else (f"{len(checks)} check(s) passed"
                                                          if checks else "")


def reports(result, project, junit, github) -> None:
    """JUnit XML and GitHub annotations for a run, when asked."""
    rep.for_run(result, project, junit, github)


def check_reports(results, project, junit, github) -> None:
    """JUnit XML and GitHub annotations for `duck check`, when asked."""
    rep.for_checks(results, project, junit, github)


def runs(screen: Screen, rows, as_json: bool) -> None:
    """Run history."""
    if as_json:
        emit_json(screen, docs.doc("runs", runs=[docs.run_entry(r) for r in rows]))
        return
    table = _table("Runs", "Run", "Command", "Status", "Started", "Ended", "Backfill")
    for r in rows:
        table.add_row(r.run_id, r.command, styled(r.status), docs.ts(r.started_at),
                      docs.ts(r.ended_at) or "", r.backfill_id or "")
    screen.out.print(table if rows else "No runs yet.")


def run_detail(screen: Screen, run, steps, checks, as_json: bool,
               snapshots: dict | None = None) -> None:
    """One run with its steps and checks (in lake mode, the lake snapshot of each publish)."""
    step_docs = [docs.step_entry(s, (snapshots or {}).get(s.step)) for s in steps]
    if as_json:
        emit_json(screen, docs.doc("run_detail", run=docs.run_entry(run), steps=step_docs,
                           checks=[{**docs.check_entry(c), "asset": c.asset,
                                    "partition": c.partition} for c in checks]))
        return
    out = screen.out
    out.print(f"run {run.run_id} ({run.command}): {styled(run.status)}, started "
              f"{docs.ts(run.started_at)}" + (f", error: {_esc(run.error)}" if run.error else ""))
    table = _table("Steps", "#", "Asset", "Partitions", "Status", "Rows", "Detail")
    for s in step_docs:
        parts = s["partitions"] or []
        shown = ", ".join(parts[:3]) + (f" (+{len(parts) - 3})" if len(parts) > 3 else "")
        table.add_row(str(s["step"] + 1), s["asset"], _esc(shown or "-"), styled(s["status"]),
                      "" if s["rows"] is None else f"{s['rows']:,}",
                      _esc(s["error"] or (f"lake snapshot {s['snapshot']}" if "snapshot" in s
                                          else "")))
    out.print(table)
    if checks:
        ct = _table("Checks", "Asset", "Partition", "Check", "Severity", "Result", "Message")
        for c in checks:
            ct.add_row(c.asset, c.partition or "-", c.name, c.severity,
                       styled("success" if c.passed else "failed"), _esc(c.message))
        out.print(ct)


# -- status, why, checks -----------------------------------------------------------------------


def status(screen: Screen, report, with_partitions: bool, as_json: bool,
           show_all: bool = False) -> None:
    """The status table (or document) of a `health.status.StatusReport`."""
    if as_json:
        emit_json(screen, docs.status_doc(report, with_partitions))
        return
    status_view.print_status(screen.out, report, with_partitions, show_all)


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


def check_results(screen: Screen, results, as_json: bool) -> None:
    """Results of `duck check`."""
    entries = [{"asset": a, "partition": k or None, **docs.check_entry(r)} for a, k, r in results]
    if as_json:
        emit_json(screen, docs.doc("check", passed=not any(r.blocking for _a, _k, r in results),
                           results=entries))
        return
    table = _table("Checks", "Asset", "Partition", "Check", "Severity", "Result", "Observed",
                   "Message")
    for e in entries:
        table.add_row(e["asset"], e["partition"] or "-", e["name"], e["severity"],
                      styled("success" if e["passed"] else ("failed" if e["severity"] == "error"
                                                             else "warn")),
                      _esc(e["observed"] or ""), _esc(e["message"]))
    screen.out.print(table if entries else "No checks defined on the selection.")


def backfills(screen: Screen, rows, project, as_json: bool) -> None:
    """Recorded backfills."""
    entries = [docs.backfill_entry(r) for r in rows]
    if as_json:
        emit_json(screen, docs.doc("backfills", backfills=entries))
        return
    table = _table("Backfills", "Backfill", "Created", "Selection", "Requested", "Status", "Runs")
    defs = {name: a.partitions for name, a in project.assets.items()}
    for e in entries:  # keys as ranges; an unpartitioned asset (or one since removed) by name
        req = "; ".join(f"{a}: {', '.join(docs.ranges(defs[a], ks))}" if ks and defs.get(a)
                        else a for a, ks in e["requested"].items())
        table.add_row(e["backfill_id"], e["created_at"], _esc(e["selection"]), _esc(req),
                      styled(e["status"]), ", ".join(f"{r['run_id']} ({r['status']})"
                                                     for r in e["runs"]))
    screen.out.print(table if entries else "No backfills yet.")


def init_done(screen: Screen, directory, written, as_json: bool) -> None:
    """What `duck init` wrote."""
    if as_json:
        emit_json(screen, docs.doc("init", directory=str(directory),
                                   files=[str(w) for w in written]))
        return
    out = screen.out
    for w in written:
        out.print(f"created {_esc(w)}")
    out.print(f"Next: duck materialize -p {_esc(directory)}")


def report_written(screen: Screen, d: dict) -> None:
    """Where `duck report --html` wrote the site, and what it holds."""
    c = d["counts"]
    screen.out.print(f"Wrote {c['pages']:,} pages ({c['asset_pages']:,} assets, "
                      f"{c['run_pages']:,} runs) to {_esc(d['directory'])}; open "
                      f"{_esc(d['index'])}")


def pruned(screen: Screen, counts: dict, as_json: bool, lake: dict | None = None) -> None:
    """What `duck prune` deleted (and, in lake mode, what the lake's housekeeping did)."""
    if as_json:
        emit_json(screen, docs.doc("prune", deleted=counts, **({"lake": lake} if lake else {})))
        return
    screen.out.print("deleted " + ", ".join(f"{n} {t}" for t, n in counts.items()))
    if lake:
        screen.out.print("lake: " + ", ".join(f"{n} {t.replace('_', ' ')}"
                                             for t, n in lake.items()))


def storage_line(s) -> str:
    """'storage: local (catalog …, warehouse …)' or the shared mode's backends."""
    if s.state == "postgres":
        version = f"schema {s.schema_version}" if s.schema_version else "no schema yet"
        state = f"state in {s.state_at}, {version}, server {s.server}"
    else:
        state = f"state in {s.state_at}"
    where = "DuckLake at " if s.warehouse == "ducklake" else ""
    return f"storage: {s.mode} mode; {state}; warehouse {where}{s.warehouse_at}"


def doctor(screen: Screen, report, as_json: bool) -> None:
    """The consistency report (a run.doctor.DoctorReport)."""
    if as_json:
        emit_json(screen, docs.doctor_doc(report))
        return
    out = screen.out
    if report.storage is not None:
        out.print(_esc(storage_line(report.storage)))
    for item in report.findings:
        level = "[green]ok[/]" if item.level == "ok" else styled(item.level)
        out.print(f"{level} {_esc(item.message)}")
    out.print("[green]consistent[/]" if report.ok else "[red]problems found[/]")
