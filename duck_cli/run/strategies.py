"""Publishing the stateful strategies: append, merge (upsert) and snapshot (type 2 history).

Each runs inside the step's transaction, from the staged rows (``__duck_stage``) into the
published table, so a crash or a failed check leaves the table as it was. A first build, or a
full refresh (``--force``), creates the table from the staged rows alone. Only the rows'
columns are user SQL text; keys and columns are quoted, the run's time is a parameter.
"""

from __future__ import annotations

from datetime import datetime, timezone

from duck_cli.models import Asset
from duck_cli.sql import quote_ident

NEW = "__duck_new"  # alias of a staged row
OLD = "__duck_old"  # alias of a published row


def publish(con, asset: Asset, relation: str, *, table: str, exists: bool, now: datetime) -> None:
    """Move the staged rows into the asset's ``table`` (quoted) by its strategy; create it if
    need be."""
    strategy = asset.materialize.strategy
    if not exists:
        con.execute(f"CREATE TABLE {table} AS {first_load(asset, relation)}", _at(asset, now))
    elif strategy == "append":
        con.execute(f"INSERT INTO {table} BY NAME {appended(asset, relation, table)}")
    elif strategy == "merge":
        merge(con, asset, table, relation)
    else:
        snapshot(con, asset, table, relation, now)


def first_load(asset: Asset, relation: str) -> str:
    """The SELECT creating the table from the staged rows alone."""
    m = asset.materialize
    if m.strategy == "merge" and m.delete_when:
        return f"SELECT * FROM {relation} AS {NEW} WHERE NOT coalesce(({m.delete_when}), false)"
    if m.strategy == "snapshot":
        start = f"CAST({quote_ident(m.updated_at)} AS TIMESTAMP)" if m.updated_at else "$at"
        return (f"SELECT *, {start} AS valid_from, CAST(NULL AS TIMESTAMP) AS valid_to, "
                f"true AS is_current FROM {relation}")
    return f"SELECT * FROM {relation}"


def appended(asset: Asset, relation: str, table: str) -> str:
    """The staged rows an append inserts: all, or those past the published cursor."""
    cursor = asset.materialize.cursor
    if not cursor:
        return f"SELECT * FROM {relation}"
    col = quote_ident(cursor)
    return (f"SELECT * FROM {relation} WHERE {col} > (SELECT max({col}) FROM "
            f"{table}) OR (SELECT max({col}) FROM {table}) "
            "IS NULL")


def merged(asset: Asset, relation: str, table: str) -> str:
    """The ``table`` a merge would leave, as one SELECT (the whole-table checks read it)."""
    return (f"(SELECT * FROM ({_kept(asset, relation)}) UNION ALL BY NAME SELECT * FROM {table} "
            f"AS {OLD} WHERE NOT EXISTS (SELECT 1 FROM {relation} AS {NEW} "
            f"WHERE {_same_key(asset)}))")


def merge(con, asset: Asset, table: str, relation: str) -> None:
    """Upsert: delete the published rows whose key is staged, insert the staged rows (except
    those ``delete_when`` marks as deletions)."""
    con.execute(f"DELETE FROM {table} AS {OLD} WHERE EXISTS (SELECT 1 FROM {relation} AS {NEW} "
                f"WHERE {_same_key(asset)})")
    con.execute(f"INSERT INTO {table} BY NAME {_kept(asset, relation)}")


def _kept(asset: Asset, relation: str) -> str:
    cond = asset.materialize.delete_when
    where = f" WHERE NOT coalesce(({cond}), false)" if cond else ""
    return f"SELECT * FROM {relation} AS {NEW}{where}"


def snapshot(con, asset: Asset, table: str, relation: str, now: datetime) -> None:
    """Type 2 history: close the current version of each changed key (and, with hard_deletes,
    of each key no longer staged), then insert a current version of each changed or new key."""
    m, key = asset.materialize, _same_key(asset)
    ended = f"CAST({NEW}.{quote_ident(m.updated_at)} AS TIMESTAMP)" if m.updated_at else "$at"
    current = f"{OLD}.is_current"
    con.execute(f"UPDATE {table} AS {OLD} SET is_current = false, valid_to = ("
                f"SELECT {ended} FROM {relation} AS {NEW} WHERE {key}) WHERE {current} AND "
                f"EXISTS (SELECT 1 FROM {relation} AS {NEW} WHERE {key} AND ({_changed(asset)}))",
                _used(ended, now))
    if m.hard_deletes:
        con.execute(f"UPDATE {table} AS {OLD} SET is_current = false, valid_to = $at WHERE "
                    f"{current} AND NOT EXISTS (SELECT 1 FROM {relation} AS {NEW} WHERE {key})",
                    {"at": _naive(now)})
    start = f"CAST({NEW}.{quote_ident(m.updated_at)} AS TIMESTAMP)" if m.updated_at else "$at"
    con.execute(f"INSERT INTO {table} BY NAME SELECT {NEW}.*, {start} AS valid_from, "
                f"CAST(NULL AS TIMESTAMP) AS valid_to, true AS is_current FROM {relation} AS "
                f"{NEW} WHERE NOT EXISTS (SELECT 1 FROM {table} AS {OLD} WHERE {current} AND "
                f"{key})", _used(start, now))


def _changed(asset: Asset) -> str:
    m = asset.materialize
    cols = [m.updated_at] if m.updated_at else list(m.check_columns)
    return " OR ".join(f"{NEW}.{quote_ident(c)} IS DISTINCT FROM {OLD}.{quote_ident(c)}"
                       for c in cols)


def _same_key(asset: Asset) -> str:
    return " AND ".join(f"{NEW}.{quote_ident(c)} = {OLD}.{quote_ident(c)}"
                        for c in asset.materialize.unique_key)


def _at(asset: Asset, now: datetime) -> dict:
    m = asset.materialize
    return {"at": _naive(now)} if m.strategy == "snapshot" and not m.updated_at else {}


def _used(expr: str, now: datetime) -> dict:
    return {"at": _naive(now)} if "$at" in expr else {}


def _naive(now: datetime) -> datetime:
    """The run's time as a UTC TIMESTAMP (valid_from/valid_to have no time zone)."""
    return now.astimezone(timezone.utc).replace(tzinfo=None)
