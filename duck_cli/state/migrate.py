"""`duck migrate`: move a project's state and warehouse between the local files in ``.duck/``
and the shared mode duck.yaml names (state in PostgreSQL, warehouse as a DuckLake), and back.

duck.yaml says where the shared side is; the local side is always the files duck.yaml's
``catalog`` and ``warehouse`` name. Only the parts duck.yaml makes shared move (a project with
only ``state: {postgres: ...}`` moves only its records). The source is read, never written, and
held under its write lock (and the target's) for the whole move. Each target part is marked
incomplete before anything is copied into it, then filled in one transaction, then the rows
and hashes of every table are compared on both sides; the marks go only when all match. A
migrate that fails or is interrupted thus leaves a target that is empty or marked: running
`duck migrate` again starts it over without ``--force``.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

from duck_cli.errors import StateError, UsageError
from duck_cli.models import Settings
from duck_cli.sql import PROD
from duck_cli.state import lake, lake_config, migrate_copy as mc, migrate_sides as sides
from duck_cli.state.local import LocalState
from duck_cli.state.migrate_copy import Compared


@dataclass(frozen=True)
class Move:
    """One part moving: the state or the warehouse, from one backend to another."""

    part: str  # state | warehouse
    source: mc.Db
    target: mc.Db
    source_at: str  # where, for people (no secret)
    target_at: str


@dataclass(frozen=True)
class MigrateReport:
    """What `duck migrate` moved, what it replaced, and every table compared."""

    to: str  # shared | local
    moves: tuple[Move, ...]
    compared: tuple[Compared, ...]
    replaced: tuple[str, ...]  # what --force (or a migrate started over) replaced

    @property
    def ok(self) -> bool:
        """Whether every table holds the same rows on both sides."""
        return all(c.match for c in self.compared)


def moves(settings: Settings, root: Path, to: str) -> tuple[Move, ...]:
    """The parts duck.yaml makes shared, each from its source to its target."""
    if to not in ("shared", "local"):
        raise UsageError(f"--to {to}: migrate moves a project --to shared (the PostgreSQL state "
                         "and DuckLake warehouse duck.yaml names) or --to local (the files in "
                         ".duck/)", hint="Run duck migrate --to shared, or --to local.")
    if settings.env != PROD:
        raise UsageError(f"--env {settings.env}: migrate moves production, and environments "
                         "are previews built again in a minute", hint="Run without --env.")
    out = []
    if settings.state_dsn:
        where = f"PostgreSQL ({sides.shown_dsn(settings)})"
        out.append(_move("state", to, mc.Db("loc_cat", "main", "local"),
                         mc.Db("pg_state", "duck", "postgres"), _inside(root, settings.catalog),
                         where))
    cfg = lake.lake_of(settings, root)
    if cfg is not None:
        where = f"DuckLake {cfg.data_path} (catalog {lake_config.shown_catalog(cfg)})"
        out.append(_move("warehouse", to, mc.Db("loc_wh", "main", "local"),
                         mc.Db(lake_config.ALIAS, "main", "ducklake"),
                         _inside(root, settings.warehouse), where))
    if not out:
        raise UsageError("duck.yaml names no shared state or warehouse to migrate to or from",
                         hint="Add state: {postgres: 'service=duck'} and/or warehouse: "
                         "{ducklake: {catalog: 'postgres:service=duck_lake', data_path: "
                         "'s3://bucket/duck/'}} to duck.yaml, then run duck migrate --to shared.")
    return tuple(out)


def _move(part: str, to: str, local: mc.Db, shared: mc.Db, local_at: str,
          shared_at: str) -> Move:
    if to == "shared":
        return Move(part, local, shared, local_at, shared_at)
    return Move(part, shared, local, shared_at, local_at)


def _inside(root: Path, path: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def migrate(settings: Settings, root: Path, to: str, *, force: bool, wait: float,
            clock: Callable[[], datetime],
            fault: Callable[[str], None] = lambda point: None) -> MigrateReport:
    """Move the parts, under both sides' write locks; then compare every table. ``fault`` is
    the crash tests' hook, called after each part is copied (point ``migrate``)."""
    plan = moves(settings, root, to)
    now = clock()
    with ExitStack() as held:
        held.enter_context(LocalState(settings).lock("migrate", None, wait=wait, now=now))
        pg = sides.postgres(settings) if settings.state_dsn else None
        if pg is not None:  # checks the connection and the password first: one clear error
            held.enter_context(pg.lock("migrate", None, wait=wait, now=now))
        sides.refuse_environments(settings, pg)
        con = held.enter_context(sides.connection(settings, root, plan))
        sides.attach_sources(con, settings, plan)
        replaced = sides.prepare_targets(con, settings, plan, force=force,
                                         mark=_mark(plan, now))
        for move in sorted(plan, key=lambda m: m.part != "warehouse"):  # data before records
            _copy(con, move)
            fault("migrate")
        compared = [c for m in plan for c in _verify(con, m)]
        if all(c.match for c in compared):  # else the marks stay: a re-run starts over
            sides.unmark(con, settings, plan)
    return MigrateReport(to, plan, tuple(compared), tuple(replaced))


def _mark(plan: tuple[Move, ...], now: datetime) -> str:
    """The incomplete mark a target carries until the move is verified."""
    return json.dumps({"status": "incomplete", "from": [m.source_at for m in plan],
                       "started": now.isoformat()})


def _copy(con, move: Move) -> None:
    from duck_cli.engine import duckdb

    try:
        if move.part == "warehouse":
            sides.make_source_views(con, move.source)
            mc.copy_warehouse(con, move.source, move.target, mc.relations(con, move.source))
        else:
            mc.copy_state(con, move.source, move.target)
    except duckdb.Error as err:
        _rollback(con)
        raise sides.copy_error(move, err) from None


def _rollback(con) -> None:
    from duck_cli.engine import duckdb

    try:
        con.execute("ROLLBACK")
    except duckdb.Error:  # the failed statement ended the transaction already
        pass


def _verify(con, move: Move) -> list[Compared]:
    from duck_cli.engine import duckdb

    try:
        if move.part == "warehouse":
            return mc.verify_warehouse(con, move.source, move.target,
                                       mc.relations(con, move.source))
        return mc.verify_state(con, move.source, move.target)
    except duckdb.Error as err:
        raise StateError(f"the {move.part} was copied to {move.target_at} but could not be "
                         f"compared: {sides.safe_text(err)}", hint="The target stays marked "
                         "incomplete; run duck migrate again to start over.") from None

