"""A DuckLake warehouse's settings (``warehouse: {ducklake: {...}}`` in duck.yaml), how it is
attached, and the one clear error for each way attaching it fails.

The catalog is a PostgreSQL database named by libpq settings (``postgres:service=duck_lake``,
``postgres:dbname=lake host=...``), or ``env:NAME`` naming a variable that holds that text; the
password comes from libpq's own variables (PGPASSWORD), its password file or service file: never
from YAML. DuckDB's own messages quote the connection string, password and all, so no message
of theirs is passed on: each failure is recognised and worded here.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from duck_cli.errors import StateError, UsageError
from duck_cli.models import is_remote

ALIAS = "duck_lake"  # the lake's name on duck's connections
DEFAULT_RETENTION = "7 days"  # snapshots older than this are expired by `duck prune`
SETUP_HINT = ("Set the lake's catalog and data path in duck.yaml, e.g. warehouse: {ducklake: "
              "{catalog: 'postgres:service=duck_lake', data_path: 's3://bucket/duck/'}}, and "
              "the password in libpq's PGPASSWORD, a password file or a service file.")


@dataclass(frozen=True)
class LakeConfig:
    """Where the lake lives: its catalog (libpq text, secret-free) and its data path."""

    catalog: str  # e.g. postgres:service=duck_lake
    data_path: str  # a folder (absolute, with a trailing slash) or s3://bucket/prefix/
    retention: str = DEFAULT_RETENTION  # a DuckDB interval, e.g. '7 days'

    @property
    def remote(self) -> bool:
        """Whether the data lives in object storage (httpfs and a secret needed)."""
        return is_remote(self.data_path)



def extensions_needed(cfg: LakeConfig) -> tuple[str, ...]:
    """The DuckDB extensions attaching this lake needs."""
    kind = cfg.catalog.split(":", 1)[0]
    needed = ("ducklake",) + (("postgres",) if kind == "postgres" else ())
    return needed + (("httpfs",) if cfg.remote else ())


def config(body: Mapping[str, str], root: Path, environ: Mapping[str, str] | None = None
           ) -> LakeConfig:
    """The lake's settings from duck.yaml's ``ducklake`` mapping (paths made absolute)."""
    env = os.environ if environ is None else environ
    catalog = str(body["catalog"])
    if catalog.startswith("env:"):
        name = catalog[4:]
        if not env.get(name):
            raise UsageError(f"the DuckLake catalog in duck.yaml reads the environment variable "
                             f"{name}, which is not set", hint=f"Set {name} to the catalog, e.g. "
                             "postgres:service=duck_lake.")
        catalog = env[name]
    if ":" not in catalog:
        catalog = "postgres:" + catalog  # plain libpq settings: the PostgreSQL catalog
    if re.search(r"password\s*=", catalog, re.IGNORECASE) and not str(body["catalog"]).startswith("env:"):
        raise UsageError("the DuckLake catalog in duck.yaml holds a password", hint=(
            "Never write a password in duck.yaml: put it in PGPASSWORD, a password file "
            "(~/.pgpass) or a service file, or the whole catalog text in a variable (env:NAME)."))
    data = str(body["data_path"])
    if not is_remote(data):
        data = str((root / data).resolve()) if not Path(data).is_absolute() else data
    data = data if data.endswith("/") else data + "/"
    return LakeConfig(catalog, data, str(body.get("retention") or DEFAULT_RETENTION))


def attach_sql(cfg: LakeConfig, *, read_only: bool = False, alias: str = ALIAS) -> str:
    """The ATTACH statement for the lake (the data path must match the catalog's)."""
    options = [f"DATA_PATH {_literal(cfg.data_path)}"]
    if read_only:
        options.append("READ_ONLY")
    return (f"ATTACH {_literal('ducklake:' + cfg.catalog)} AS {alias} "
            f"({', '.join(options)})")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def shown_catalog(cfg: LakeConfig) -> str:
    """The catalog as messages show it: libpq settings without any password."""
    return redact(cfg.catalog)


def redact(text: str) -> str:
    """``text`` with every libpq password (and a postgres URL's) blanked.

    >>> redact("host=x password=s3cret dbname=y")
    'host=x password=*** dbname=y'
    >>> redact("postgresql://me:s3cret@db/lake")
    'postgresql://me:***@db/lake'
    """
    text = re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1***", text, flags=re.IGNORECASE)
    return re.sub(r"(://[^:/@\s]+:)[^@\s]+@", r"\1***@", text)


def attach_error(cfg: LakeConfig, err: Exception) -> StateError:
    """The one error for a lake that cannot be attached, worded without DuckDB's message
    (which quotes the connection string)."""
    text = str(err)
    where = f"the DuckLake catalog {shown_catalog(cfg)}"
    if "does not match existing data path" in text:
        found = re.search(r'data path in the catalog "([^"]*)"', text)
        return StateError(
            f"the DuckLake data path {cfg.data_path} (duck.yaml warehouse.ducklake.data_path) "
            f"differs from the one {where} was created with"
            + (f" ({found.group(1)})" if found else ""),
            hint="Set data_path to the lake's own data path: a lake's Parquet files stay where "
                 "it was created (move them with DuckLake's tools, not by editing duck.yaml).")
    mismatch = re.search(r"catalog version is ([\w.]+), but the extension requires version "
                         r"([\w.]+)", text)
    if mismatch:
        return version_error(where, mismatch.group(1), mismatch.group(2))
    if "password authentication failed" in text or "no password supplied" in text:
        return StateError(f"PostgreSQL refused the password for {where}", hint=(
            "Check PGPASSWORD (or the password file / service file libpq reads) for the "
            "catalog's user; duck.yaml holds no password."))
    if "Unable to connect" in text or "could not connect" in text or "Connection refused" in text:
        return StateError(f"PostgreSQL is not reachable for {where}", hint=(
            "Start the server or correct host, port or service (libpq's PGHOST, PGPORT, "
            "PGSERVICE or the catalog text in duck.yaml), then run the command again."))
    if "does not exist" in text and "database" in text:
        return StateError(f"the database of {where} does not exist",
                          hint="Create it (createdb NAME) or correct dbname in the catalog.")
    first = redact(text.splitlines()[0] if text else type(err).__name__)
    for line in (cfg.catalog, cfg.data_path):
        first = first.replace(line, redact(line))
    return StateError(f"{where} with data path {cfg.data_path} cannot be attached: "
                      f"{first[:300]}", hint=SETUP_HINT)


def version_error(where: str, found: str, known: str) -> StateError:
    """A lake written in another DuckLake format version than this duck's DuckDB reads."""
    newer = _numbers(found) > _numbers(known)
    hint = ("It was written by a newer DuckDB: upgrade duck and its DuckDB (pip install -U "
            "'duck-cli[remote]') on every runner that shares the lake." if newer else
            "It was written by an older DuckDB: back up its catalog database, then migrate it "
            "once with DuckDB (ATTACH it with AUTOMATIC_MIGRATION TRUE); duck never migrates "
            "a shared lake by itself.")
    return StateError(f"{where} has DuckLake format version {found}; this duck's DuckDB reads "
                      f"format version {known}. Nothing was changed", hint=hint)


def _numbers(version: str) -> tuple[int, ...]:
    """'0.10' -> (0, 10): versions compare as numbers.

    >>> _numbers("0.10") > _numbers("0.9")
    True
    """
    return tuple(int(p) if p.isdigit() else 0 for p in version.split("."))


def is_conflict(err: Exception) -> bool:
    """Whether a DuckDB error is a DuckLake transaction conflict (another writer committed
    first): the publish is retried as a whole."""
    text = str(err)
    return "conflict" in text.lower() and ("Transaction" in text or "transaction" in text)
