"""Where an environment's state lives, which environments exist, and dropping one.

Each environment keeps its own runs, steps, materializations and check results, in the same
shape as production's, so every reading command answers per environment unchanged:

- local state: a catalog file per environment, ``<production's state folder>/envs/<slug>/``
  (production's own file stays where duck.yaml puts it); the write lock and the downloaded
  extensions stay in production's folder, shared by all environments;
- PostgreSQL state: a schema per environment, ``duck__<slug>``, beside production's ``duck``.

Its tables are the schema ``main__<slug>`` of the same warehouse (`sql.env_schema`), and its
publish ledger ``_duck__<slug>.ledger`` (production's ledger never sees a preview's rows).
The environment's name, when it was first built, the git commit of its last build and
production's highest sequence number then are kept in its own state's meta values
(``env_name``, ``env_created``, ``env_commit``, ``env_built``, ``env_base_seq``).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from duck_cli.models import Settings
from duck_cli.sql import PROD, env_schema, env_slug, of_environment, quote_ident
from duck_cli.state import catalog as cat
from duck_cli.state.backends import (drop_lake_environment, open_state, open_warehouse,
                                     state_backend)

ENVS = "envs"  # the folder of the environments' catalogs, in production's state folder


def for_environment(settings: Settings) -> Settings:
    """Settings whose state is environment ``settings.env``'s (production's when prod)."""
    home = settings.state_dir
    if settings.env == PROD:
        return replace(settings, catalog=home / settings.catalog.name, home=None)
    return replace(settings, home=home,
                   catalog=home / ENVS / env_slug(settings.env) / settings.catalog.name)


def production(settings: Settings) -> Settings:
    """Production's settings (its state and tables), seen from any environment's."""
    return for_environment(replace(settings, env=PROD))


def named(settings: Settings, name: str) -> Settings:
    """The settings of environment ``name`` (its state and tables), seen from any other's."""
    return for_environment(replace(settings, env=name))


@dataclass(frozen=True)
class EnvInfo:
    """One environment as `duck env list` shows it."""

    name: str
    slug: str
    schema: str
    created_at: datetime | None
    built_at: datetime | None
    commit: str | None
    tables: int
    rows: int


def note_build(store, name: str, now: datetime, commit: str | None, base_seq: int) -> None:
    """Remember in an environment's state its name, first and latest build and commit, and
    production's highest sequence number when it was built (`duck promote` compares)."""
    store.set_meta("env_base_seq", str(base_seq))
    if store.meta("env_created") is None:
        store.set_meta("env_created", now.isoformat())
    store.set_meta("env_name", name)
    store.set_meta("env_built", now.isoformat())
    store.set_meta("env_commit", commit or "")


def slugs(settings: Settings, wait: float) -> list[str]:
    """The slugs of every environment found: a schema in the warehouse, or a state."""
    found = set(_schemas(settings, wait))
    if settings.state_dsn is None:
        folder = settings.state_dir / ENVS
        found |= {p.name for p in folder.iterdir() if p.is_dir()} if folder.is_dir() else set()
    else:
        found |= set(state_backend(production(settings)).env_slugs())
    return sorted(found)


def _schemas(settings: Settings, wait: float) -> dict[str, tuple[int, int]]:
    """(tables, rows) of each environment's schemas in the warehouse (``<schema>__<slug>``:
    an asset schema never holds '__'), by slug; a lake's too."""
    if settings.lake is not None:
        wh = open_warehouse(production(settings), wait=wait, read_only=True)
        con, close = wh.con, wh.close
    elif settings.warehouse.exists():
        con = cat.connect(settings.warehouse, read_only=True, wait=wait)
        close = con.close
    else:
        return {}
    try:
        rows = con.execute(
            "SELECT s.schema_name, count(t.table_name), coalesce(sum(t.estimated_size), 0) "
            "FROM duckdb_schemas() s LEFT JOIN duckdb_tables() t ON t.schema_name = "
            "s.schema_name AND t.database_name = s.database_name WHERE s.database_name = "
            "current_database() AND s.schema_name LIKE '%\\_\\_%' ESCAPE '\\' AND "
            "s.schema_name NOT LIKE '\\_duck%' ESCAPE '\\' GROUP BY ALL").fetchall()
    finally:
        close()
    out: dict[str, tuple[int, int]] = {}
    for schema, n, size in rows:
        slug = schema.split("__", 1)[1]
        tables, total = out.get(slug, (0, 0))
        out[slug] = (tables + int(n), total + int(size))
    return out


def describe(settings: Settings, wait: float) -> list[EnvInfo]:
    """Every environment with its age, size and commit (read from its own state)."""
    schemas, out = _schemas(settings, wait), []
    for slug in slugs(settings, wait):
        meta = {}
        with open_state(named(settings, slug), read_only=True, wait=wait) as store:
            if store is not None:
                meta = {k: store.meta(k) for k in
                        ("env_name", "env_created", "env_built", "env_commit")}
        tables, rows = schemas.get(slug, (0, 0))
        out.append(EnvInfo(meta.get("env_name") or slug, slug, env_schema(slug), _when(
            meta.get("env_created")), _when(meta.get("env_built")),
            meta.get("env_commit") or None, tables, rows))
    return out


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def drop(settings: Settings, name: str, wait: float) -> bool:
    """Drop environment ``name``'s tables and state (False: there was none)."""
    slug, existed = env_slug(name), False
    if settings.lake is not None:  # a schema of the lake, dropped in one lake commit
        existed = drop_lake_environment(settings, slug, wait=wait)
    elif settings.warehouse.exists():
        con = cat.connect(settings.warehouse, read_only=False, wait=wait)
        try:
            for schema in _env_schemas(con, slug):
                existed = True
                con.execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")
        finally:
            con.close()
    return _drop_state(settings, slug) or existed


def _env_schemas(con, slug: str) -> list[str]:
    """Every schema of environment ``slug`` in the connection's database."""
    names = [r[0] for r in con.execute("SELECT schema_name FROM duckdb_schemas() WHERE "
                                       "database_name = current_database()").fetchall()]
    return [n for n in names if of_environment(n, slug)]


def _drop_state(settings: Settings, slug: str) -> bool:
    if settings.state_dsn is not None:
        return state_backend(named(settings, slug)).drop_schema()
    folder: Path = settings.state_dir / ENVS / slug
    if not folder.is_dir():
        return False
    shutil.rmtree(folder)
    return True


def base_seq(settings: Settings, wait: float, con=None) -> int:
    """Production's highest sequence number when environment ``settings.env`` was last built.

    With ``con`` (production's open warehouse connection) a local catalog is read through a
    read-only ATTACH on it: no second DuckDB instance to start and close (`duck promote`)."""
    if con is not None and settings.state_dsn is None:
        return _attached_base_seq(con, settings.catalog)
    with open_state(settings, read_only=True, wait=wait) as store:
        value = store.meta("env_base_seq") if store is not None else None
    return int(value) if value else 0


def _attached_base_seq(con, path: Path) -> int:
    if not path.exists():
        return 0
    literal = "'" + str(path).replace("'", "''") + "'"
    con.execute(f"ATTACH {literal} AS duck_env_state (READ_ONLY)")
    try:
        row = con.execute("SELECT value FROM duck_env_state.duck_meta "
                          "WHERE key = 'env_base_seq'").fetchone()
    finally:
        con.execute("DETACH duck_env_state")
    return int(row[0]) if row and row[0] else 0


def older_than(settings: Settings, cutoff: datetime, wait: float) -> list[EnvInfo]:
    """The environments last built before ``cutoff`` (or never recorded as built)."""
    return [e for e in describe(settings, wait) if (e.built_at or e.created_at) is None
            or (e.built_at or e.created_at) < cutoff]
