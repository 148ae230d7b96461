"""DuckDB extensions and secrets a project names in duck.yaml, prepared on each connection.

Extensions load from an installed Python package that ships the file for the running DuckDB
(``duckdb-extension-httpfs`` holds ``extensions/v1.5.5/httpfs.duckdb_extension``; see the
``remote`` extra), else through DuckDB's own INSTALL and LOAD into ``.duck/extensions`` (never
the user's home). Secrets are DuckDB secrets whose ``env:NAME`` values come from the environment
at run time: never from YAML, never printed, not even in errors.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from typing import Mapping

from duck_cli.errors import ExecutionError, UsageError
from duck_cli.models import Settings

PACKAGES = {"postgres": "postgres_scanner", "postgres_scanner": "postgres_scanner",
            "sqlite": "sqlite_scanner", "sqlite_scanner": "sqlite_scanner"}
_PIP = {"httpfs": "duckdb-extension-httpfs", "postgres": "duckdb-extension-postgres-scanner",
        "postgres_scanner": "duckdb-extension-postgres-scanner",
        "ducklake": "duckdb-extension-ducklake", "sqlite": "duckdb-extension-sqlite-scanner",
        "sqlite_scanner": "duckdb-extension-sqlite-scanner"}


def duckdb_version() -> str:
    """The running DuckDB's version, e.g. '1.5.5'."""
    from duck_cli.engine import duckdb

    return str(getattr(duckdb, "__version__", "")).lstrip("v")


def packaged_file(name: str, version: str) -> Path | None:
    """The extension file an installed ``duckdb-extension-*`` package ships for ``version``."""
    spec = importlib.util.find_spec("duckdb_extension_" + PACKAGES.get(name, name))
    if spec is None or not spec.submodule_search_locations:
        return None
    file_name = PACKAGES.get(name, name) + ".duckdb_extension"
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / "extensions" / f"v{version}" / file_name
        if candidate.is_file():
            return candidate
    return None


def load(con, names: tuple[str, ...], state_dir: Path) -> None:
    """Load each named extension on ``con``; one ExecutionError for the first that cannot."""
    if not names:
        return
    from duck_cli.engine import duckdb

    version = duckdb_version()
    folder = state_dir / "extensions"
    con.execute("SET extension_directory = ?", [str(folder)])
    for name in names:
        packaged = packaged_file(name, version)
        try:
            if packaged is not None:
                con.execute(f"LOAD '{packaged.as_posix()}'")
            else:
                con.execute(f"INSTALL {name}")
                con.execute(f"LOAD {name}")
        except duckdb.Error as err:
            raise missing(name, version, str(err).splitlines()[0]) from None


def missing(name: str, version: str, why: str) -> ExecutionError:
    """The one error for an extension that cannot load."""
    pip = _PIP.get(name, f"duckdb-extension-{name}")
    return ExecutionError(
        f"the DuckDB extension '{name}' (named in duck.yaml extensions) cannot be loaded for "
        f"DuckDB {version}: {why}", asset=None,
        hint=f"Install it for this DuckDB: pip install '{pip}=={version}' (or pip install "
             f"'duck-cli[remote]', which pins a DuckDB those packages exist for), or allow "
             f"DuckDB to download it (INSTALL {name}) with network access.")


def required_variables(settings: Settings) -> dict[str, list[str]]:
    """The environment variables each secret reads (``env:NAME`` values), by secret name."""
    return {name: [v[4:] for v in body.values() if isinstance(v, str) and v.startswith("env:")]
            for name, body in settings.secrets.items()}


def missing_variables(settings: Settings, environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """(secret, variable) pairs whose variable is not set."""
    return [(name, var) for name, variables in required_variables(settings).items()
            for var in variables if not environ.get(var)]


def create_secrets(con, settings: Settings, environ: Mapping[str, str] | None = None) -> None:
    """Create each duck.yaml secret as a temporary DuckDB secret on ``con``."""
    env = os.environ if environ is None else environ
    unset = missing_variables(settings, env)
    if unset:
        name, var = unset[0]
        raise UsageError(f"the secret '{name}' in duck.yaml reads the environment variable {var}, "
                         "which is not set", hint=f"Set {var} (duck doctor lists every variable "
                                                  "the secrets need).")
    from duck_cli.engine import duckdb

    for name, body in settings.secrets.items():
        params = ", ".join(f"{_key(k)} {_value(v, env)}" for k, v in body.items())
        try:
            con.execute(f"CREATE OR REPLACE TEMPORARY SECRET {_key(name)} ({params})")
        except duckdb.Error as err:
            # DuckDB's message may quote a parameter: name only the kind of problem
            kind = type(err).__name__.replace("Exception", "").lower() or "invalid"
            raise UsageError(f"the secret '{name}' in duck.yaml was refused by DuckDB "
                             f"({kind} parameters)", hint="Check its type and parameter names "
                             "against DuckDB's CREATE SECRET documentation; the type's extension "
                             "(httpfs for s3/gcs/r2/http) must be in extensions.") from None


def _key(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text):
        raise UsageError(f"'{text}' is not a valid secret name or parameter in duck.yaml secrets",
                         hint="Use letters, digits and underscores.")
    return text


def _value(value: str, env: Mapping[str, str]) -> str:
    if value.startswith("env:"):
        value = env[value[4:]]
    if value.lower() in ("true", "false"):
        return value.lower()
    return "'" + value.replace("'", "''") + "'"


def prepare(con, settings: Settings, environ: Mapping[str, str] | None = None) -> None:
    """Load the project's extensions, create its secrets and attach its source databases."""
    load(con, settings.extensions, settings.state_dir)
    if settings.secrets:
        create_secrets(con, settings, environ)
    for name, body in settings.attach.items():
        attach(con, name, body)


def attach(con, name: str, body: Mapping[str, str]) -> None:
    """Attach one source database read-only (ExecutionError naming it if that fails)."""
    from duck_cli.engine import duckdb

    options = [f"TYPE {_key(body['type'])}", "READ_ONLY"]
    if body.get("secret"):
        options.append(f"SECRET {_key(body['secret'])}")
    target = body.get("path", "").replace("'", "''")
    try:
        con.execute(f"ATTACH IF NOT EXISTS '{target}' AS {_key(name)} ({', '.join(options)})")
    except duckdb.Error as err:
        raise ExecutionError(
            f"the database '{name}' (attach: in duck.yaml) cannot be attached: "
            f"{str(err).splitlines()[0][:300]}", asset=None,
            hint=f"Check its path or secret; a {body['type']} database needs the "
                 f"{'sqlite_scanner' if body['type'] == 'sqlite' else body['type']} extension "
                 "in extensions (sqlite and postgres are not built into DuckDB).") from None
