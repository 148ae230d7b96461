"""Where asset relations live: the asset schemas an environment builds in, and its search path.

An asset's relation is ``<schema>.<name>`` in production and ``<schema>__<env>.<name>`` in an
environment (`sql.relation`). A connection creates the schemas it may build in and searches
the environment's copies first, then production's, so an unqualified read of what the
environment did not build falls through to production.
"""

from __future__ import annotations

from duck_cli import sql as sqltext
from duck_cli.sql import env_schema, quote_ident, split_relation


def set_search_path(con, env: str, schemas: tuple[str, ...],
                    found: frozenset[str] | None = None) -> None:
    """Make ``con`` build in environment ``env`` (`sql.search_path`): unqualified CREATE lands
    in its main, unqualified reads find every asset schema, the environment's copy first. A
    schema not created yet (a read-only open) is left out: DuckDB refuses it. ``found``: the
    database's schemas when the caller knows them (else they are read)."""
    wanted = sqltext.search_path(env, schemas).split(",")
    if wanted == ["main"]:
        return
    if found is None:
        found = _schemas(con)
    con.execute(f"SET search_path = '{','.join(s for s in wanted if s in found)}'")


def _schemas(con) -> frozenset[str]:
    return frozenset(r[0] for r in con.execute(
        "SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database()"
    ).fetchall())


def relation_key(name: str) -> str:
    """A relation's key in `Warehouse.kinds`: lower-case 'schema.name' (a bare name is in main).

    >>> relation_key('Orders'), relation_key('marts.Orders')
    ('main.orders', 'marts.orders')
    """
    schema, table = split_relation(name)
    return f"{schema}.{table}".lower()


def create_schemas(con, env: str, schemas: tuple[str, ...],
                   found: frozenset[str] | None = None) -> frozenset[str]:
    """Create the asset schemas (an environment's copies of them, and production's, which an
    environment's search path names too); the database's schemas after. ``found``: its
    schemas when the caller knows them (else they are read)."""
    found = _schemas(con) if found is None else found
    missing = missing_schemas(env, schemas, found)
    for name in missing:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(name)}")
    return found | frozenset(missing)


def missing_schemas(env: str, schemas: tuple[str, ...], found: frozenset[str]) -> list[str]:
    """The asset schemas (an environment's copies and production's) not among ``found``: only
    those are created, since a statement may cost a lake a snapshot.

    >>> missing_schemas('pr-1', ('main', 'marts'), frozenset({'main', 'marts'}))
    ['main__pr_1', 'marts__pr_1']
    """
    names = (n for s in schemas for n in (env_schema(env, s), s))
    return [n for n in dict.fromkeys(names) if n not in found]
