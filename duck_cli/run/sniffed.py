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

def select(con, asset: Asset, files: list[tuple[str, str | None]], cache) -> str | None:
    """The SELECT reading ``files`` (each with its content version) with their common sniffed
    options, or None when they have none (options or columns of the source's own, files
    sniffed differently, a file DuckDB cannot sniff). ``cache``: a `versions.ShardedCache`."""
    src = asset.source
    if src.format != "csv" or src.options or src.columns or not files:
        return None
    found = set(_sniff_all(con, files, cache).values())
    if len(found) != 1 or None in found:
        return None
    listed = ", ".join(sources.literal(f) for f, _v in files)
    return f"SELECT * FROM read_csv([{listed}]{found.pop()})"


def _sniff_all(con, files: list[tuple[str, str | None]], cache) -> dict[str, str | None]:
    """The read_csv options DuckDB sniffs in each file, cached by its content version. Steps of
    two assets reading the same files at once split them: a file another step is sniffing is
    left for last and its result waited for, so each file is sniffed once (not once each)."""
    out: dict[str, str | None] = {}
    later = []
    for file, version in files:
        key = ("sniff", version, Path(file).name)
        if version is None:
            out[file] = _sniffed(con, file)
        elif key in cache:
            out[file] = cache[key]
        elif cache.claim(key):
            try:
                out[file] = cache[key] = _sniffed(con, file)
            finally:
                cache.release(key)
        else:
            later.append((file, key))
    for file, key in later:
        cache.wait(key)
        out[file] = cache[key] if key in cache else _sniffed(con, file)
    return out


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
