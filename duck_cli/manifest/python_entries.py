"""The manifest entries whose body is Python: ``materialize: {python: ...}``, kind ``file``,
``python`` checks and ``observe`` sources (the rules ``EntryBuilder`` applies to them)."""

from __future__ import annotations

from typing import Any

from duck_cli.manifest.python_refs import resolve
from duck_cli.models import Materialize, PartitionsDef, PythonRef

FILES = "files"  # the strategy of a kind file asset: its partitions are folders, not slices


def python_ref(builder, text: str, spot) -> PythonRef | None:
    """The function ``text`` names (relative to the manifest's folder), or None after an error."""
    ref, problem, files = resolve(builder.root, (builder.root / spot.file).parent, text)
    if problem is not None:
        builder.error(spot, problem.message, problem.hint)
        return None
    builder.out.sql_files.update(files)  # the validation cache re-validates when they change
    return ref


def materialize(builder, raw: dict[str, Any], spot, parts: PartitionsDef | None) -> Materialize | None:
    """A Python asset's build: the function, a strategy (files for kind file) and a timeout."""
    body, where = raw["materialize"], spot.at("materialize")
    ref = python_ref(builder, body["python"], where.at("python"))
    timeout = builder._duration(body["timeout"], where.at("timeout")) if "timeout" in body else None
    isolation = body.get("isolation", "thread")
    if raw.get("kind") == "file":
        if "strategy" in body:
            builder.error(where.at("strategy"), "a file asset has no strategy: each partition is "
                          "a folder of files, replaced whole", "Remove 'strategy'.")
        return Materialize(FILES, "", python=ref, timeout=timeout, isolation=isolation) if ref else None
    strategy = body.get("strategy", "incremental" if parts else "table")
    if strategy == "view":
        builder.error(where.at("strategy"), "a Python asset is stored as a table, not a view",
                      "Use strategy: table (or incremental when partitioned), or remove 'strategy'.")
    builder._strategy_rules(strategy, parts, spot, where.at("strategy") if "strategy" in body else where)
    return Materialize(strategy, "", python=ref, timeout=timeout, isolation=isolation) if ref else None


def kind_rules(builder, raw: dict[str, Any], spot) -> None:
    """kind file is written by a Python function; timeout only bounds Python."""
    body = raw.get("materialize") or {}
    if raw.get("kind") == "file" and "python" not in body:
        builder.error(spot.at("kind"), "kind file is written by a Python function",
                      "Add materialize: {python: FILE.py:FUNCTION}; the function writes files "
                      "into context.output_dir.")
    if "timeout" in body and "python" not in body:
        builder.error(spot.at("materialize", "timeout"), "timeout applies to a Python function",
                      "Remove it: a SQL statement runs to completion (or Ctrl-C).")
    if "isolation" in body and "python" not in body:
        builder.error(spot.at("materialize", "isolation"), "isolation applies to a Python "
                      "function", "Remove it: SQL runs in DuckDB, which uses every core itself.")
