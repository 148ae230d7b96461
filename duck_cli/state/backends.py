"""Choosing the backends from ``duck.yaml``: the one place that knows which exist.

``state: {postgres: CONNINFO}`` puts the state in PostgreSQL (`state/postgres.py`), ``warehouse:
{ducklake: {...}}`` makes the warehouse a DuckLake (`state/lake.py`); without them both are the
local DuckDB files. Backend modules are imported (by name) only when chosen. Secrets come only from the
environment: libpq's own variables and service file, or an ``env:NAME`` value read when the
backend is opened; a connection string is never printed.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from importlib import import_module
from typing import Callable, Iterable, Iterator, Mapping

from duck_cli.errors import StateError, UsageError
from duck_cli.models import Settings
from duck_cli.records import Snapshot
from duck_cli.state.local import LocalState
from duck_cli.state.store import StateBackend, StateStore, WarehouseBackend
from duck_cli.state.warehouse import Warehouse


def state_backend(settings: Settings, environ: Mapping[str, str] | None = None) -> StateBackend:
    """The state backend ``duck.yaml`` names (the local catalog file by default)."""
    if settings.state_dsn is None:
        return LocalState(settings)
    dsn = resolve(settings.state_dsn, "state.postgres", environ)
    postgres = _backend("postgres", "state is in PostgreSQL ({postgres: ...})")
    return postgres.PostgresState(settings, dsn)


@dataclass(frozen=True)
class Storage:
    """Which backends a project uses and where they are (for `duck doctor`; no secret)."""

    state: str  # local | postgres
    state_at: str
    warehouse: str  # local | ducklake
    warehouse_at: str
    schema_version: int | None = None  # the PostgreSQL state's schema (None: local, or none yet)
    server: str | None = None  # the PostgreSQL server's version

    @property
    def mode(self) -> str:
        """'local' (both files) or 'shared'."""
        return "local" if (self.state, self.warehouse) == ("local", "local") else "shared"


def storage(settings: Settings, root: Path) -> Storage:
    """The project's backends (files shown relative to the project folder ``root``), the
    PostgreSQL state's connection checked (a StateError when it cannot be reached, when its
    password is refused, ...)."""
    backend = state_backend(settings)
    version = server = None
    state_at = _inside(root, settings.catalog)
    if backend.mode == "postgres":
        version, server = backend.version()
        state_at = backend.describe()
    lake = settings.lake
    return Storage(backend.mode, state_at, "ducklake" if lake else "local",
                   f"{lake['data_path']} (catalog {lake['catalog']})" if lake
                   else _inside(root, settings.warehouse), version, server)


def _inside(root: Path, path: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def mode(settings: Settings) -> str:
    """The storage mode for people: 'local', or which parts are shared."""
    state = "postgres" if settings.state_dsn else "local"
    warehouse = "ducklake" if settings.lake is not None else "local"
    return "local" if (state, warehouse) == ("local", "local") else \
        f"state {state}, warehouse {warehouse}"


@contextmanager
def open_state(settings: Settings, *, read_only: bool,
               wait: float | None = None) -> Iterator[StateStore | None]:
    """A state store for one short transaction; None when reading a state not made yet."""
    backend = state_backend(settings)
    with backend.open(read_only=read_only,
                      wait=settings.wait_seconds if wait is None else wait) as store:
        yield store


def read_snapshot(settings: Settings) -> Snapshot:
    """One snapshot of the state for a reading command."""
    return state_backend(settings).read_snapshot(settings.wait_seconds)


def open_warehouse(settings: Settings, *, wait: float, read_only: bool = False) -> WarehouseBackend:
    """The warehouse ``duck.yaml`` names, open (the local file by default)."""
    if settings.lake is None:
        return Warehouse.open(settings, wait=wait, read_only=read_only)
    lake = _backend("lake", "warehouse is a DuckLake ({ducklake: ...})")
    return lake.LakeWarehouse.open(settings, wait=wait, read_only=read_only)


def drop_lake_environment(settings: Settings, slug: str, *, wait: float) -> bool:
    """Drop an environment's schemas from the DuckLake warehouse; whether it had any."""
    lake = _backend("lake", "warehouse is a DuckLake ({ducklake: ...})")
    return lake.drop_environment(settings, slug, wait=wait)


def _backend(name: str, what: str):
    """The backend module ``state/<name>.py``, imported only when chosen; a StateError when
    this duck has none."""
    try:
        return import_module(f"duck_cli.state.{name}")
    except ModuleNotFoundError as err:
        if err.name != f"duck_cli.state.{name}":
            raise
        raise StateError(f"duck.yaml's {what}, which this version of duck cannot open",
                         hint="Upgrade duck, or remove the setting from duck.yaml to use the "
                         "local files.") from None


def write_lock(settings: Settings, command: str, *, wait: float, now: datetime,
               assets: Iterable[str] | None = None,
               on_wait: Callable[[dict | None], None] | None = None):
    """Hold the state's write lock for ``assets`` (None: the whole project)."""
    return state_backend(settings).lock(command, assets, wait=wait, now=now, on_wait=on_wait)


def resolve(value: str, where: str, environ: Mapping[str, str] | None = None) -> str:
    """``value``, or the environment variable it names as ``env:NAME`` (a UsageError naming
    the setting and the variable, never a value, when it is not set).

    >>> resolve("service=duck", "state.postgres", {})
    'service=duck'
    >>> resolve("env:PG", "state.postgres", {"PG": "host=db"})
    'host=db'
    """
    if not value.startswith("env:"):
        return value
    name = value[4:].strip()
    found = (os.environ if environ is None else environ).get(name)
    if not found:
        raise UsageError(f"duck.yaml's {where} reads the environment variable {name}, which is "
                         "not set", hint=f"Set {name} (e.g. in the CI job's secrets) and run the "
                         "command again.")
    return found
