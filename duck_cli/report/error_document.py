"""The `--json` error document: what a failed command prints on stdout, shaped by
schemas/error.schema.json, so that a pipeline reading stdout always gets one JSON answer."""

from __future__ import annotations

from duck_cli.errors import DuckError, Problem
from duck_cli.report.documents import doc


def problem_entry(p: Problem) -> dict:
    """One problem as JSON: where, what, how to fix, and the paragraph people read.

    >>> problem_entry(Problem("no such asset", "a.yaml", 3))["text"]
    'a.yaml:3: no such asset.'
    """
    return {"severity": p.severity, "file": p.file, "line": p.line, "asset": p.asset,
            "message": p.message, "hint": p.hint, "text": p.render()}


def error_entry(err: DuckError) -> dict:
    """The ``error`` object: a stable code, the first problem's fields, every problem if several.

    >>> from duck_cli.errors import UsageError
    >>> error_entry(UsageError("no asset 'x'", hint="Did you mean 'y'?"))["code"]
    'usage'
    """
    problems = err.problems()
    first = problems[0] if problems else Problem(err.message)
    entry = {"code": err.code, "message": first.message, "file": first.file,
             "line": first.line, "asset": first.asset, "partition": err.partition,
             "hint": first.hint, "exit_code": int(err.exit_code)}
    if len(problems) > 1:
        entry["problems"] = [problem_entry(p) for p in problems]
    return entry


def error_doc(err: DuckError) -> dict:
    """The document a command prints on stdout with --json when it fails with ``err``."""
    return doc("error", error=error_entry(err))
