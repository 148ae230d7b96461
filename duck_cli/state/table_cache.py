"""Table sources' versions as the last command observed them, cached by the warehouse file's
identity on disk (a writer's at the identity it leaves the file with: `WriterTables`).

Observing a table source read-only means attaching the warehouse file, and DuckDB then loads
the catalog of every table in it: about 0.3 s of CPU at 10,000 tables, most of a `duck status`.
Any change to a table changes the warehouse file or its write-ahead log (size, mtime_ns, inode),
so while neither changed, the versions observed last are still the live ones. Only tables in
the warehouse itself are cached (a table in an attached database can change on its own), and
only when the warehouse was unchanged from before the observation to after it (no writer in
between).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from duck_cli.models import Asset, Settings
from duck_cli.sql import split_relation
from duck_cli.state.versions import load_cache, save_cache


def stamp(warehouse: Path) -> tuple | None:
    """The identity of the warehouse file and its WAL (None: there is no warehouse yet)."""
    try:
        st = os.stat(warehouse)
    except OSError:
        return None
    try:
        wal = os.stat(f"{warehouse}.wal")
        wal_stamp = (wal.st_size, wal.st_mtime_ns, wal.st_ino)
    except OSError:
        wal_stamp = None
    return (st.st_size, st.st_mtime_ns, st.st_ino, wal_stamp)


def cache_path(settings: Settings) -> Path:
    """The cache file, beside the catalog."""
    return settings.catalog.parent / "cache" / "tables.pickle"


def cacheable(settings: Settings) -> bool:
    """Whether the warehouse is a local file whose stamp tells a change (not a lake)."""
    return settings.lake is None


def in_warehouse(asset: Asset, settings: Settings) -> bool:
    """Whether a table source lives in the warehouse (not in a database under `attach`)."""
    first = asset.source.table.split(".", 1)[0].strip('"')
    return "." not in asset.source.table or first not in settings.attach


def relation_key(table: str) -> tuple[str, str]:
    """(schema, name) in lower case of a source's table ('orders', 'raw.orders', '"Raw".x').

    >>> relation_key('Orders'), relation_key('"raw"."orders"'), relation_key('db.raw.orders')
    (('main', 'orders'), ('raw', 'orders'), ('raw', 'orders'))
    """
    schema, name = split_relation(table.replace('"', "").lower())
    return schema.rpartition(".")[2], name


def fingerprint(asset: Asset, keys: list[str]) -> str:
    """What an observation depends on besides the data: the source, its partitions, the keys."""
    digest = hashlib.blake2b(f"{asset.source!r}\0{asset.partitions!r}\0".encode(), digest_size=16)
    digest.update("\n".join(keys).encode())
    return digest.hexdigest()


class TableVersions:
    """The cache file: by asset name, (warehouse stamp, fingerprint, versions)."""

    def __init__(self, path: Path):
        self.path = path
        self.entries: dict = load_cache(path)
        self.dirty = False

    def get(self, asset: Asset, keys: list[str], now_stamp: tuple | None):
        """The cached versions of one table source, or None."""
        hit = self.entries.get(asset.name)
        if now_stamp is None or hit is None or hit[0] != now_stamp:
            return None
        return hit[2] if hit[1] == fingerprint(asset, keys) else None

    def put(self, asset: Asset, keys: list[str], now_stamp: tuple, versions: dict) -> None:
        """Remember one table source's versions, observed at ``now_stamp``."""
        entry = (now_stamp, fingerprint(asset, keys), versions)
        if self.entries.get(asset.name) != entry:  # a no-op command leaves the file as it is
            self.entries[asset.name] = entry
            self.dirty = True

    def save(self) -> None:
        """Write the file if it changed (a cache: failing to write it costs an observation)."""
        if not self.dirty:
            return
        save_cache(self.path, self.entries)


class WriterTables:
    """Table sources' versions for a writing command, through the same cache: the warehouse's
    stamp is taken once the command has opened it, and a cached observation at that stamp is
    used. What the command observed is cached at the stamp the command leaves the file with:
    no one else wrote the file while the command held it, and duck writes no source table
    (unless user Python code, given the connection, ran: `settle`). A command that changed
    nothing caches at the stamp it found."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.stamp = stamp(settings.warehouse) if cacheable(settings) else None
        self.cache = TableVersions(cache_path(settings)) if self.stamp else None
        self.used: list[tuple[Asset, list[str], dict]] = []  # observed, or read from the cache
        self.settled: tuple | None = None  # (the file's stamp as the command leaves it, what
        # may be cached at it)

    def versions(self, asset: Asset, keys: list[str], observe) -> dict:
        """One table source's versions: cached, else ``observe()`` (remembered for `close`)."""
        if self.cache is None or not in_warehouse(asset, self.settings):
            return observe()
        hit = self.cache.get(asset, keys, self.stamp)
        if hit is None:
            hit = observe()
        self.used.append((asset, keys, hit))
        return hit

    def settle(self, con, user_code_ran: bool, built: set[tuple[str, str]]) -> None:
        """Before the writer's connection ``con`` closes: checkpoint the file (as the close
        would) and stamp it, still holding it. Not after user Python code ran: it may have
        written a source table through the connection. A source reading a table duck builds
        (one of ``built``, (schema, name) in lower case) is left out: this command may have
        changed it."""
        from duck_cli.engine import duckdb

        kept = [u for u in self.used if relation_key(u[0].source.table) not in built]
        if self.cache is None or not kept or user_code_ran:
            return
        try:
            con.execute("CHECKPOINT")
        except duckdb.Error:  # an open transaction: then nothing is cached at a new stamp
            return
        self.settled = (stamp(self.settings.warehouse), kept)

    def close(self) -> None:
        """After the warehouse is closed: if the command changed nothing, its versions at the
        stamp it found; else those `settle` kept, at the stamp the command left (the close
        wrote nothing more and no one wrote after it)."""
        if self.cache is None:
            return
        now = stamp(self.settings.warehouse)
        if now == self.stamp:
            found = self.used
        elif self.settled is not None and now == self.settled[0]:
            found = self.settled[1]
        else:
            return
        for asset, keys, versions in found:
            self.cache.put(asset, keys, now, versions)
        self.cache.save()
