"""State in PostgreSQL (``state: {postgres: CONNINFO}`` in duck.yaml): the shared mode's
`StateBackend`.

The records live in the schema ``duck`` (`postgres_schema.py`: tables, version, migrations),
read and written by `PgStore` (`postgres_store.py`). The write lock is PostgreSQL's advisory
locks, held by a connection of their own for the whole command: one per asset written (so
writers on different assets do not wait for each other) under a shared project lock, or the
project lock alone, exclusively, for a command that may touch everything; who holds one is
written in ``holders``, keyed by the holding connection's backend pid, so a refusal names
the holder. psycopg is imported only here, when a project chooses this mode. The connection
string may hold a password only through the environment; it is never printed (`shown`).
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from contextlib import contextmanager
from datetime import datetime
from typing import Callable, Iterable, Iterator

from duck_cli.errors import LockedError, StateError
from duck_cli.models import Settings
from duck_cli.records import Snapshot
from duck_cli.sql import env_schema, quote_ident
from duck_cli.state import postgres_schema as schema
from duck_cli.state.postgres_ids import Issuer
from duck_cli.state.postgres_store import PgStore
from duck_cli.state.snapshot import process_alive

CONNECT_SECONDS = 10  # how long a connection attempt may take before it is an error


class PostgresState:
    """The `StateBackend` of a PostgreSQL database."""

    mode = "postgres"

    def __init__(self, settings: Settings, dsn: str):
        self.dsn = dsn
        self.settings = settings
        self.schema = env_schema(settings.env, "duck")  # production's: duck; pr-42's: duck__pr_42

    def describe(self) -> str:
        """'PostgreSQL (host=… dbname=…)': the connection without its password."""
        return f"PostgreSQL ({shown(self.dsn)})"

    def connect(self):
        """A new autocommit connection in UTC; one StateError per way it can fail."""
        try:
            import psycopg
        except ImportError:
            raise StateError("duck.yaml keeps the state in PostgreSQL, which needs psycopg",
                             hint="pip install 'duck-cli[postgres]'") from None

        try:
            con = psycopg.connect(self.dsn, autocommit=True, connect_timeout=CONNECT_SECONDS)
        except psycopg.Error as err:
            raise connection_error(self.dsn, err) from None
        con.execute("SET TIME ZONE 'UTC'")
        con.execute(f"SET search_path TO {quote_ident(self.schema)}")  # the environment's tables
        return con

    @contextmanager
    def open(self, *, read_only: bool, wait: float) -> Iterator[PgStore | None]:
        """The store for one short transaction; None when reading before duck made its schema."""
        con = self.connect()
        try:
            if not schema.prepare(con, read_only=read_only, where=self.describe(), schema=self.schema):
                yield None
                return
            with _database_errors(self):
                yield PgStore(con, self.describe())
        finally:
            con.close()

    def writer(self, wh, *, wait: float) -> PgStore:
        """A connection of its own for a writing session; the caller closes it."""
        con = self.connect()
        try:
            schema.prepare(con, read_only=False, where=self.describe(), schema=self.schema)
        except BaseException:
            con.close()
            raise
        return PgStore(con, self.describe())

    def read_snapshot(self, wait: float) -> Snapshot:
        """One snapshot, read in one repeatable-read transaction."""
        with self.open(read_only=True, wait=wait) as store:
            return store.snapshot() if store is not None else Snapshot.empty()

    def version(self) -> tuple[int | None, str]:
        """The schema version found (None: none yet) and the server's version, for doctor."""
        con = self.connect()
        try:
            return schema.found_version(con, self.schema), con.execute("SHOW server_version").fetchone()[0]
        finally:
            con.close()

    # -- locks ---------------------------------------------------------------------------

    @contextmanager
    def lock(self, command: str, assets: Iterable[str] | None, *, wait: float, now: datetime,
             on_wait: Callable[[dict | None], None] | None = None) -> Iterator[None]:
        """Hold the project lock (exclusive for ``assets`` None, else shared) and an
        exclusive lock per asset, each retried until ``wait``; then a LockedError naming the
        holder (exit 4)."""
        con = self.connect()
        try:
            schema.prepare(con, read_only=False, where=self.describe(), schema=self.schema)
            _forget_gone(con)
            keys = [(project_key(self.schema), assets is None)] + \
                [(asset_key(a, self.schema), True) for a in sorted({a.lower() for a in assets or ()})]
            _note_holder(con, command, now)
            deadline, told = time.monotonic() + wait, [False]
            for key, exclusive in keys:
                _acquire(con, key, exclusive, deadline, wait,
                         lambda k: _tell(con, k, on_wait, told), self.schema)
            yield
        finally:
            con.close()  # closing the session releases every advisory lock it holds

    @contextmanager
    def lock_assets(self, command: str, assets: Iterable[str], *, exclusive: bool, wait: float,
                    now: datetime, on_wait: Callable[[dict | None], None] | None = None
                    ) -> Iterator[bool]:
        """Hold the lock of each asset a session writes (exclusive for a writer that owns its
        partitions, shared among the runners of one backfill, whose claims keep them apart)
        on a connection of its own; yields whether it had to wait (the plan is then stale)."""
        con = self.connect()
        try:
            _note_holder(con, command, now)
            deadline, told = time.monotonic() + wait, [False]
            for name in sorted({a.lower() for a in assets}):
                _acquire(con, asset_key(name, self.schema), exclusive, deadline, wait,
                         lambda k: _tell(con, k, on_wait, told), self.schema)
            yield told[0]
        finally:
            con.close()

    def alive(self, runs: Iterable) -> set[str]:
        """The ids of ``runs`` whose process still holds a duck lock (its connection lives):
        another writer's run in progress, not one to mark abandoned or to repair. On this
        host a gone process, or this one (it runs one session at a time), is dead at once."""
        host = os.uname().nodename
        runs = [r for r in runs if r.host != host or (r.pid != os.getpid()
                                                      and process_alive(r.pid, r.host))]
        if not runs:
            return set()
        con = self.connect()
        try:
            live = set(con.execute(
                "SELECT h.pid, h.host FROM holders h JOIN pg_stat_activity a ON a.pid = "
                "h.backend_pid").fetchall())
        finally:
            con.close()
        return {r.run_id for r in runs if (r.pid, r.host) in live}

    @contextmanager
    def serial(self, name: str) -> Iterator[None]:
        """One process at a time in the block ``name`` (e.g. recording a dead run's ledger
        rows, which every runner that starts or takes over a claim may try at once)."""
        con = self.connect()
        try:
            con.execute("SELECT pg_advisory_lock(%s)", [_key("duck:serial:" + name)])
            yield
        finally:
            con.close()

    def issuer(self):
        """Run ids and sequence numbers for a session, issued in the state (postgres_ids)."""
        return Issuer(self.connect())

    def is_locked(self) -> bool:
        """Whether some duck command holds the project lock (shared or exclusive)."""
        con = self.connect()
        try:
            return bool(con.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND "
                "database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND classid = %s AND objid = %s AND objsubid = 1",
                _split(project_key(self.schema))).fetchone()[0])
        finally:
            con.close()

    def env_slugs(self) -> list[str]:
        """The environments whose state this database holds (schemas duck__<slug>)."""
        con = self.connect()
        try:
            return [r[0][len("duck__"):] for r in con.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'duck\\_\\_%' "
                "ORDER BY 1").fetchall()]
        finally:
            con.close()

    def drop_schema(self) -> bool:
        """Drop this environment's schema and every record in it (False: there was none)."""
        con = self.connect()
        try:
            found = con.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s",
                                [self.schema]).fetchone()[0]
            con.execute(f"DROP SCHEMA IF EXISTS {quote_ident(self.schema)} CASCADE")
            return bool(found)
        finally:
            con.close()

    def holders(self, key: int) -> list[dict]:
        """Who holds the advisory lock ``key`` (command, pid, host, since)."""
        con = self.connect()
        try:
            return _holders(con, key)
        finally:
            con.close()


def _note_holder(con, command: str, now: datetime) -> None:
    """Say who this lock connection is."""
    con.execute("INSERT INTO holders VALUES (pg_backend_pid(), %s, %s, %s, %s) "
                "ON CONFLICT (backend_pid) DO UPDATE SET command = excluded.command, "
                "pid = excluded.pid, host = excluded.host, since = excluded.since",
                [command, os.getpid(), os.uname().nodename, now])


def _forget_gone(con) -> None:
    """Forget holders whose connection is gone (a new backend may reuse their pid)."""
    con.execute("DELETE FROM holders WHERE backend_pid NOT IN (SELECT pid FROM "
                "pg_stat_activity)")


def _acquire(con, key: int, exclusive: bool, deadline: float, wait: float, waiting,
             schema: str = "duck") -> None:
    fn = "pg_try_advisory_lock" if exclusive else "pg_try_advisory_lock_shared"
    while not con.execute(f"SELECT {fn}(%s)", [key]).fetchone()[0]:
        waiting(key)
        if time.monotonic() >= deadline:
            held = _holders(con, key)
            what = "an asset it writes" if key != project_key(schema) else "the project"
            raise LockedError(f"{what} is locked by {describe(held[0] if held else None)}; "
                              f"waited {wait:g}s", hint="Wait for that command to finish, or "
                              "raise --wait; a lock dies with its holder's connection.")
        time.sleep(0.05)


def _tell(con, key: int, on_wait, told: list) -> None:
    if on_wait is not None and not told[0]:
        held = _holders(con, key)
        on_wait(held[0] if held else None)
        told[0] = True


def _holders(con, key: int) -> list[dict]:
    classid, objid = _split(key)
    rows = con.execute(
        "SELECT h.command, h.pid, h.host, h.since FROM pg_locks l JOIN holders h ON "
        "h.backend_pid = l.pid WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s "
        "AND l.objid = %s AND l.objsubid = 1 AND l.pid <> pg_backend_pid() ORDER BY h.since",
        [classid, objid]).fetchall()
    return [{"command": c, "pid": p, "host": h, "since": s.isoformat()} for c, p, h, s in rows]


def describe(info: dict | None) -> str:
    """'`duck materialize` (pid 123 on host, since …)', as the lock file's holder reads."""
    if not info:
        return "another duck process"
    return (f"`duck {info.get('command', '?')}` (pid {info.get('pid')} on {info.get('host')}, "
            f"since {info.get('since')})")


def project_key(schema: str = "duck") -> int:
    """The advisory lock key of the project as a whole (an environment's: its own)."""
    return _key(f"{schema}:project")


def asset_key(asset: str, schema: str = "duck") -> int:
    """The advisory lock key of one asset (names are case-insensitive)."""
    return _key(f"{schema}:asset:" + asset.lower())


def _key(text: str) -> int:
    """A signed 64-bit key from a name (stable across processes and machines)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big",
                          signed=True)


def _split(key: int) -> tuple[int, int]:
    """pg_locks shows a bigint advisory key as classid (high 32 bits) and objid (low 32)."""
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    return unsigned >> 32, unsigned & 0xFFFFFFFF


@contextmanager
def _database_errors(backend: PostgresState) -> Iterator[None]:
    """A server that goes away mid-command: one StateError, not psycopg's traceback."""
    import psycopg

    try:
        yield
    except psycopg.OperationalError as err:
        raise connection_error(backend.dsn, err) from None


_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.I)


def shown(dsn: str) -> str:
    """The connection string without a password (URI or key=value form).

    >>> shown("host=db password=s3cret dbname=duck")
    'host=db password=*** dbname=duck'
    >>> shown("postgresql://me:s3cret@db/duck")
    'postgresql://me:***@db/duck'
    """
    text = _PASSWORD.sub(r"\1***", dsn)
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", text)


def connection_error(dsn: str, err: Exception) -> StateError:
    """One clear StateError for a failed connection: which server, why, what to do."""
    text = " ".join(str(err).split())
    secret = _secret(dsn)
    if secret:
        text = text.replace(secret, "***")
    where = shown(dsn)
    if "password authentication failed" in text or "no password supplied" in text:
        why, hint = "the password was refused", ("Check PGPASSWORD (or the password file or "
                                                 "service file libpq reads); duck.yaml holds no "
                                                 "password.")
    elif "does not exist" in text and "database" in text:
        why, hint = "the database does not exist", "Create it (createdb NAME) or fix dbname."
    elif "Connection refused" in text or "No such file or directory" in text or \
            "could not translate host name" in text or "timeout expired" in text:
        why, hint = "the server cannot be reached", ("Check that PostgreSQL is running and that "
                                                     "host and port are right.")
    else:
        why, hint = text.split("failed:")[-1].strip() or "the connection failed", \
            "Check the connection settings in duck.yaml's state and libpq's variables."
    return StateError(f"cannot connect to the PostgreSQL state ({where}): {why}", hint=hint)


def _secret(dsn: str) -> str | None:
    match = _PASSWORD.search(dsn)
    if match:
        return match.group(2).strip("'")
    uri = re.search(r"://[^:/@]+:([^@]*)@", dsn)
    return uri.group(1) if uri else os.environ.get("PGPASSWORD") or None
