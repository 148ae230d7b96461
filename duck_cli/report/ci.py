"""Reports for CI: JUnit XML (each step and each check a test case) and GitHub Actions
workflow annotations pointing at the manifest file and line, plus a Markdown step summary."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO
from xml.etree import ElementTree as ET


@dataclass(frozen=True)
class GitHub:
    """GitHub Actions reporting: workflow commands on ``stream``, the step summary file if set.

    The CLI makes one when asked (--github) or when running in Actions (GITHUB_ACTIONS).
    """

    stream: TextIO
    summary: Path | None = None


def for_run(result, project, junit: Path | None, github: GitHub | None) -> None:
    """Reports for a materialize/backfill/reconcile run."""
    cases = list(_run_cases(result))
    if junit:
        write_junit(junit, f"duck {result.run_id or 'run'}", cases)
    if github is not None:
        annotate(github, project, cases)
        summary(github, f"duck run {result.run_id or '(nothing to do)'}: {result.status}", cases)


def for_checks(results, project, junit: Path | None, github: GitHub | None) -> None:
    """Reports for `duck check`."""
    cases = [_check_case(a, k, r) for a, k, r in results]
    if junit:
        write_junit(junit, "duck check", cases)
    if github is not None:
        annotate(github, project, cases)
        summary(github, "duck check", cases)


def _run_cases(result):
    for r in result.results:
        keys = " ".join(r.keys)
        name = f"materialize {r.asset} {keys}".strip()
        status = {"success": "passed", "failed": "failed", "skipped": "skipped"}[r.status]
        yield {"classname": r.asset, "name": name, "time": r.seconds, "status": status,
               "message": r.error or "", "detail": "", "asset": r.asset, "severity": "error"}
        for c in r.checks:
            yield _check_case(r.asset, keys, c)


def _check_case(asset: str, key: str, c) -> dict:
    status = "passed" if c.passed else ("failed" if c.severity == "error" else "warning")
    sample = "\n".join(json.dumps(row, default=str) for row in list(c.sample)[:5])
    return {"classname": asset, "name": f"check {c.name} {key}".strip(), "time": 0.0,
            "status": status, "message": c.message, "detail": sample, "asset": asset,
            "severity": c.severity}


def write_junit(path: Path, suite_name: str, cases: list[dict]) -> None:
    """Write a JUnit XML file: failures carry the message and the failing-row sample."""
    suite = ET.Element("testsuite", name=suite_name, tests=str(len(cases)),
                       failures=str(sum(c["status"] == "failed" for c in cases)),
                       skipped=str(sum(c["status"] == "skipped" for c in cases)),
                       time=f"{sum(c['time'] for c in cases):.3f}")
    for c in cases:
        case = ET.SubElement(suite, "testcase", classname=c["classname"], name=c["name"],
                             time=f"{c['time']:.3f}")
        if c["status"] == "failed":
            ET.SubElement(case, "failure", message=c["message"]).text = c["detail"] or c["message"]
        elif c["status"] == "skipped":
            ET.SubElement(case, "skipped", message=c["message"])
        elif c["status"] == "warning":
            ET.SubElement(case, "system-out").text = f"warning: {c['message']}"
    root = ET.Element("testsuites")
    root.append(suite)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _escape(text: str, prop: bool = False) -> str:
    """Escape for workflow commands (properties also escape ':' and ',').

    >>> _escape("a%b\\nc"), _escape("x:y,z", prop=True)
    ('a%25b%0Ac', 'x%3Ay%2Cz')
    """
    out = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return out.replace(":", "%3A").replace(",", "%2C") if prop else out


def annotate(github: GitHub, project, cases: list[dict]) -> None:
    """`::error file=...,line=...::message` lines for failures and warnings."""
    for c in cases:
        if c["status"] not in ("failed", "warning"):
            continue
        level = "error" if c["status"] == "failed" else "warning"
        loc = project.assets[c["asset"]].location if c["asset"] in project.assets else None
        where = ""
        if loc is not None:
            path = os.path.relpath(project.root / loc.file)
            where = f"file={_escape(path, True)},line={loc.line},"
        title = _escape(f"duck: {c['name']}", True)
        github.stream.write(f"::{level} {where}title={title}::{_escape(c['message'])}\n")


def summary(github: GitHub, title: str, cases: list[dict]) -> None:
    """Append a Markdown table to the step summary ($GITHUB_STEP_SUMMARY) when there is one."""
    target = github.summary
    if not target:
        return
    icon = {"passed": "✅", "failed": "❌", "skipped": "⏭️", "warning": "⚠️"}
    lines = [f"### {title}", "", "| | Test | Message |", "|---|---|---|"]
    lines += [f"| {icon[c['status']]} | {c['name']} | {c['message'].replace('|', '/')} |"
              for c in cases]
    with open(target, "a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n\n")
