"""Rendering: rich tables for people, one JSON document for machines.

Rich is imported inside functions: `duck --help` and `--json` output do not pay for it. The
reading commands' views (lineage, plans, status, why) are in `render_read`, which a run does not
load.
"""

from __future__ import annotations

import json

from duck_cli.health.state import State
from duck_cli.report import documents as docs
from duck_cli.report import error_document
from duck_cli.report import plain
from duck_cli.report import runs as runs_view
from duck_cli.report.progress import Progress
from duck_cli.report.style import Screen, _esc, styled
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


def warning(screen: Screen, text: str) -> None:
    """One warning line on stderr (stdout stays clean for --json)."""
    screen.err.print(f"[yellow]warning:[/] {_esc(text)}")


def waiting(screen: Screen, info) -> None:
    """Say who holds the lock we are waiting for."""
    screen.err.print(f"waiting for the project lock held by {_esc(describe(info))} ...")


# -- validate --------------------------------------------------------------------------------


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


# -- runs ------------------------------------------------------------------------------------


def progress(screen: Screen, p, enabled: bool):
    """Progress for a run: a bar on a terminal, one line per step on stderr otherwise."""
    bar = enabled and screen.terminal
    return Progress(p, enabled=bar, plain=not bar, stream=screen.stderr,
                    console=screen.out if bar else None)


def run_result(screen: Screen, result, p, state, as_json: bool) -> None:
    """The summary of a run."""
    d = docs.result_doc(result, p, state)
    if as_json:
        emit_json(screen, d)
        return
    if not result.results and not any(h["status"] != State.FRESH for h in d["held"]):
        # the plain sentence needs no table: rich is not even imported (a no-op's fixed cost)
        screen.stdout.write(runs_view.nothing(d["held"]) + "\n")
        return
    if not screen.terminal and screen.color is None:  # a file or a pipe: rich only if needed
        text = plain.run_result(d, result, screen.width)
        if text is not None:
            screen.stdout.write(text)
            return
    runs_view.print_result(screen.out, d, p, result)


def runs(screen: Screen, rows, as_json: bool, asset: str | None = None,
         source: bool = False) -> None:
    """Run history (of the runs that built ``asset``, when given; ``source``: it is one)."""
    if as_json:
        emit_json(screen, docs.doc("runs", runs=[docs.run_entry(r) for r in rows]))
        return
    runs_view.print_runs(screen.out, rows, screen.tz, asset, source)


def run_detail(screen: Screen, run, steps, checks, as_json: bool,
               snapshots: dict | None = None) -> None:
    """One run with its steps and checks (in lake mode, the lake snapshot of each publish)."""
    step_docs = [docs.step_entry(s, (snapshots or {}).get(s.step)) for s in steps]
    if as_json:
        emit_json(screen, docs.doc("run_detail", run=docs.run_entry(run), steps=step_docs,
                           checks=[{**docs.check_entry(c), "asset": c.asset,
                                    "partition": c.partition} for c in checks]))
        return
    runs_view.print_detail(screen.out, run, step_docs, checks, screen.tz)


# -- checks ----------------------------------------------------------------------------------


def check_results(screen: Screen, results, as_json: bool) -> None:
    """Results of `duck check`."""
    entries = [{"asset": a, "partition": k or None, **docs.check_entry(r)} for a, k, r in results]
    if as_json:
        emit_json(screen, docs.doc("check", passed=not any(r.blocking for _a, _k, r in results),
                           results=entries))
        return
    runs_view.print_checks(screen.out, entries)


def backfills(screen: Screen, rows, project, as_json: bool, built: dict | None = None,
              runners: dict | None = None) -> None:
    """Recorded backfills, with their progress (partitions built of those requested) and, for
    one shared by several runners, which runner built which partitions."""
    entries = [docs.backfill_entry(r) for r in rows]
    for e in entries:
        e["progress"] = runs_view.progress_of(e["requested"],
                                              (built or {}).get(e["backfill_id"], set()))
        if (runners or {}).get(e["backfill_id"]):
            e["runners"] = runners[e["backfill_id"]]
    if as_json:
        emit_json(screen, docs.doc("backfills", backfills=entries))
        return
    runs_view.print_backfills(screen.out, entries, project, screen.tz)


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


def pruned(screen: Screen, counts: dict, as_json: bool, dry_run: bool = False,
           lake: dict | None = None, envs: tuple[list, int] = ([], 14)) -> None:
    """What `duck prune` deleted (or, with --dry-run, would delete); in lake mode, what the
    lake's housekeeping did; the environments older than the retention it dropped."""
    if as_json:
        emit_json(screen, docs.doc("prune", deleted=counts, dry_run=dry_run,
                                   environments_dropped=envs[0], env_retention_days=envs[1],
                                   **({"lake": lake} if lake else {})))
        return
    verb = "would delete (dry run, nothing deleted): " if dry_run else "deleted "
    if counts:
        screen.out.print(verb + ", ".join(f"{n} {t}" for t, n in counts.items()))
    verb = "would drop" if dry_run else "dropped"
    screen.out.print(f"{verb} {len(envs[0])} environment(s) older than {envs[1]} day(s)"
                     + (f": {', '.join(envs[0])}" if envs[0] else ""), markup=False)
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
