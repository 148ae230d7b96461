"""`duck report --html DIR`: write the static site from what the CLI read.

The CLI reads (one State, the recent runs and check results from the catalog); this module only
renders and writes files. A folder it wrote carries a marker file, so rewriting a report may
clear its old pages while a folder holding anything else is never touched.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from duck_cli.errors import UsageError
from duck_cli.health.blockers import find_blockers
from duck_cli.health.status import status_report
from duck_cli.records import RunRow, StepRecord
from duck_cli.report import documents as docs
from duck_cli.report.html import pages
from duck_cli.report.html.asset import asset_page
from duck_cli.report.html.templates import CSS

MARKER = ".duck-report"


@dataclass(frozen=True)
class SiteData:
    """Everything the report shows, read once by the CLI."""

    state: object  # health.assess.Assessment
    runs: tuple[RunRow, ...]  # newest first
    run_steps: Mapping[str, list[StepRecord]]  # run id -> its steps in order
    asset_steps: Mapping[str, list[tuple[StepRecord, str | None]]]  # asset -> (step, command)
    checks: Mapping[tuple[str, str], dict]  # (asset, check) -> latest results (state.history)
    title: str
    stamp: str  # "generated at ..." in every page's header
    states: dict = field(default_factory=dict)  # asset -> state, filled in on creation
    sources: set = field(default_factory=set)
    run_ids: set = field(default_factory=set)
    position: dict = field(default_factory=dict)  # asset -> its index in topological order
    blockers: dict = field(default_factory=dict)  # "all": health.blockers, computed once

    def __post_init__(self) -> None:
        health = self.state.health.assets
        self.states.update((n, ah.state) for n, ah in health.items())
        self.sources.update(n for n, ah in health.items() if ah.asset.is_source)
        self.run_ids.update(r.run_id for r in self.runs)
        self.position.update((n, i) for i, n in enumerate(self.state.graph.order))
        self.blockers["all"] = find_blockers(self.state.project, self.state.health)


def write_site(out: Path, site: SiteData) -> dict:
    """Write every page under ``out`` and return the `report --json` document."""
    prepare(out)
    names = list(site.state.graph.order)
    status = docs.status_doc(status_report(site.state, names, site.blockers["all"]), False)
    written = [_write(out, "style.css", CSS), _write(out, "index.html",
                                                     pages.index_page(site, status)),
               _write(out, "graph.html", pages.graph_page(site)),
               _write(out, "runs.html", pages.runs_page(site))]
    for name in names:
        _write(out, f"assets/{name}.html", asset_page(site, name))
    for run in site.runs:
        _write(out, f"runs/{run.run_id}.html", pages.run_page(site, run))
    return docs.doc("report", directory=str(out), index=str(out / "index.html"),
                    pages=written[1:] + ["assets/", "runs/"],
                    counts={"pages": len(written) - 1 + len(names) + len(site.runs),
                            "asset_pages": len(names), "run_pages": len(site.runs),
                            **status["summary"], "products": len(status["products"])})


def prepare(out: Path) -> None:
    """An empty folder, or one an earlier report wrote (its pages are cleared)."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} is a file, not a folder",
                         hint="Give --html a folder to write the report into.")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise UsageError(f"{out} is not empty and holds no earlier duck report",
                         hint="Give --html a new or empty folder (duck clears only its own "
                              "reports).")
    for sub in ("assets", "runs"):
        shutil.rmtree(out / sub, ignore_errors=True)
    (out / "assets").mkdir(parents=True, exist_ok=True)
    (out / "runs").mkdir(exist_ok=True)
    _write(out, MARKER, "A report written by `duck report --html`; rewritten on every run.\n")


def _write(out: Path, rel: str, text: str) -> str:
    path = out / rel
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return rel

