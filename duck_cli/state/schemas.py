"""Where asset relations live: the asset schemas an environment builds in, and its search path.

An asset's relation is ``<schema>.<name>`` in production and ``<schema>__<env>.<name>`` in an
environment (`sql.relation`). A connection creates the schemas it may build in and searches
the environment's copies first, then production's, so an unqualified read of what the
environment did not build falls through to production.
"""

from __future__ import annotations

from duck_cli import sql as sqltext
from duck_cli.sql import env_schema, quote_ident, split_relation


def set_search_path(con, env: str, schemas: tuple[str, ...]) -> None:
    """Make ``con`` build in environment ``env`` (`sql.search_path`): unqualified CREATE lands
    in its main, unqualified reads find every asset schema, the environment's copy first. A
    schema not created yet (a read-only open) is left out: DuckDB refuses it."""
    wanted = sqltext.search_path(env, schemas).split(",")
    if wanted == ["main"]:
        return
    found = {r[0] for r in con.execute(
        "SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database()"
    ).fetchall()}
    con.execute(f"SET search_path = '{','.join(s for s in wanted if s in found)}'")


def relation_key(name: str) -> str:
    """A relation's key in `Warehouse.kinds`: lower-case 'schema.name' (a bare name is in main).

    >>> relation_key('Orders'), relation_key('marts.Orders')
    ('main.orders', 'marts.orders')
    """
    schema, table = split_relation(name)
    return f"{schema}.{table}".lower()


def create_schemas(con, env: str, schemas: tuple[str, ...]) -> None:
    """Create the asset schemas (an environment's copies of them, and production's, which an
    environment's search path names too)."""
    found = {r[0] for r in con.execute(
        "SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database()"
    ).fetchall()}  # only the missing ones: a statement may cost a lake a snapshot
    for schema in schemas:
        for name in dict.fromkeys((env_schema(env, schema), schema)):
            if name not in found:
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(name)}")
