"""The README's tour is a golden test: its outputs are what the commands print today.

The tour is the region of README.md between ``<!-- tour:start -->`` and ``<!-- tour:end -->``.
Each ```` ```console ```` block in it holds commands (lines starting with ``$ ``), each followed by
what it prints on stdout. The test runs every command, in order, in one bash session started in
the repository root (so ``cd`` and ``export`` carry over), with the installed ``duck`` first on
PATH, ``COLUMNS=100``, ``NO_COLOR=1`` and ``TMPDIR`` in a fresh temporary folder, and asserts
that each command exits 0 and prints exactly what the README shows. Trailing spaces and the
run table's Seconds column (a duration, different on every run) are not compared.

When a command's output changes on purpose, rewrite the tour's outputs (and nothing else in
README.md) with::

    DUCK_UPDATE_GOLDEN=1 python -m pytest tests/behaviour/test_readme_tour.py

and read the diff: the story assertions below still have to hold.
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import ROOT

README = ROOT / "README.md"
START, END = "<!-- tour:start -->", "<!-- tour:end -->"
BLOCK = re.compile(r"```console\n(.*?)```", flags=re.S)
SECONDS = re.compile(r"│ +\d+\.\d\d +(?=│)")  # a cell of the run table's Seconds column
UPDATE = "DUCK_UPDATE_GOLDEN=1 python -m pytest tests/behaviour/test_readme_tour.py"


@dataclass(frozen=True)
class Shown:
    """One command of the tour and the output the README shows for it."""

    command: str
    output: str


def _region(text: str) -> tuple[int, int]:
    start, end = text.find(START), text.find(END)
    assert 0 <= start < end, f"README.md has no {START} ... {END} region"
    return start + len(START), end


def parse(block: str) -> list[Shown]:
    """The commands of one console block, each with the lines shown after it.

    >>> parse("$ echo hi\\nhi\\n$ true\\n")
    [Shown(command='echo hi', output='hi\\n'), Shown(command='true', output='')]
    """
    shown, lines = [], block.splitlines(keepends=True)
    for line in lines:
        if line.startswith("$ "):
            shown.append(Shown(line[2:].rstrip("\n"), ""))
        else:
            assert shown, f"a tour block starts with output, not a command: {line!r}"
            shown[-1] = Shown(shown[-1].command, shown[-1].output + line)
    return shown


def tour_blocks(text: str) -> list[list[Shown]]:
    """Every console block of the README's tour, parsed."""
    start, end = _region(text)
    return [parse(m[1]) for m in BLOCK.finditer(text, start, end)]


def normal(output: str) -> str:
    """Output as compared: no trailing spaces or blank lines, durations blanked."""
    lines = [SECONDS.sub("│ <seconds> ", line.rstrip()) for line in output.splitlines()]
    return "\n".join(lines).rstrip("\n")


def run_tour(commands: list[str], workdir: Path) -> list[tuple[int, str, str]]:
    """(exit code, stdout, stderr) of each command, run in order in one bash session (-1 for
    the commands after a failure, which are not run)."""
    script, w = ["cd " + shlex.quote(str(ROOT))], shlex.quote(str(workdir))
    for i, command in enumerate(commands):
        # The braces keep `cd` and `export` in this shell; the newline ends a trailing comment.
        # The tour stops at the first failure: later commands could run in the wrong folder.
        script.append(f"{{ {command}\n}} > {w}/out{i} 2> {w}/err{i}; "
                      f"rc=$?; echo $rc > {w}/rc{i}; [ $rc = 0 ] || exit 0")
    tmp = workdir / "tmp"
    tmp.mkdir()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "COLUMNS": "100", "NO_COLOR": "1", "TMPDIR": str(tmp)}
    for var in ("DUCK_PROJECT", "DUCK_NOW", "GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY"):
        env.pop(var, None)
    subprocess.run(["bash", "-c", "\n".join(script)], env=env, timeout=600, check=True)
    return [_outcome(workdir, i) for i in range(len(commands))]


def _outcome(workdir: Path, i: int) -> tuple[int, str, str]:
    if not (workdir / f"rc{i}").exists():
        return -1, "", "(not run: an earlier command failed)"
    return (int((workdir / f"rc{i}").read_text()), (workdir / f"out{i}").read_text(),
            (workdir / f"err{i}").read_text())


def rewrite(text: str, outputs: list[str]) -> str:
    """README text with the tour's outputs replaced by ``outputs``, in order; nothing else."""
    start, end = _region(text)
    queue = iter(outputs)

    def block(match: re.Match) -> str:
        body = "".join(f"$ {s.command}\n" + "".join(
            line.rstrip() + "\n" for line in next(queue).splitlines()) for s in parse(match[1]))
        return f"```console\n{body}```"

    return text[:start] + BLOCK.sub(block, text[start:end]) + text[end:]


@pytest.fixture(scope="module")
def tour(tmp_path_factory):
    """The tour as the README shows it, and what its commands print today."""
    shown = [s for block in tour_blocks(README.read_text()) for s in block]
    return shown, run_tour([s.command for s in shown], tmp_path_factory.mktemp("tour"))


def test_every_tour_command_succeeds(tour):
    shown, results = tour
    for s, (code, out, err) in zip(shown, results):
        assert code == 0, f"`{s.command}` exited {code}:\n{out}{err}"


def test_the_readme_shows_what_the_tour_commands_print(tour):
    shown, results = tour
    if os.environ.get("DUCK_UPDATE_GOLDEN"):
        assert all(code == 0 for code, _o, _e in results), "a tour command failed: not rewritten"
        README.write_text(rewrite(README.read_text(), [out for _c, out, _e in results]))
        return
    diffs = []
    for s, (_code, out, _err) in zip(shown, results):
        if normal(s.output) != normal(out):
            diffs.append(f"$ {s.command}\n" + "\n".join(difflib.unified_diff(
                normal(s.output).splitlines(), normal(out).splitlines(), "README.md",
                "printed", lineterm="")))
    assert not diffs, ("README.md's tour is out of date (rewrite it with `" + UPDATE + "`):\n"
                       + "\n".join(diffs))


def _output_of(tour, prefix: str) -> str:
    shown, results = tour
    found = [out for s, (_c, out, _e) in zip(shown, results) if s.command.startswith(prefix)]
    assert found, f"the tour runs no `{prefix}`"
    return found[0]


def test_the_tour_tells_the_late_file_story(tour):
    """Whatever the tables look like, the story holds: the late day is held back, status shows
    it missing and the product stale, why names the source partition, reconcile plans its
    repair and the run after it leaves everything fresh."""
    built = _output_of(tour, "duck materialize")
    assert re.search(r"raw_trips +│ 2026-03-12 │ unfixable", built)
    status = _output_of(tour, "duck status")
    assert re.search(r"revenue_dashboard │ \S+ +│ stale", status)
    assert "missing" in status
    why = _output_of(tour, "duck why revenue_dashboard")
    assert "raw_trips 2026-03-12: source partition 2026-03-12 has not arrived" in why
    plan = _output_of(tour, "duck reconcile")
    assert re.search(r"│1 +│ stg_trips +│ 2026-03-12 │", plan)
    assert "2026-03-11" not in plan  # only the late day is rebuilt
    applied = _output_of(tour, "duck reconcile --apply")
    assert "0 failed" in applied
    assert _output_of(tour, "duck status --fail-on").strip().endswith("exit 0")


def test_rewrite_changes_only_the_tour_outputs():
    text = ("# t\n```console\n$ duck x\nold\n```\n" + START + "\nprose\n```console\n"
            "$ duck a\nold a\n$ duck b\n```\n" + END + "\n```console\n$ duck y\nold\n```\n")
    assert rewrite(text, ["new a  \n", "b1\nb2\n"]) == text.replace(
        "$ duck a\nold a\n$ duck b\n", "$ duck a\nnew a\n$ duck b\nb1\nb2\n")


def test_the_tour_tells_the_pull_request_story(tour):
    """A one-file change previewed in an environment: only it and its downstream are planned,
    upstream is read from production, the diff shows changed rows only, promote runs nothing."""
    plan = _output_of(tour, "duck plan --env pr")
    assert "environment pr: changed zone_metrics" in plan
    assert "read from production (3): raw_trips, zones, stg_trips" in plan
    assert "stg_trips" not in plan.split("Held back")[0]  # no step of an unchanged asset
    assert "0 failed" in _output_of(tour, "duck materialize --env pr")
    diff = _output_of(tour, "duck diff zone_metrics --env pr")
    assert re.search(r"zone_metrics: 0 added, 0 removed, \d+ changed row", diff)
    promoted = _output_of(tour, "duck promote --env pr")
    assert "promoted from pr (run pr/r00001)" in promoted
    assert "no step ran, no check ran again" in promoted
