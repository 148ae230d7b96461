"""Reading a step's CSV files with the options DuckDB sniffed from each once, not each time.

Reading a small CSV file is mostly sniffing it: DuckDB detects the dialect and the column types
of every file it reads (measured at 2,739 rows a file: 15 of the 18 ms a file costs), again for
each asset that reads it and each command that does. `sniff_csv` gives what it finds as
read_csv options; they are cached by the file's content version beside the headers, and when
every file of a step has the same options (dialect, header, columns and types) the step reads
them with those options and ``auto_detect = false``: the same rows and types DuckDB gives the
list when it sniffs each file itself, without sniffing. Files that differ are read as before
(sniffed together, their types unified), and a step whose read fails anyway is built again
reading as before (`Builder.run`), so a bad file fails as it always did.
"""

from __future__ import annotations

from pathlib import Path

from duck_cli.models import Asset
from duck_cli.state import sources

def select(con, asset: Asset, files: list[tuple[str, str | None]], cache: dict) -> str | None:
    """The SELECT reading ``files`` (each with its content version) with their common sniffed
    options, or None when they have none (options or columns of the source's own, files
    sniffed differently, a file DuckDB cannot sniff)."""
    src = asset.source
    if src.format != "csv" or src.options or src.columns or not files:
        return None
    found = {_sniff(con, f, version, cache) for f, version in files}
    if len(found) != 1 or None in found:
        return None
    listed = ", ".join(sources.literal(f) for f, _v in files)
    return f"SELECT * FROM read_csv([{listed}]{found.pop()})"


def _sniff(con, file: str, version: str | None, cache: dict) -> str | None:
    """The read_csv options DuckDB sniffs in one file, cached by its content version."""
    key = ("sniff", version, Path(file).name)
    if version is not None and key in cache:
        return cache[key]
    found = _sniffed(con, file)
    if version is not None:
        cache[key] = found
    return found


def _sniffed(con, file: str) -> str | None:
    """The options of `sniff_csv`'s prompt for ``file`` (``auto_detect=false``, the dialect,
    ``header`` and the columns' types), None when it cannot sniff it."""
    try:
        prompt = con.execute(f"SELECT Prompt FROM sniff_csv({sources.literal(file)})").fetchone()[0]
    except Exception:  # noqa: BLE001 - the usual read reports what is wrong with the file
        return None
    head = f"FROM read_csv({sources.literal(file)}"
    if not (prompt.startswith(head) and prompt.endswith(");")):
        return None
    options = prompt[len(head):-2]
    return options if "auto_detect=false" in options and "columns=" in options else None
