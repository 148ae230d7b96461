"""Reading state for a command: one catalog snapshot and live source observations.

Readers hold the catalog only for one transaction; if a writer died and left published data
unrecorded, the first reader that can take the write lock repairs it (see execute.recover).
"""

from __future__ import annotations

import os
from datetime import datetime

from duck_cli.state import catalog as cat
from duck_cli.graph import partitions as parts
from duck_cli.state import extensions, observe, table_cache
from duck_cli.state.warehouse import Warehouse
from duck_cli.models import Project
from duck_cli.records import Attempt, CheckRow, Mat, RunRow, Snapshot


def read_catalog_snapshot(path, wait: float) -> Snapshot:
    """One snapshot of the local catalog file (empty when no catalog exists yet).

    The snapshot is cached next to the catalog, keyed by the catalog file's (and its WAL's)
    size and modification time: a reader of an unchanged catalog does not even import DuckDB.
    """
    key = _stamp(path)
    cached = _cached(path, key)
    if cached is not None:
        return cached
    with cat.open_catalog(path, read_only=True, wait=wait) as c:
        snap = c.snapshot() if c is not None else Snapshot.empty()
    if key is not None and key == _stamp(path):
        _store(path, key, snap)
    return snap


def _stamp(path) -> tuple | None:
    try:
        st = path.stat()
    except OSError:
        return None
    wal = path.with_name(path.name + ".wal")
    wst = wal.stat() if wal.exists() else None
    return (st.st_size, st.st_mtime_ns, wst and (wst.st_size, wst.st_mtime_ns))


def _cache_file(path):
    return path.parent / "cache" / "snapshot.pickle"


def _cached(path, key) -> Snapshot | None:
    import pickle

    if key is None:
        return None
    try:
        with open(_cache_file(path), "rb") as f:
            stored_key, packed = pickle.load(f)
        return _unpack(packed) if stored_key == key else None
    except Exception:  # noqa: BLE001 - a missing or unreadable cache is just a miss
        return None


def _pack(snap: Snapshot) -> tuple:
    """Plain tuples (namedtuples unpickle one Python call at a time: slow at 100,000 rows)
    whose repeated values are one object each: pickle writes an object it has already written
    as a short reference (the catalog's materializations share theirs already, `catalog_rows.mats`:
    100,000 rows of one asset pickle to 3 MB in 0.05 s instead of 11 MB in 0.25 s)."""
    return ([tuple(m) for m in snap.current.values()],
            _shared(snap.attempts.values(), range(len(Attempt._fields))),
            _shared((c for rows in snap.checks.values() for c in rows),
                    [i for i, f in enumerate(CheckRow._fields) if f != "sample"]),
            [tuple(r) for r in snap.active_runs], snap.max_seq,
            [tuple(a) for a in snap.last_attempts.values()], snap.check_counts, snap.lost,
            snap.warehouse_id)


def _shared(rows, columns) -> list[tuple]:
    """Rows as tuples whose values at ``columns`` (hashable ones) are one object each."""
    seen: dict = {}
    one = seen.setdefault
    out = []
    for row in rows:
        row = list(row)
        for i in columns:
            row[i] = one(row[i], row[i])
        out.append(tuple(row))
    return out


def _unpack(packed: tuple) -> Snapshot:
    current, attempts, checks, runs, max_seq, last, counts, lost, warehouse_id = packed
    by_key: dict = {}
    for c in map(CheckRow._make, checks):
        by_key.setdefault((c.asset, c.partition), []).append(c)
    return Snapshot({(m.asset, m.partition): m for m in map(Mat._make, current)},
                        {(a.asset, a.partition): a for a in map(Attempt._make, attempts)},
                        {k: tuple(v) for k, v in by_key.items()},
                        tuple(map(RunRow._make, runs)), max_seq,
                        {a.asset: a for a in map(Attempt._make, last)}, counts, lost,
                    warehouse_id)


def _store(path, key, snap: Snapshot) -> None:
    import os
    import pickle

    target = _cache_file(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            pickle.dump((key, _pack(snap)), f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, target)
    except OSError:
        pass


def observe_files(project: Project, now: datetime, snap: Snapshot | None = None
                  ) -> dict[str, dict[str, str | None]]:
    """Live data versions of file sources (table sources come from the catalog), read-only."""
    holder: list = []

    def connect():  # only for remote sources: an in-memory DuckDB with the extensions
        from duck_cli.engine import duckdb

        con = duckdb.connect()
        holder.append(con)
        extensions.prepare(con, project.settings)
        return con

    try:
        out = observe.observe(project, now, snap.current if snap else {}, connect)
        tables = [a for a in project.assets.values() if a.is_source and a.source.table]
        if tables:
            out.update(_cached_tables(project, now, tables, connect))
        return out
    finally:
        for con in holder:
            con.close()


def _cached_tables(project: Project, now: datetime, tables, connect) -> dict:
    """Table sources' versions: from the cache while the warehouse file is unchanged, else
    observed (attaching the warehouse) and cached when no writer changed it meanwhile."""
    cache = table_cache.TableVersions(table_cache.cache_path(project.settings))
    before = table_cache.stamp(project.settings.warehouse)
    keys = {a.name: parts.partition_keys(a.partitions, now) for a in tables}
    out = {a.name: v for a in tables if (v := cache.get(a, keys[a.name], before)) is not None}
    missing = [a for a in tables if a.name not in out]
    if not missing:
        return out
    found = observe_tables(project, now, missing, connect())
    out.update(found)
    if before is not None and table_cache.stamp(project.settings.warehouse) == before \
            and table_cache.cacheable(project.settings):
        for a in missing:
            if a.name in found and table_cache.in_warehouse(a, project.settings):
                cache.put(a, keys[a.name], before, found[a.name])
        cache.save()
    return out


def observe_tables(project: Project, now: datetime, tables, con) -> dict:
    """Table sources' live versions, read-only: the warehouse attached read-only (skipped while
    a writer holds it, and for a lake warehouse: the state's record stands) and the attached
    source databases."""
    from duck_cli.engine import duckdb

    if project.settings.lake is not None:
        return {}
    path = project.settings.warehouse
    if path.exists():
        literal = str(path).replace("'", "''")
        try:
            con.execute(f"ATTACH '{literal}' AS duck_warehouse (READ_ONLY)")
            con.execute("USE duck_warehouse")
        except duckdb.Error:  # locked by a writer: it observes (and records) them itself
            return {}
    wh = Warehouse(con, path)
    return {a.name: wh.observe_table(a, parts.partition_keys(a.partitions, now))
            for a in tables}


def unrecorded_marker(settings):
    """The file that exists while the warehouse ledger may be ahead of the catalog."""
    return settings.catalog.parent / "unrecorded"


def dead_runs(snap: Snapshot) -> list[RunRow]:
    """Runs the catalog says are running whose process is gone."""
    return [r for r in snap.active_runs if not process_alive(r.pid, r.host)]


def process_alive(pid: int | None, host: str | None) -> bool:
    """Whether a run's process may still be alive (a run from another host is assumed alive)."""
    if host != os.uname().nodename:
        return True
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
