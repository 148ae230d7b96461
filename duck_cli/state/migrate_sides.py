"""The two sides of `duck migrate`: the connection that has both attached, the checks that a
source holds duck's records and a target holds none (or only an incomplete migrate's), the
marks a target carries until the move is verified, and errors worded without a secret."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from duck_cli.errors import StateError, UsageError
from duck_cli.models import Settings
from duck_cli.state import catalog as cat
from duck_cli.state import extensions, lake, lake_config
from duck_cli.state import migrate_copy as mc
from duck_cli.state import postgres_schema
from duck_cli.state.migrate_copy import MARK
from duck_cli.state.postgres import shown
from duck_cli.state.backends import resolve, state_backend
from duck_cli.state.environments import ENVS

START_OVER = "Run duck migrate again: it starts a marked target over."


def postgres(settings: Settings):
    """The PostgreSQL state backend, its connection and password checked (a StateError)."""
    backend = state_backend(settings)
    backend.connect().close()
    return backend


def shown_dsn(settings: Settings) -> str:
    """The state's connection text without a password (an env:NAME reference as written)."""
    value = settings.state_dsn or ""
    return value if value.startswith("env:") else shown(value)


def refuse_environments(settings: Settings, pg) -> None:
    """Environments are previews with state of their own: migrate moves production only."""
    envs = settings.state_dir / ENVS
    found = sorted(p.name for p in envs.iterdir() if p.is_dir()) if envs.is_dir() else []
    found += pg.env_slugs() if pg is not None else []
    if found:
        raise UsageError(f"the project has environments ({', '.join(sorted(set(found)))}): "
                         "migrate moves production's state and tables only, and a preview's "
                         "schemas would point at the wrong production afterwards",
                         hint="Drop them first (duck env drop NAME; a preview is built again "
                              "with duck materialize --env NAME), then run duck migrate again.")


@contextmanager
def connection(settings: Settings, root: Path, plan) -> Iterator[object]:
    """An in-memory DuckDB with the lake attached (if one moves) and the postgres extension
    loaded (if the state moves); closed at the end."""
    from duck_cli.engine import duckdb

    parts = {m.part for m in plan}
    if "warehouse" in parts:
        con = lake.connect(settings, lake.lake_of(settings, root))
    else:
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'; SET enable_progress_bar = false")
    try:
        if "state" in parts:
            extensions.load(con, ("postgres",), settings.catalog.parent)
        yield con
    finally:
        con.close()


def attach_sources(con, settings: Settings, plan) -> None:
    """Attach each source read-only, after checking it holds duck's records or tables."""
    for move in plan:
        src = move.source
        if src.backend == "local":
            path = _path(settings, move.part)
            if not path.exists():
                raise UsageError(f"there is no local {move.part} to migrate: {move.source_at} "
                                 "does not exist", hint="Run migrate where the project was "
                                 "built (its .duck/ folder), or build it first.")
            if move.part == "state":  # a catalog of an older duck is brought up to date first
                with cat.open_catalog(path, read_only=True, wait=settings.wait_seconds):
                    pass
            _attach_file(con, path, src.alias, read_only=True)
        elif src.backend == "postgres":
            _attach_pg(con, settings, read_only=True)
        if not _has_records(con, move):
            raise UsageError(f"{move.source_at} holds no duck {move.part} to migrate",
                             hint="Check duck.yaml's settings; nothing was changed.")


def _has_records(con, move) -> bool:
    src = move.source
    if move.part == "state":
        return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = ? "
                                "AND schema_name = ? AND table_name = 'runs'",
                                [src.alias, src.schema]).fetchone()[0])
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND "
                            "schema_name = '_duck' AND table_name = 'ledger'", [src.alias]
                            ).fetchone()[0])


def _path(settings: Settings, part: str) -> Path:
    return settings.catalog if part == "state" else settings.warehouse


def _attach_file(con, path: Path, alias: str, *, read_only: bool) -> None:
    literal = "'" + str(path).replace("'", "''") + "'"
    con.execute(f"ATTACH {literal} AS {alias}" + (" (READ_ONLY)" if read_only else ""))


def _attach_pg(con, settings: Settings, *, read_only: bool) -> None:
    from duck_cli.engine import duckdb

    dsn = resolve(settings.state_dsn, "state.postgres")
    options = "TYPE postgres" + (", READ_ONLY" if read_only else "")
    try:
        con.execute(f"ATTACH '{dsn.replace(chr(39), chr(39) * 2)}' AS pg_state ({options})")
    except duckdb.Error as err:
        raise StateError(f"DuckDB cannot attach the PostgreSQL state "
                         f"({shown_dsn(settings)}): {safe_text(err)}", hint=(
                             "Check the connection settings and libpq's variables (PGPASSWORD, "
                             "a password or service file); nothing was changed.")) from None


def prepare_targets(con, settings: Settings, plan, *, force: bool, mark: str) -> list[str]:
    """Check each target is empty (or, with ``force`` or an incomplete migrate's mark, empty
    it), mark it incomplete and attach it; what was replaced, for people."""
    from duck_cli.engine import duckdb

    found = [(m, _held(con, settings, m)) for m in plan]
    held = [(m, what, marked) for m, (what, marked) in found if what]
    if held and not force and not all(marked for _m, _w, marked in held):
        raise UsageError(
            "the target already holds " + "; ".join(f"{m.target_at}: {w}" for m, w, marked
                                                     in held if not marked)
            + ". Nothing was changed", hint="Point duck.yaml at an empty database and lake, or "
            "run duck migrate --force to replace what the target holds with the source.")
    replaced = [f"{m.target_at}: {w}" for m, w, _marked in held]
    for move in plan:
        try:
            _clear_and_mark(con, settings, move, mark)
        except duckdb.Error as err:
            raise copy_error(move, err) from None
    return replaced


def _held(con, settings: Settings, move) -> tuple[str, bool]:
    """What a target holds, for people ('' when empty), and whether it carries the mark."""
    tgt = move.target
    if tgt.backend == "local":
        path = _path(settings, move.part)
        if not path.exists():
            return "", False
        _attach_file(con, path, "probe", read_only=True)
        try:
            return _holds(con, mc.Db("probe", "main", "local"), move.part)
        finally:
            con.execute("DETACH probe")
    if tgt.backend == "postgres":
        pg = state_backend(settings)
        with pg.connect() as raw:
            if postgres_schema.found_version(raw) is None:
                return "", False
        _attach_pg(con, settings, read_only=True)
        try:
            return _holds(con, mc.Db("pg_state", "duck", "postgres"), "state")
        finally:
            con.execute("DETACH pg_state")
    return _holds(con, tgt, "warehouse")


def _holds(con, db: mc.Db, part: str) -> tuple[str, bool]:
    if part == "warehouse":
        names = mc.holds_tables(con, db)
        marked = bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = ? "
                                  "AND schema_name = '_duck' AND table_name = ?",
                                  [db.alias, MARK]).fetchone()[0])
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        return (f"{len(names)} table(s) and view(s) ({shown})" if names else
                ("an incomplete migrate" if marked else "")), marked
    exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND "
                         "schema_name = ? AND table_name = 'runs'", [db.alias, db.schema]
                         ).fetchone()[0]
    if not exists:
        return "", False
    runs, mats = (con.execute(f"SELECT count(*) FROM {db.at(t)}").fetchone()[0]
                  for t in ("runs", "materializations"))
    marked = bool(con.execute(f"SELECT count(*) FROM {db.meta} WHERE key = ?", [MARK]
                              ).fetchone()[0])
    what = f"duck state ({runs} run(s), {mats} materialization(s))" if runs or mats else ""
    return (what or ("an incomplete migrate" if marked else "")), marked


def _clear_and_mark(con, settings: Settings, move, mark: str) -> None:
    """Empty one target part, mark it incomplete, and attach it read-write."""
    tgt = move.target
    if tgt.backend == "local":
        path = _path(settings, move.part)
        _move_aside(path)
        if move.part == "state":
            with cat.open_catalog(path, read_only=False, wait=settings.wait_seconds) as c:
                c.set_meta(MARK, mark)
        _attach_file(con, path, tgt.alias, read_only=False)
    elif tgt.backend == "postgres":
        pg = state_backend(settings)
        with pg.connect() as raw:
            raw.execute('DROP SCHEMA IF EXISTS "duck" CASCADE')
        with pg.open(read_only=False, wait=settings.wait_seconds) as store:
            store.set_meta(MARK, mark)
        _attach_pg(con, settings, read_only=False)
    else:
        _empty_lake(con, tgt)
    if move.part == "warehouse":
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {tgt.alias}._duck")
        con.execute(f"CREATE TABLE {tgt.at(MARK, '_duck')} AS SELECT ? AS mark", [mark])


def _move_aside(path: Path) -> None:
    """Keep a replaced local file beside it (``.replaced``), never delete it."""
    for file in (path, path.with_name(path.name + ".wal")):
        if file.exists():
            shutil.move(str(file), str(file.with_name(file.name + ".replaced")))


def _empty_lake(con, db: mc.Db) -> None:
    """Drop every table and view of the lake's main and _duck schemas, in one transaction."""
    rows = con.execute(
        "SELECT schema_name, table_name, 'TABLE' FROM duckdb_tables() WHERE database_name = $d "
        "AND schema_name IN ('main', '_duck') UNION ALL SELECT schema_name, view_name, 'VIEW' "
        "FROM duckdb_views() WHERE database_name = $d AND schema_name IN ('main', '_duck') "
        "AND NOT internal", {"d": db.alias}).fetchall()
    if not rows:
        return
    con.execute("BEGIN TRANSACTION")
    for schema, name, kind in sorted(rows, key=lambda r: r[2] != "VIEW"):
        con.execute(f"DROP {kind} IF EXISTS {db.at(name, schema)}")
    con.execute("COMMIT")


def make_source_views(con, db: mc.Db) -> None:
    """The local warehouse's source views, TEMP on the migrate connection (best effort), so a
    view asset that reads a source can be created in the target."""
    from duck_cli.engine import duckdb

    if db.backend != "local":
        return
    for _name, sql in mc.source_views(con, db):
        try:
            con.execute(sql.replace("CREATE VIEW", "CREATE OR REPLACE TEMP VIEW", 1))
        except duckdb.Error:  # its files are gone: a view over it fails, and says so
            pass


def unmark(con, settings: Settings, plan) -> None:
    """Take the marks off: the move is complete and verified."""
    for move in plan:
        tgt = move.target
        if move.part == "warehouse":
            con.execute(f"DROP TABLE IF EXISTS {tgt.at(MARK, '_duck')}")
        else:
            con.execute(f"DELETE FROM {tgt.meta} WHERE key = ?", [MARK])


def copy_error(move, err: Exception) -> StateError:
    """A copy that failed: which part, where to, why (without a secret); the source unchanged."""
    return StateError(f"copying the {move.part} from {move.source_at} to {move.target_at} "
                      f"failed: {safe_text(err)}. The source is unchanged and the target is "
                      "marked incomplete", hint="Fix the cause (the target's permissions, "
                      "space, a type the target cannot store), then " + START_OVER.lower())


def safe_text(err: Exception) -> str:
    """The first line of an error, with every password blanked (DuckDB quotes connection
    strings in its messages)."""
    text = lake_config.redact(str(err).splitlines()[0] if str(err) else type(err).__name__)
    secret = os.environ.get("PGPASSWORD")
    return text.replace(secret, "***")[:300] if secret else text[:300]
