"""Reports for CI: JUnit XML, GitHub Actions annotations at the manifest file and line, and a
Markdown step summary.

Test names are stable across runs so that CI tools can track them: one test per asset
(``materialize stg_trips``) and one per check (``check stg_trips.one_row_per_trip``), whatever
partitions a run touched; the partition keys are properties of the test, not part of its name.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from duck_cli.report import documents as docs

TITLE_RANGES = 3  # an annotation's title names at most this many keys or ranges
_ORDER = {"failed": 0, "warning": 1, "passed": 2, "skipped": 3}


@dataclass
class Case:
    """One test: an asset's materialization or one check, over every partition it covered."""

    classname: str
    name: str
    asset: str
    severity: str = "error"
    time: float = 0.0
    outcomes: dict = field(default_factory=dict)  # key -> passed | failed | warning | skipped
    messages: list = field(default_factory=list)  # (key, status, message) of non-passes
    detail: list = field(default_factory=list)

    @property
    def status(self) -> str:
        """Failed if any partition failed, else warned; skipped only if every one was."""
        seen = set(self.outcomes.values())
        if seen == {"skipped"}:
            return "skipped"
        return min(seen - {"skipped"} or {"passed"}, key=_ORDER.__getitem__)

    def keys(self, *statuses: str) -> list[str]:
        """Partition keys (those with the given outcomes, or all), in the order met."""
        return [k for k, s in self.outcomes.items() if k and (not statuses or s in statuses)]

    def message(self) -> str:
        """The messages of the partitions that did not pass, each once."""
        status = self.status
        return "; ".join(dict.fromkeys(m for _k, s, m in self.messages if s == status and m))


@dataclass(frozen=True)
class GitHub:
    """GitHub Actions reporting: workflow commands on ``stream``, the step summary file if set.

    The CLI makes one when asked (--github) or when running in Actions (GITHUB_ACTIONS).
    """

    stream: TextIO
    summary: Path | None = None


def for_run(result, project, junit: Path | None, github: GitHub | None) -> None:
    """Reports for a materialize/backfill/reconcile run."""
    cases = run_cases(result)
    if junit:
        write_junit(junit, f"duck {result.run_id or 'run'}", cases, project)
    if github is not None:
        annotate(github, project, cases)
        summary(github, f"duck run {result.run_id or '(nothing to do)'}: {result.status}", cases,
                project)


def for_checks(results, project, junit: Path | None, github: GitHub | None) -> None:
    """Reports for `duck check`."""
    cases: dict[tuple, Case] = {}
    for asset, key, r in results:
        _add_check(cases, asset, key or "", r)
    found = list(cases.values())
    if junit:
        write_junit(junit, "duck check", found, project)
    if github is not None:
        annotate(github, project, found)
        summary(github, "duck check", found, project)


def run_cases(result) -> list[Case]:
    """One case per asset materialized and per check, in the order the run met them."""
    cases: dict[tuple, Case] = {}
    for r in result.results:
        case = cases.setdefault(("m", r.asset), Case(r.asset, f"materialize {r.asset}", r.asset))
        status = {"success": "passed", "failed": "failed", "skipped": "skipped"}[r.status]
        case.time += r.seconds
        for key in r.keys or ("",):
            case.outcomes[key] = status
            if status != "passed":
                case.messages.append((key, status, r.error or ""))
        for c in r.checks:
            for key in r.keys or ("",):
                _add_check(cases, r.asset, key, c)
    return list(cases.values())


def _add_check(cases: dict, asset: str, key: str, c) -> None:
    case = cases.setdefault(("c", asset, c.name),
                            Case(asset, f"check {asset}.{c.name}", asset, c.severity))
    status = "passed" if c.passed else ("failed" if c.severity == "error" else "warning")
    if case.outcomes.get(key) not in ("failed", "warning"):
        case.outcomes[key] = status
    if status != "passed":
        case.messages.append((key, status, c.message))
        case.detail += [json.dumps(row, default=str) for row in list(c.sample)[:5]]


def _ranges(project, asset: str, keys: list[str]) -> list[str]:
    defn = project.assets[asset].partitions if asset in project.assets else None
    return docs.ranges(defn, keys) if defn is not None else list(keys)


def _few(project, asset: str, keys: list[str]) -> str:
    """At most a few keys and ranges: '2026-03-01..2026-03-09, 2026-03-12 (+4 more)'."""
    pieces = _ranges(project, asset, keys)
    more = f" (+{len(pieces) - TITLE_RANGES} more)" if len(pieces) > TITLE_RANGES else ""
    return ", ".join(pieces[:TITLE_RANGES]) + more


def write_junit(path: Path, suite_name: str, cases: list[Case], project) -> None:
    """Write a JUnit XML file: failures carry the message and the failing-row sample."""
    from xml.etree import ElementTree as ET  # --junit-xml only: a plain run never loads it

    suite = ET.Element("testsuite", name=suite_name, tests=str(len(cases)),
                       failures=str(sum(c.status == "failed" for c in cases)),
                       skipped=str(sum(c.status == "skipped" for c in cases)),
                       time=f"{sum(c.time for c in cases):.3f}")
    for c in cases:
        case = ET.SubElement(suite, "testcase", classname=c.classname, name=c.name,
                             time=f"{c.time:.3f}")
        _properties(case, c, project)
        if c.status == "failed":
            text = "\n".join(c.detail) or c.message()
            ET.SubElement(case, "failure", message=c.message()).text = text
        elif c.status == "skipped":
            ET.SubElement(case, "skipped", message=c.message())
        elif c.status == "warning":
            ET.SubElement(case, "system-out").text = f"warning: {c.message()}"
    root = ET.Element("testsuites")
    root.append(suite)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _properties(case, c: Case, project) -> None:
    """The partitions as properties: every key covered, and those that did not pass."""
    from xml.etree import ElementTree as ET

    if not c.keys():
        return
    props = ET.SubElement(case, "properties")
    ET.SubElement(props, "property", name="partitions",
                  value=", ".join(_ranges(project, c.asset, c.keys())))
    for status in ("failed", "warning", "skipped"):
        keys = c.keys(status)
        if keys:
            ET.SubElement(props, "property", name=f"{status}_partitions",
                          value=", ".join(_ranges(project, c.asset, keys)))


def _escape(text: str, prop: bool = False) -> str:
    """Escape for workflow commands (properties also escape ':' and ',').

    >>> _escape("a%b\\nc"), _escape("x:y,z", prop=True)
    ('a%25b%0Ac', 'x%3Ay%2Cz')
    """
    out = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return out.replace(":", "%3A").replace(",", "%2C") if prop else out


def title(c: Case, project) -> str:
    """An annotation's title: the test and at most a few of the keys that did not pass."""
    keys = c.keys(c.status)
    return f"duck: {c.name}" + (f" {_few(project, c.asset, keys)}" if keys else "")


def annotate(github: GitHub, project, cases: list[Case]) -> None:
    """`::error file=...,line=...::message` lines for failures and warnings."""
    for c in cases:
        if c.status not in ("failed", "warning"):
            continue
        level = "error" if c.status == "failed" else "warning"
        loc = project.assets[c.asset].location if c.asset in project.assets else None
        where = ""
        if loc is not None:
            path = os.path.relpath(project.root / loc.file)
            where = f"file={_escape(path, True)},line={loc.line},"
        github.stream.write(f"::{level} {where}title={_escape(title(c, project), True)}::"
                         f"{_escape(c.message())}\n")


_ICON = {"passed": "✅", "failed": "❌", "skipped": "⏭️", "warning": "⚠️"}


def summary(github: GitHub, heading: str, cases: list[Case], project) -> None:
    """Append to $GITHUB_STEP_SUMMARY: a table of what did not pass, one line counting passes."""
    lines = [f"### {heading}", ""]
    bad = sorted((c for c in cases if c.status != "passed"), key=lambda c: _ORDER[c.status])
    if bad:
        lines += ["| | Test | Partitions | Message |", "|---|---|---|---|"]
        lines += [f"| {_ICON[c.status]} | {c.name} | {_few(project, c.asset, c.keys(c.status))} "
                  f"| {_cell(c.message())} |" for c in bad]
        lines.append("")
    counts = {s: sum(c.status == s for c in cases) for s in _ORDER}
    lines.append(", ".join(f"{_ICON[s]} {n} {s}" for s, n in counts.items() if n)
                 or "No tests.")
    append_summary(github, lines)


def _cell(text: str) -> str:
    return text.replace("|", "/").replace("\n", " ")


def append_summary(github: GitHub, lines: list[str]) -> None:
    """Append Markdown lines to the step summary ($GITHUB_STEP_SUMMARY) when there is one
    (never overwrite)."""
    target = github.summary
    if not target:
        return
    with open(target, "a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n\n")


def plan_summary(d: dict, github: GitHub | None) -> None:
    """`duck plan --github`: the plan (and what it holds back) as Markdown in the step summary."""
    if github is None:
        return
    est = d["estimate"]
    lines = [f"### duck {d['command']}: {est['steps']} step(s), {est['partitions']} partition(s)",
             ""]
    if d["steps"]:
        lines += ["| # | Asset | Partitions | Why |", "|---|---|---|---|"]
        lines += [f"| {s['index'] + 1} | {s['asset']} | {_cell(', '.join(s['partitions']) or '-')}"
                  f" | {_cell('; '.join(s['reasons']))} |" for s in d["steps"]]
    else:
        lines.append("Nothing to do.")
    held = [h for h in d["held"] if h["status"] != "fresh"]
    if held:
        lines += ["", "Held back:", "", "| Asset | Partitions | Status | Why |", "|---|---|---|---|"]
        lines += [f"| {h['asset']} | {_cell(', '.join(h['partitions']) or '-')} | {h['status']} "
                  f"| {_cell(h['message'])} |" for h in held]
    append_summary(github, lines)
