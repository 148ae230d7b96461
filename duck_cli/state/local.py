"""The local state backend (the default): the catalog as a DuckDB file in ``.duck/``, one
writer at a time under the project's lock file, readers from a cached snapshot."""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from datetime import datetime
from typing import Callable, Iterable, Iterator

from duck_cli.models import Settings
from duck_cli.records import Snapshot
from duck_cli.state import catalog as cat
from duck_cli.state import lock
from duck_cli.state.snapshot import read_catalog_snapshot
from duck_cli.state.warehouse import Warehouse


class LocalState:
    """The `StateBackend` of a catalog file (settings.catalog)."""

    mode = "local"

    def __init__(self, settings: Settings):
        self.path = settings.catalog
        self.state_dir = settings.state_dir  # production's folder: one writer for all environments

    def describe(self) -> str:
        """The catalog file's path."""
        return str(self.path)

    @contextmanager
    def open(self, *, read_only: bool, wait: float) -> Iterator[cat.Catalog | None]:
        """The catalog for one short transaction (None: reading a catalog not made yet)."""
        with cat.open_catalog(self.path, read_only=read_only, wait=wait) as c:
            yield c

    def writer(self, wh, *, wait: float) -> cat.Catalog:
        """The catalog attached to a local warehouse's connection (a tenth of the cost of a
        connection of its own), else a connection of its own."""
        if isinstance(wh, Warehouse):
            return cat.attach(wh.con, self.path, wait=wait, lazy=wh.lake)
        return cat.open_connection(self.path, read_only=False, wait=wait)

    def lock(self, command: str, assets: Iterable[str] | None, *, wait: float, now: datetime,
             on_wait: Callable[[dict | None], None] | None = None):
        """The project's lock file: one writer for all assets (DuckDB files allow no more)."""
        return lock.write_lock(self.state_dir, command, wait=wait, now=now, on_wait=on_wait)

    def lock_assets(self, command: str, assets: Iterable[str], *, exclusive: bool, wait: float,
                    now: datetime, on_wait=None):
        """Nothing more to hold: the lock file already covers every asset (never waits)."""
        return nullcontext(False)

    def alive(self, runs: Iterable) -> set[str]:
        """None: the lock file is held, so no other writer's run is in progress."""
        return set()

    def serial(self, name: str):
        """Nothing to hold: the lock file already admits one writer."""
        return nullcontext()

    def issuer(self) -> None:
        """None: the session counts ids itself (one writer at a time)."""
        return None

    def is_locked(self) -> bool:
        """Whether some process holds the lock file."""
        return lock.is_locked(self.state_dir)

    def read_snapshot(self, wait: float) -> Snapshot:
        """The catalog's snapshot (cached while the file is unchanged)."""
        return read_catalog_snapshot(self.path, wait)
