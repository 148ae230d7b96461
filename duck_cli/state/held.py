"""Whether the warehouse still holds what the catalog records.

The catalog never claims data the warehouse does not hold, also when the warehouse changed
behind duck's back: a missing warehouse file, another file in its place (its identity differs
from the one the catalog recorded), an older copy (its ledger ends below the catalog's
materializations) or a recorded table that is gone makes those partitions *lost*: `missing` in
status, with the reason, and planned by `materialize`. Readers work this out from a few facts
read once per command (and cached while the warehouse file is unchanged); a writer records the
loss in the catalog (`lost` rows), so it stays known once the warehouse moves on.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, replace
from pathlib import Path

from duck_cli.code_version import schema_of
from duck_cli.errors import DuckError
from duck_cli.records import Snapshot
from duck_cli.state.dbfile import connect
from duck_cli.sql import PROD, env_schema, env_slug
from duck_cli.state.warehouse import identity, ledger_of


@dataclass(frozen=True)
class Facts:
    """What the warehouse holds, in brief: its identity, its ledger's end, its relations."""

    identity: str | None
    ledger_max: int
    relations: frozenset[str]  # lower-case 'schema.name' of its tables and views (production's schema names)


def shown(project) -> str:
    """The warehouse path as a user knows it: relative to the project folder when inside."""
    if project.settings.lake:  # (a lake's modules load only for a lake project)
        import duck_cli.state.lake as lake

        return f"{lake.lake_of(project.settings).data_path} (DuckLake)"
    path = project.settings.warehouse
    try:
        return str(path.relative_to(project.root))
    except ValueError:
        return str(path)


def lost_partitions(snap: Snapshot, facts: Facts | None, path: str,
                    assets) -> dict[tuple[str, str], str]:
    """The recorded materializations the warehouse (``facts``; None: no file) does not hold."""
    built = [(k, m) for k, m in snap.current.items() if m.kind == "materialization"
             and k[0] in assets]
    if facts is None:
        return {k: f"the warehouse file {path} is missing" for k, _m in built}
    if snap.warehouse_id and facts.identity and snap.warehouse_id != facts.identity:
        return {k: f"the warehouse file {path} was replaced by another one" for k, _m in built}
    out = {}
    held: dict = {}  # (asset, code version) -> whether its relation exists: one lookup each
    for k, m in built:
        found = held.get((k[0], m.code_version))
        if found is None:
            found = held[(k[0], m.code_version)] = \
                f"{schema_of(m.code_version)}.{k[0]}".lower() in facts.relations
        if not found:
            out[k] = f"its table '{k[0]}' is missing from the warehouse"
        elif m.seq > facts.ledger_max:
            out[k] = (f"the warehouse {path} is older than the catalog (restored from a copy?) "
                      "and does not hold it")
    return out


def same_warehouse(snap: Snapshot, facts: Facts) -> bool:
    """Whether the warehouse is the one the catalog last described, holding all it recorded
    (then only the partitions a command is about need checking, not every one)."""
    return bool(facts.identity) and snap.warehouse_id == facts.identity \
        and snap.max_seq <= facts.ledger_max


def without_lost(snap: Snapshot, lost: dict[tuple[str, str], str]) -> Snapshot:
    """The snapshot with ``lost`` partitions taken out of the current materializations."""
    if not lost:
        return snap
    current = {k: m for k, m in snap.current.items() if k not in lost}
    return replace(snap, current=current, lost={**snap.lost, **lost})


_RELATIONS = ("SELECT schema_name, lower(table_name) FROM duckdb_tables() WHERE NOT temporary "
              "AND database_name = current_database() UNION ALL SELECT schema_name, "
              "lower(view_name) FROM duckdb_views() WHERE NOT internal AND NOT temporary AND "
              "database_name = current_database()")


def read_facts(con, env: str = PROD) -> Facts:
    """The facts of the warehouse open on ``con``, for environment ``env``'s tables."""
    found = con.execute(_RELATIONS).fetchall()
    ident = identity(con)
    ledger_max = con.execute(f"SELECT coalesce(max(seq), 0) FROM {ledger_of(env)}").fetchone()[0] \
        if ident is not None else 0
    return Facts(ident, ledger_max, _relations(found, env))


def writer_facts(con, env: str = PROD) -> tuple[Facts, int]:
    """A writer's facts (its warehouse's ledger and identity exist: opening it made them) and
    the highest run number (r00012 -> 12) its ledger records, in one query: on a lake each
    statement is a round trip to its catalog, and each scan of the ledger one more."""
    ident, (ledger_max, last_run), found = con.execute(
        'SELECT (SELECT id FROM "_duck"."identity" LIMIT 1), (SELECT [coalesce(max(seq), 0), '
        "coalesce(max(TRY_CAST(substr(run_id, 2) AS BIGINT)), 0)] FROM "
        f"{ledger_of(env)}), (SELECT list([schema_name, name]) FROM ({_RELATIONS}) r(schema_name, "
        "name))").fetchone()
    return Facts(ident, ledger_max, _relations(found or [], env)), last_run


def _relations(found, env: str) -> frozenset[str]:
    """Lower-case 'schema.name' of environment ``env``'s relations among ``found`` (schema,
    lower-case name) pairs, under production's schema names."""
    suffix = "" if env == PROD else env_schema(env, "")  # '__<slug>'
    return frozenset(f"{schema[:len(schema) - len(suffix)]}.{name}" for schema, name in found
                     if (schema.endswith(suffix) if suffix else "__" not in schema))


def reader_check(project, snap: Snapshot, *, locked: bool) -> Snapshot:
    """A reader's snapshot with what the warehouse no longer holds marked lost. While a
    writer holds the project (``locked``), only a missing file is checked: the writer has the
    warehouse open and checks the rest itself."""
    if not any(m.kind == "materialization" for m in snap.current.values()):
        return snap
    if project.settings.lake:  # a lake: its last committed snapshot, even while
        # a writer works (a lake that cannot be attached is one clear error, as for writers)
        return without_lost(snap, lost_partitions(snap, lake_facts(project), shown(project),
                                                  project.assets))
    path = project.settings.warehouse
    if not path.exists():
        return without_lost(snap, lost_partitions(snap, None, shown(project), project.assets))
    if locked:
        return snap
    facts = _cached_facts(path, project.settings.wait_seconds, project.settings.env)
    if facts is None:  # unreadable: the commands that open it say so
        return snap
    return without_lost(snap, lost_partitions(snap, facts, shown(project), project.assets))


def lake_facts(project) -> Facts:
    """The facts of the project's lake at its last committed snapshot (a StateError when the
    lake cannot be attached: its catalog down, a wrong password or data path)."""
    import duck_cli.state.lake as lake

    cfg = lake.lake_of(project.settings)
    con = lake.connect(project.settings, cfg, read_only=True)
    try:
        return read_facts(con)
    finally:
        con.close()


def _stamp(path: Path) -> tuple | None:
    try:
        st = path.stat()
        wal = path.with_name(path.name + ".wal")
        wst = wal.stat() if wal.exists() else None
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, wst and (wst.st_size, wst.st_mtime_ns))


def _cached_facts(path: Path, wait: float, env: str = PROD) -> Facts | None:
    """The warehouse's facts, from the cache while the file is unchanged."""
    # 'facts': relations by schema.name (a cache of an older duck held bare names)
    name = "facts.pickle" if env == PROD else f"facts.{env_slug(env)}.pickle"
    key, cache = _stamp(path), path.parent / "cache" / name
    try:
        with open(cache, "rb") as f:
            stored_key, facts = pickle.load(f)
        if stored_key == key:
            return facts
    except Exception:  # noqa: BLE001 - a missing or unreadable cache is just a miss
        pass
    facts = _read(path, wait, env)
    if facts is not None and key is not None and key == _stamp(path):
        _store(cache, key, facts)
    return facts


def _read(path: Path, wait: float, env: str = PROD) -> Facts | None:
    try:
        con = connect(path, read_only=True, wait=min(wait, 2.0))
    except DuckError:
        return None
    try:
        return read_facts(con, env)
    except Exception:  # noqa: BLE001 - a damaged file: `doctor` and the writers report it
        return None
    finally:
        con.close()


def _store(cache: Path, key, facts: Facts) -> None:
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            pickle.dump((key, facts), f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, cache)
    except OSError:
        pass
