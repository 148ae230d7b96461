"""What one step reads of its partitioned file sources: exactly the files its keys map to.

A step building keys K of an asset that reads a per-partition file source sees that source,
under its asset name, as a temporary view over the files of the upstream keys K maps to (through
the dependency's partition mapping, offsets included); the whole-source view in main stays for
unpartitioned readers. So a one-day step reads one day's file however many have arrived, and a
bad file fails only the partitions that read it, before anything reads it, with the file named.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from duck_cli.errors import ExecutionError
from duck_cli.run import sniffed
from duck_cli.models import Asset, is_remote
from duck_cli.state import sources
from duck_cli.state import versions as ver
from duck_cli.sql import quote_ident
from duck_cli.state.warehouse import READ_HINT


@dataclass(frozen=True)
class SourceInput:
    """The files of one source a step reads: (key, file) for each arrived upstream key."""

    source: Asset
    files: tuple[tuple[str, str], ...]
    empty: frozenset[str]  # files that hold no data rows
    versions: tuple[tuple[str, str], ...] = ()  # file -> its partition's version

    def version(self, file: str) -> str | None:
        """The data version of a file's partition (keys the header cache)."""
        return dict(self.versions).get(file)


class SourceFileError(ExecutionError):
    """A source file a step reads cannot be read, or its columns are not the source's."""


def step_inputs(s, health, asset: Asset, keys: list[str]) -> list[SourceInput]:
    """The per-partition file sources a partitioned step reads, narrowed to its keys."""
    if asset.partitions is None:
        return []
    out = []
    for index, dep in enumerate(asset.deps):
        up = s.project.assets[dep.asset]
        if not (up.is_source and up.source.path and sources.is_per_partition(up)):
            continue
        mapping = health.dep_map(asset, index)
        live = s.live.get(up.name, {})
        wanted = sorted({u for k in keys for u in mapping.get(k, ()) if live.get(u)})
        files = tuple((u, f) for u in wanted for f in _files(up, s.project.root, u))
        empty = frozenset(f for u, f in files if ver.is_empty(live.get(u)))
        out.append(SourceInput(up, files, empty, tuple((f, live[u]) for u, f in files)))
    return out


def other_files(s, source: Asset, mine: set[str]):
    """Arrived, non-empty files of a source outside ``mine`` (at most three are tried)."""
    tried = 0
    for key, version in sorted(s.live.get(source.name, {}).items()):
        if not version or ver.is_empty(version):
            continue
        for f in _files(source, s.project.root, key):
            if f not in mine and tried < 3:
                tried += 1
                yield f, version


def _files(asset: Asset, root, key: str) -> list[str]:
    spec = sources.location(asset, root, key)
    return [spec] if is_remote(spec) else sources.local_files(spec)


def expose(con, inputs: list[SourceInput], headers: dict, others, fast: bool = True) -> bool:
    """Create each input's temporary view on ``con`` (a worker's own connection), then check
    its columns; SourceFileError names the bad file. With ``fast`` a view reads its files
    with the options sniffed from each once (`sniffed.select`) where they agree; True when one
    does (a step that then fails is built again without: `Builder.run`).

    The view's own columns are compared with the declared ones (or those of the source's
    other files): one catalog look-up, no extra read. Only when they differ is each file
    described on its own, to name the one at fault."""
    used = False
    for item in inputs:
        readable = [f for _k, f in item.files if f not in item.empty]
        declared = dict(item.source.source.columns)
        if not readable:
            _create(con, item, _empty_select(con, item, declared, headers, others), readable)
            continue
        versions = dict(item.versions)
        quick = sniffed.select(con, item.source, [(f, versions.get(f)) for f in readable],
                               headers) if fast else None
        alike = quick is not None and _created(con, item, quick)
        if not alike:
            _expose_read(con, item, readable, declared, headers, others)
        used = used or alike
        _check_view(con, item, readable, declared, headers, others, alike)
    return used


def _created(con, item: SourceInput, select: str) -> bool:
    """Whether the view over ``select`` could be created (else the usual read explains)."""
    try:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {quote_ident(item.source.name)} AS {select}")
        return True
    except Exception:  # noqa: BLE001 - the sniffing read that follows reports it
        return False


def _expose_read(con, item: SourceInput, readable: list[str], declared: dict, headers: dict,
                 others) -> None:
    """The view over a step's files read as DuckDB sniffs them (a bad file named)."""
    try:
        _create(con, item, sources.reader_sql(item.source, readable, declared or None), readable)
    except SourceFileError:
        check_columns(con, item, readable, declared, headers, others)  # names the file
        raise


def _check_view(con, item: SourceInput, readable: list[str], declared: dict, headers: dict,
                others, alike: bool = False) -> None:
    """Refuse a step's view whose columns are not the source's, naming the file at fault.
    ``alike``: every file was sniffed with the same columns, the view's (so each file's
    header is known without describing it again: a second sniff per file on its first read)."""
    if item.source.source.format != "csv":
        return
    found = _alike_headers(con, item, readable, headers) if alike else None
    want = [c.lower() for c in declared] if declared else \
        reference(con, item, found, headers, others)
    if want is not None and view_columns(con, item.source.name) != want:
        check_columns(con, item, readable, declared, headers, others)
        raise file_error(item.source, readable, "their columns together are not the "
                         f"source's ({', '.join(want)})")


def _create(con, item: SourceInput, select: str, files: list[str]) -> None:
    try:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {quote_ident(item.source.name)} AS {select}")
    except Exception as err:  # noqa: BLE001 - DuckDB's reader error, reported with the files
        raise file_error(item.source, files, str(err).splitlines()[0]) from None


def view_columns(con, name: str, lower: bool = True) -> list[str]:
    """The columns of a temporary view (lower-cased), from the catalog (no file is read)."""
    rows = con.execute("SELECT column_name FROM duckdb_columns() WHERE database_name = 'temp' "
                       "AND lower(table_name) = lower(?) ORDER BY column_index",
                       [name]).fetchall()
    return [r[0].lower() if lower else r[0] for r in rows]


def _alike_headers(con, item: SourceInput, files: list[str], headers: dict) -> dict:
    """Each file's header when all were sniffed with the view's columns, kept in the header
    cache as if described one by one."""
    cols = view_columns(con, item.source.name, lower=False)
    for f in files:
        version = item.version(f)
        if version is not None:
            headers.setdefault(_header_key(item.source, f, version), cols)
    return dict.fromkeys(files, cols)


def drop(con, inputs: list[SourceInput]) -> None:
    """Drop the step's temporary views (the connection may build another asset next)."""
    for item in inputs:
        con.execute(f"DROP VIEW IF EXISTS temp.main.{quote_ident(item.source.name)}")


def check_columns(con, item: SourceInput, files: list[str], declared: dict, headers: dict,
                  others) -> None:
    """Refuse a file whose columns are not the declared ones, or (without a declaration) not
    those of the source's other files."""
    if item.source.source.format != "csv":
        return
    found = {f: header(con, item.source, f, headers, item.version(f)) for f in files}
    if declared:
        want = [c.lower() for c in declared]
    else:
        want = reference(con, item, found, headers, others)
    for f, cols in found.items():
        if want is not None and [c.lower() for c in cols] != want:
            raise file_error(item.source, [f], f"its columns ({', '.join(cols)}) are not the "
                             f"source's ({', '.join(want)})")


def header(con, asset: Asset, file: str, headers: dict, version: str | None) -> list[str]:
    """A file's column names as DuckDB's reader sees them, cached by the file's content
    version (in `.duck/cache`): a file is sniffed once, not once per step that compares it."""
    cache_key = _header_key(asset, file, version)
    if version is None or cache_key not in headers:
        try:
            rows = con.execute(f"DESCRIBE {sources.reader_sql(asset, [file])}").fetchall()
        except Exception as err:  # noqa: BLE001 - the reader's own words go to the user
            raise file_error(asset, [file], str(err).splitlines()[0]) from None
        headers[cache_key] = [r[0] for r in rows]
    return headers[cache_key]


def _header_key(asset: Asset, file: str, version: str | None) -> tuple:
    return (version, Path(file).name, tuple(sorted(asset.source.options.items())).__repr__())


def reference(con, item: SourceInput, found: dict | None, headers: dict,
              others, voters: int = 3) -> list[str] | None:
    """The columns the source's files agree on: the most common among a few other arrived
    files and this step's own. One odd file is outvoted, wherever it lies, rather than failing
    the good day next to it; a tie goes to the other files, so two files that disagree with
    nothing to break the tie fail each other's steps."""
    mine = {f for _k, f in item.files}
    votes: Counter = Counter()
    for other, version in others(item.source, mine):
        try:
            votes[tuple(c.lower() for c in header(con, item.source, other, headers, version))] += 1
        except SourceFileError:
            continue
        if sum(votes.values()) >= voters:
            break
    if found is None:  # the step's own files, sniffed (cached by content version)
        found = {f: header(con, item.source, f, headers, item.version(f))
                 for f in mine if f not in item.empty}
    for cols in found.values():
        votes[tuple(c.lower() for c in cols)] += 1
    return list(votes.most_common(1)[0][0]) if votes else None


def _empty_select(con, item: SourceInput, declared: dict, headers: dict, others) -> str:
    """A relation with the source's columns and no rows: every file of the step was empty."""
    if declared:
        return sources.empty_sql(declared)
    for other, _version in others(item.source, {f for _k, f in item.files}):
        return f"{sources.reader_sql(item.source, [other])} LIMIT 0"
    raise file_error(item.source, [f for _k, f in item.files],
                     "it holds no data rows and no other file shows the source's columns")


def file_error(asset: Asset, files: list[str], why: str) -> SourceFileError:
    """The error for a bad source file: the file, the reader's words, the options hint."""
    named = files[0] if len(files) == 1 else f"{files[0]} (or one of {len(files)} files)"
    return SourceFileError(f"source '{asset.name}' file {named} cannot be read: {why}",
                           asset=asset.name, hint=READ_HINT)
