"""A consistency checker for a duck project's warehouse and catalog, used by the reliability tests.

``check_consistency(root)`` reads both DuckDB files read-only and returns every problem found as
one sentence each (an empty list: consistent). It checks the invariants DESIGN.md promises:

- both files open and every table and view in the warehouse can be read;
- the catalog never claims a materialization the warehouse did not publish: every catalog
  materialization (kind 'materialization'; unless a later 'lost' row records that the warehouse
  no longer holds it) has a ledger row with the same seq, asset, partition and run, and its
  table or view exists;
- the published data is what the ledger says: the latest ledger row count of each partition of
  an incremental (or whole-table) asset matches the rows the table holds for it;
- no staging table survived a transaction;
- the catalog's current_* tables (the latest materialization, attempt and check result per key,
  kept on every write) hold exactly what a scan of the history derives;
- with ``synced=True`` (after any command that had the chance to repair): every ledger row is in
  the catalog (except the history of runs `duck prune` deleted);
- with ``idle=True`` (no duck process is running): no run is still 'pending'/'running', and every
  'abandoned' run names the process that died.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

STAGE_PREFIX = "__duck_stage"
_KEY_FORMATS = {"hourly": "%Y-%m-%dT%H", "daily": "%Y-%m-%d", "weekly": "%G-W%V", "monthly": "%Y-%m"}


def check_consistency(root: Path, *, synced: bool = True, idle: bool = True,
                      project=None) -> list[str]:
    """Every inconsistency between the project's warehouse and catalog, as sentences."""
    import duckdb

    import pgmode

    root = Path(root)
    wh_path, cat_path = _paths(root, project)
    state_db = pgmode.database(root)  # the state in PostgreSQL (tests/pgmode.py)
    if not cat_path.exists() and not wh_path.exists() and not state_db:
        return []
    problems: list[str] = []
    try:
        wh = duckdb.connect(str(wh_path), read_only=True) if wh_path.exists() else None
    except duckdb.Error as err:
        return [f"warehouse {wh_path} cannot be opened: {err}"]
    try:
        catalog = pgmode.duckdb_copy(state_db) if state_db else \
            duckdb.connect(str(cat_path), read_only=True) if cat_path.exists() else None
    except duckdb.Error as err:
        if wh is not None:
            wh.close()
        return [f"catalog {cat_path} cannot be opened: {err}"]
    try:
        project = project or _load_project(root)
        ledger = _ledger(wh)
        mats = _catalog_mats(catalog)
        problems += _readable(wh, project)
        problems += _claims_are_published(mats, ledger, wh)
        problems += _stray_stages(wh)
        problems += _current_tables(catalog)
        problems += _row_counts(wh, ledger, project)
        if synced:
            problems += _ledger_recorded(ledger, mats, _run_ids(catalog))
        if idle and catalog is not None:
            problems += _runs_settled(catalog)
    finally:
        for con in (wh, catalog):
            if con is not None:
                con.close()
    return problems


def _current_tables(catalog) -> list[str]:
    """Each current_* table against the latest rows derived from its history table."""
    from duck_cli.state.catalog_schema import CURRENT

    if catalog is None or not catalog.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'current_attempts'"
    ).fetchone()[0]:
        return []
    out = []
    for c in CURRENT:
        kept = f"SELECT {c.columns} FROM {c.table}"
        derived = c.derive(c.history)
        for a, b, what in ((kept, derived, "holds rows history does not"),
                           (derived, kept, "lacks rows history has")):
            n = catalog.execute(f"SELECT count(*) FROM ({a} EXCEPT ALL {b})").fetchone()[0]
            if n:
                out.append(f"catalog {c.table} {what} ({n})")
    return out


def _paths(root: Path, project) -> tuple[Path, Path]:
    if project is not None:
        return project.settings.warehouse, project.settings.catalog
    return root / ".duck" / "warehouse.duckdb", root / ".duck" / "catalog.duckdb"


_PROJECTS: dict[tuple, object] = {}


def _load_project(root: Path):
    """The project's models when its manifests are valid (for the per-partition row counts).

    Memoized on the manifests' and SQL files' bytes: only the assets' definitions are used.
    """
    files = sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml", ".sql")
                   and ".duck" not in p.parts)
    key = tuple((str(p.relative_to(root)), p.read_bytes()) for p in files)
    if key not in _PROJECTS:
        try:
            from duck_cli.manifest.load import load_project

            _PROJECTS[key] = load_project(root, use_cache=False)
        except Exception:  # noqa: BLE001 - an invalid project just skips the row-count check
            _PROJECTS[key] = None
    return _PROJECTS[key]


def _ledger(wh) -> dict[int, tuple]:
    if wh is None:
        return {}
    has = wh.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = '_duck' "
                     "AND table_name = 'ledger'").fetchone()[0]
    if not has:
        return {}
    rows = wh.execute("SELECT seq, asset, partition_key, run_id, kind, row_count "
                      "FROM _duck.ledger").fetchall()
    return {r[0]: r[1:] for r in rows}


def _catalog_mats(catalog) -> dict[int, tuple]:
    if catalog is None:
        return {}
    tables = {r[0] for r in catalog.execute(
        "SELECT table_name FROM information_schema.tables").fetchall()}
    if "materializations" not in tables:
        return {}
    # a materialization that a later 'lost' row says the warehouse no longer holds (it was
    # deleted or replaced) is history, not a claim
    rows = catalog.execute(
        "SELECT seq, asset, partition_key, run_id, kind, row_count FROM materializations m "
        "WHERE kind <> 'lost' AND NOT EXISTS (SELECT 1 FROM materializations g WHERE "
        "g.kind = 'lost' AND g.asset = m.asset AND g.partition_key = m.partition_key "
        "AND g.seq > m.seq)").fetchall()
    return {r[0]: r[1:] for r in rows}


def _relations(wh) -> dict[str, str]:
    """Tables and views in the warehouse's main schema: name -> 'BASE TABLE' | 'VIEW'."""
    if wh is None:
        return {}
    return dict(wh.execute("SELECT table_name, table_type FROM information_schema.tables "
                           "WHERE table_schema = 'main'").fetchall())


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _readable(wh, project) -> list[str]:
    """Every table and view duck built can be read (source views are re-made by every command)."""
    sources = {n for n, a in project.assets.items() if a.is_source} if project else set()
    out = []
    for name, kind in sorted(_relations(wh).items()):
        if name in sources:
            continue
        try:
            wh.execute(f"SELECT count(*) FROM {_quote(name)}").fetchone()
        except Exception as err:  # noqa: BLE001 - any failure to read is the finding
            out.append(f"{kind.lower()} {name} in the warehouse cannot be read: "
                       f"{str(err).splitlines()[0]}")
    return out


def _claims_are_published(mats: dict, ledger: dict, wh) -> list[str]:
    out = []
    relations = _relations(wh)
    for seq, (asset, key, run_id, kind, _rows) in sorted(mats.items()):
        if kind != "materialization":
            continue
        published = ledger.get(seq)
        if published is None:
            out.append(f"catalog materialization #{seq} ({asset} {key!r}, run {run_id}) has no "
                       "ledger row in the warehouse: the catalog claims data never published")
        elif published[:3] != (asset, key, run_id):
            out.append(f"catalog materialization #{seq} is {(asset, key, run_id)} but the "
                       f"warehouse ledger says {published[:3]}")
        if asset not in relations:
            out.append(f"catalog materialization #{seq} of {asset} but the warehouse has no "
                       f"table or view named {asset}")
    return out


def _run_ids(catalog) -> set[str]:
    if catalog is None:
        return set()
    tables = {r[0] for r in catalog.execute(
        "SELECT table_name FROM information_schema.tables").fetchall()}
    if "runs" not in tables:
        return set()
    return {r[0] for r in catalog.execute("SELECT run_id FROM runs").fetchall()}


def _ledger_recorded(ledger: dict, mats: dict, runs: set[str]) -> list[str]:
    """Every ledger row is in the catalog, except the history of runs `duck prune` deleted."""
    top = max(mats, default=0)
    missing = sorted(seq for seq, row in ledger.items() if seq not in mats
                     and not (row[2] is not None and row[2] not in runs and seq < top))
    if not missing:
        return []
    sample = ", ".join(f"#{s} {ledger[s][0]} {ledger[s][1]!r}" for s in missing[:5])
    return [f"{len(missing)} ledger row(s) published in the warehouse are not in the catalog "
            f"({sample})"]


def _stray_stages(wh) -> list[str]:
    return [f"staging table {n} survived in the warehouse" for n in _relations(wh)
            if n.startswith(STAGE_PREFIX)]


def _latest_published(ledger: dict) -> dict[tuple[str, str], tuple[int, int | None]]:
    latest: dict[tuple[str, str], tuple[int, int | None]] = {}
    for seq, (asset, key, _run, kind, rows) in sorted(ledger.items()):
        if kind == "materialization":
            latest[(asset, key)] = (seq, rows)
    return latest


def _row_counts(wh, ledger: dict, project) -> list[str]:
    """The rows each published partition holds equal the ledger's count for it."""
    if wh is None or project is None:
        return []
    relations, out = _relations(wh), []
    for (asset_name, key), (seq, rows) in sorted(_latest_published(ledger).items()):
        asset = project.assets.get(asset_name)
        if (asset is None or rows is None or relations.get(asset_name) != "BASE TABLE"
                or asset.materialize is None or asset.materialize.strategy == "view"):
            continue
        where, params = _slice(asset, key)
        actual = wh.execute(f"SELECT count(*) FROM {_quote(asset_name)} {where}",
                            params).fetchone()[0]
        if actual != rows:
            out.append(f"{asset_name} {key!r}: the ledger (#{seq}) says {rows} row(s) were "
                       f"published, the table holds {actual}")
    return out


def _slice(asset, key: str) -> tuple[str, list]:
    defn = asset.partitions
    if defn is not None and asset.is_files:  # a file asset's table lists files by partition key
        return "WHERE partition_key = ?", [key]
    if defn is None or asset.materialize.strategy != "incremental" or not defn.column:
        return "", []
    col = _quote(defn.column)
    if defn.kind == "static":
        return f"WHERE CAST({col} AS VARCHAR) = ?", [key]
    return f"WHERE strftime(CAST({col} AS TIMESTAMP), '{_KEY_FORMATS[defn.kind]}') = ?", [key]


def _runs_settled(catalog) -> list[str]:
    tables = {r[0] for r in catalog.execute(
        "SELECT table_name FROM information_schema.tables").fetchall()}
    if "runs" not in tables:
        return []
    out = []
    for run_id, status, pid, host, error in catalog.execute(
            "SELECT run_id, status, pid, host, error FROM runs ORDER BY run_id").fetchall():
        if status in ("pending", "running"):
            out.append(f"run {run_id} is still '{status}' though no duck process is running")
        elif status == "abandoned" and (error is None or str(pid) not in error):
            out.append(f"abandoned run {run_id} does not name its dead process (pid {pid} on "
                       f"{host}): error is {error!r}")
    return out


def run_rows(root: Path) -> list[tuple]:
    """(run_id, command, status, pid, host, error) of every run, in order."""
    import duckdb

    import pgmode

    if pgmode.database(Path(root)):
        return pgmode.query(pgmode.database(Path(root)), "SELECT run_id, command, status, pid, "
                            "host, error FROM runs ORDER BY run_id")
    path = Path(root) / ".duck" / "catalog.duckdb"
    if not path.exists():
        return []
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("SELECT run_id, command, status, pid, host, error FROM runs "
                           "ORDER BY run_id").fetchall()
    finally:
        con.close()


# -- running the installed `duck` in a subprocess ------------------------------------------------

DUCK_BIN = Path(sys.executable).parent / "duck"


def duck_env(now: str | None, **extra: str) -> dict[str, str]:
    """The environment for a `duck` subprocess: no colour, a fixed width and clock, no CI vars."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DUCK_PROJECT", "DUCK_FAULT", "DUCK_NOW", "DUCK_DEBUG", "GITHUB_ACTIONS",
                        "GITHUB_STEP_SUMMARY")}
    env.update(NO_COLOR="1", COLUMNS="200", **extra)
    if now:
        env["DUCK_NOW"] = now
    return env


def run_duck(root: Path, *args: str, now: str | None, timeout: float = 120, **extra: str):
    """Run the installed `duck ARGS -p ROOT` to the end; a CompletedProcess with text output."""
    return subprocess.run([str(DUCK_BIN), *args, "-p", str(root)], capture_output=True,
                          text=True, env=duck_env(now, **extra), timeout=timeout)


def start_duck(root: Path, *args: str, now: str | None, **extra: str):
    """Start the installed `duck ARGS -p ROOT`; a Popen with text pipes."""
    return subprocess.Popen([str(DUCK_BIN), *args, "-p", str(root)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=duck_env(now, **extra))
