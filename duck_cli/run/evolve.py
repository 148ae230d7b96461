"""Schema evolution of an incremental table: the SQL's columns may change between partitions.

A column the SQL starts producing is added to the table (older partitions hold NULL there);
a column it stops producing is dropped once no partition holds a value in it.
"""

from __future__ import annotations

from duck_cli.models import Asset
from duck_cli.sql import quote_ident


def add_columns(s, con, asset: Asset, relation: str, table: str) -> list[str]:
    """Add the staged columns ``table`` (quoted) lacks; return those it no longer produces."""
    staged = con.execute(f"DESCRIBE {relation}").fetchall()
    names = [r[0] for r in staged]
    if s.columns.get(asset.name) == names:
        return []
    existing = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
    added = [(c, t) for c, t, *_ in staged if c not in existing]
    for col, typ in added:
        con.execute(f"ALTER TABLE {table} ADD COLUMN {quote_ident(col)} {typ}")
    dropped = sorted(existing - set(names))
    if not dropped:
        s.columns[asset.name] = names
    return dropped


def drop_emptied(con, asset: Asset, columns: list[str], table: str) -> None:
    """Drop columns the SQL no longer produces once no partition of ``table`` holds a value
    in them."""
    for col in columns:
        if col == asset.partitions.column:
            continue
        if not con.execute(f"SELECT count({quote_ident(col)}) FROM {table}").fetchone()[0]:
            con.execute(f"ALTER TABLE {table} DROP COLUMN {quote_ident(col)}")
