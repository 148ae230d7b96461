"""A table source in the lake: its versions kept while the lake's snapshots show no change to it.

Observing a table source hashes its rows (`Warehouse.observe_table`): ~100 ms for a million
rows on a lake, on every writing command. A DuckLake says what changed in each snapshot
(``ducklake_snapshot_changes`` in its catalog: "inserted_into_table:12", "inlined_delete:12",
"altered_table:12", ...), and a table dropped and made again gets a new id. So the versions
observed at snapshot N still hold at a later snapshot M when the table has the same id and no
snapshot in (N, M] names it. The check reads the lake's catalog once (the snapshots after N),
however large the table.

The cache is a file beside the catalog (by asset: the table's id, the snapshot it was last
known unchanged at, with that snapshot's time, and the versions). It is used only when the
lake proves nothing changed: the snapshot N is still there with the same time (not another
lake at the same place, not expired), the snapshots after it are all there (none expired in
between), and none names the table or says something duck cannot read. Anything else hashes.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from duck_cli.sql import quote_ident
from duck_cli.state.versions import load_cache, save_cache

_ID_CHANGE = re.compile(r"[a-z_]+:(\d+)")  # a change to the object with that id
_NAMED = ("created_schema:", "created_table:", "created_view:")  # name a new object


@dataclass(frozen=True)
class Seen:
    """A table known unchanged at a lake snapshot: its id, the snapshot and its time."""

    table_id: int
    snapshot: int
    time: str


def touches(changes: str | None, table_id: int) -> bool:
    """Whether a snapshot's ``changes_made`` may have changed the table ``table_id`` (a list
    duck cannot read counts as a change).

    >>> touches('inserted_into_table:3,created_table:"main"."x"', 3)
    True
    >>> touches('inlined_delete:4,created_schema:"s"', 3)
    False
    >>> touches('merged_everything', 3)
    True
    """
    if changes is None:
        return True
    for token in changes.split(","):
        if token.startswith(_NAMED):
            continue
        found = _ID_CHANGE.fullmatch(token)
        if found is None or int(found.group(1)) == table_id:
            return True
    return False


def still(seen: Seen, table_id: int | None, snapshots: list) -> Seen | None:
    """``seen`` moved on to the lake's latest snapshot when nothing since changed the table,
    else None. ``snapshots``: (id, time, changes) from ``seen.snapshot`` on, in order."""
    if table_id != seen.table_id or not snapshots:
        return None
    first, last = snapshots[0], snapshots[-1]
    if (first[0], first[1]) != (seen.snapshot, seen.time) or \
            last[0] - first[0] != len(snapshots) - 1:  # one expired in between: unknown
        return None
    if any(touches(changes, table_id) for _i, _t, changes in snapshots[1:]):
        return None
    return Seen(table_id, last[0], last[1])


def read(con, alias: str, schema: str, table: str, since: int | None):
    """The table's id in the lake (None: no such table) and the snapshots from ``since`` on
    (None: the latest alone), as (id, time text, changes); one statement."""
    meta = quote_ident(f"__ducklake_metadata_{alias}")
    table_id, rows = con.execute(
        f"SELECT (SELECT t.table_id FROM {meta}.ducklake_table t JOIN {meta}.ducklake_schema s "
        "ON t.schema_id = s.schema_id WHERE t.end_snapshot IS NULL AND s.end_snapshot IS NULL "
        "AND lower(s.schema_name) = lower($schema) AND lower(t.table_name) = lower($table) "
        "LIMIT 1), (SELECT list([s.snapshot_id::VARCHAR, s.snapshot_time::VARCHAR, "
        f"c.changes_made] ORDER BY s.snapshot_id) FROM {meta}.ducklake_snapshot s LEFT JOIN "
        f"{meta}.ducklake_snapshot_changes c ON c.snapshot_id = s.snapshot_id WHERE "
        f"s.snapshot_id >= coalesce($since, (SELECT max(snapshot_id) FROM "
        f"{meta}.ducklake_snapshot)))",
        {"schema": schema, "table": table, "since": since}).fetchone()
    return table_id, [(int(i), t, c) for i, t, c in rows or []]


def fingerprint(asset, keys: list[str], where: tuple[str, str]) -> str:
    """What an observation depends on besides the data: the source, its partitions, the keys
    and the lake table it read."""
    digest = hashlib.blake2b(f"{asset.source!r}\0{asset.partitions!r}\0{where!r}\0".encode(),
                             digest_size=16)
    digest.update("\n".join(keys).encode())
    return digest.hexdigest()


class LakeTables:
    """Table sources' versions by asset, kept while the lake shows no change to their tables."""

    def __init__(self, path: Path, alias: str):
        self.path, self.alias = path, alias
        self.entries: dict = load_cache(path)

    def versions(self, con, asset, keys: list[str], where: tuple[str, str], observe) -> dict:
        """One table source's versions: the cached ones when the lake shows its table
        unchanged since, else ``observe()`` (cached when the table did not change while it
        ran)."""
        mark = fingerprint(asset, keys, where)
        hit = self.entries.get(asset.name)
        hit = hit if hit is not None and hit[1] == mark else None
        table_id, snapshots = read(con, self.alias, *where, hit[0].snapshot if hit else None)
        if table_id is None or not snapshots:
            return observe()
        if hit is not None and (now := still(hit[0], table_id, snapshots)) is not None:
            if now != hit[0]:
                self._put(asset, now, mark, hit[2])
            return dict(hit[2])
        at = snapshots[-1]
        found = observe()
        after_id, after = read(con, self.alias, *where, at[0])
        if (now := still(Seen(table_id, at[0], at[1]), after_id, after)) is not None:
            self._put(asset, now, mark, found)
        return found

    def _put(self, asset, seen: Seen, mark: str, versions: dict) -> None:
        self.entries[asset.name] = (seen, mark, versions)
        save_cache(self.path, self.entries)  # a few bytes; failing costs one more hash
