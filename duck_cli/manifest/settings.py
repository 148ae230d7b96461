"""The project around the manifests: its folder, its ``duck.yaml`` settings, paths inside it, the clock."""

from __future__ import annotations

import os
import re
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from duck_cli.errors import ManifestError, Problem, UsageError, did_you_mean
from duck_cli.manifest.read import Map, parse_document
from duck_cli.models import Settings, schema_name_ok

SETTINGS_FILE = "duck.yaml"
DEFAULT_WAREHOUSE = ".duck/warehouse.duckdb"
DEFAULT_CATALOG = ".duck/catalog.duckdb"
ENV_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,39}")  # an environment's name
ENV_KEYS = {"vars", "threads", "memory_limit", "preview_partitions"}  # what one may override
_MEMORY = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.I)


def find_root(path: Path | str | None, environ: Mapping[str, str]) -> Path:
    """The project folder: ``path`` (-p), else env DUCK_PROJECT, else the current directory."""
    chosen = path if path not in (None, "") else environ.get("DUCK_PROJECT") or None
    try:
        folder = Path(chosen) if chosen is not None else Path.cwd()
    except FileNotFoundError:
        raise UsageError("the current folder no longer exists (it was deleted or moved)",
                         hint="cd into the project folder, or pass it with --project/-p.") from None
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise UsageError(f"the project folder '{folder}' {what}",
                         hint="Pass an existing folder with --project/-p or DUCK_PROJECT.")
    return folder.resolve()


def clock(environ: Mapping[str, str]) -> datetime:
    """The aware "now": DUCK_NOW (ISO 8601 with an offset) when set, else the UTC wall clock.

    >>> clock({"DUCK_NOW": "2026-03-13T07:30:00+01:00"}).isoformat()
    '2026-03-13T07:30:00+01:00'
    >>> clock({"DUCK_NOW": "2026-03-13T06:30:00Z"}).utcoffset()
    datetime.timedelta(0)
    """
    text = environ.get("DUCK_NOW", "").strip()
    if not text:
        return datetime.now(timezone.utc)
    hint = "Write it as ISO 8601 with an offset, e.g. 2026-03-13T07:30:00+01:00 or 2026-03-13T06:30:00Z."
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"DUCK_NOW '{text}' is not an ISO 8601 date and time", hint=hint) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise UsageError(f"DUCK_NOW '{text}' has no UTC offset", hint=hint)
    try:
        in_range = 1900 <= moment.astimezone(timezone.utc).year <= 9998
    except OverflowError:  # the offset pushes it past year 1 or 9999
        in_range = False
    if not in_range:
        raise UsageError(f"DUCK_NOW '{text}' is out of range", hint="Use a moment between "
                         "1900-01-01 and 9998-12-31 (UTC), e.g. 2026-03-13T07:30:00+01:00.")
    return moment


def relative_inside(root: Path, path_text: str, base_dir: Path) -> Path | None:
    """``path_text`` resolved against ``base_dir``, or None when it leaves the project folder.

    >>> relative_inside(Path("/p"), "sql/a.sql", Path("/p/m")).as_posix()
    '/p/m/sql/a.sql'
    >>> relative_inside(Path("/p"), "../../etc/passwd", Path("/p/m")) is None
    True
    """
    full = Path(os.path.normpath(Path(base_dir) / path_text))
    try:
        full.relative_to(Path(os.path.normpath(root)))
    except ValueError:
        return None
    return full


def load_settings(root: Path) -> Settings:
    """The settings in ``root/duck.yaml`` (optional), with absolute paths; ManifestError if invalid."""
    path = root / SETTINGS_FILE
    doc: Any = None
    if path.is_file():
        doc = _read_settings_doc(path)
    problems = _settings_problems(doc) if doc is not None else []
    problems += _missing_paths(root, doc) if doc is not None and not problems else []
    if problems:
        raise ManifestError(problems)
    values = dict(doc or {})
    warehouse = values.get("warehouse", DEFAULT_WAREHOUSE)
    lake = warehouse.get("ducklake") if isinstance(warehouse, dict) else None
    return Settings(
        warehouse=_absolute(root, DEFAULT_WAREHOUSE if lake else warehouse),
        catalog=_absolute(root, values.get("catalog", DEFAULT_CATALOG)),
        threads=values.get("threads"),
        memory_limit=values.get("memory_limit"),
        batch_size=values.get("batch_size", 31),
        jobs=values.get("jobs"),
        wait_seconds=float(values.get("wait", 30)),
        paths=tuple(values.get("paths", (".",))),
        ignore=tuple(values.get("ignore", ())),
        extensions=tuple(values.get("extensions") or ()),
        secrets={name: {str(k): str(v) for k, v in body.items()}
                 for name, body in (values.get("secrets") or {}).items()},
        attach={name: _attachment(root, body) for name, body in (values.get("attach") or {}).items()},
        max_partitions=values.get("max_partitions", 100_000),
        state_dsn=(values.get("state") or {}).get("postgres"),
        lake={str(k): str(v) for k, v in lake.items()} if lake else None,
        vars=dict(values.get("vars") or {}),
        preview_partitions=values.get("preview_partitions", 3),
        env_retention_days=values.get("env_retention_days", 14),
        environments={str(n): dict(b or {}) for n, b in (values.get("environments") or {}).items()},
        schema=values.get("schema", "main"),
        schemas={_folder(k): str(v) for k, v in (values.get("schemas") or {}).items()},
    )


def _folder(text: str) -> str:
    """A folder as manifest files name theirs: relative, '/'-separated, no './'.

    >>> _folder('./models/marts/'), _folder('.')
    ('models/marts', '')
    """
    return "/".join(p for p in str(text).replace("\\", "/").split("/") if p not in ("", "."))


def discovery(root: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """duck.yaml's ``paths`` and ``ignore`` for finding manifests (defaults if it is invalid:
    `load_settings` reports its problems)."""
    try:
        data = (root / SETTINGS_FILE).read_bytes()
    except OSError:  # none, or unreadable: `load_settings` says so
        return (".",), ()
    if b"paths" not in data and b"ignore" not in data:
        return (".",), ()  # neither key can be there: no YAML parsed (nor imported) to know it
    try:
        doc = _settings_doc(data)
    except ManifestError:
        doc = None
    if doc is None or _settings_problems(doc):
        return (".",), ()
    return tuple(doc.get("paths", (".",))), tuple(doc.get("ignore", ()))


def _attachment(root: Path, body: Mapping[str, Any]) -> dict[str, str]:
    """An attached database's parameters, a file path made absolute (inside the project)."""
    out = {str(k): str(v) for k, v in body.items()}
    if "path" in out and ":" not in out["path"]:
        out["path"] = str(_absolute(root, out["path"]))
    return out


def _absolute(root: Path, text: str) -> Path:
    return Path(os.path.normpath(root / Path(text).expanduser()))


def _read_settings_doc(path: Path) -> Any:

    try:
        data = path.read_bytes()
    except OSError as err:
        raise ManifestError([Problem(f"cannot read the file: {err.strerror}", SETTINGS_FILE)]) from None
    return _settings_doc(data)


def _settings_doc(data: bytes) -> Any:
    """duck.yaml's bytes parsed: a Map, or None; ManifestError when it is not YAML."""
    doc, problem = parse_document(SETTINGS_FILE, data, manifest=False)
    if problem is not None and problem.message.startswith("the top level"):
        problem = replace(problem, hint="duck.yaml is a mapping of settings, e.g. 'threads: 4'.")
    if problem is not None:
        raise ManifestError([problem])
    return doc if isinstance(doc, Map) else None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value)


def _inside(path_text: str) -> bool:
    """A relative folder that stays inside the project.

    >>> _inside("models"), _inside("../elsewhere"), _inside("/etc")
    (True, False, False)
    """
    return not os.path.isabs(path_text) and relative_inside(Path("/p"), path_text, Path("/p")) \
        is not None


# key: (test, what the value must be)
SETTINGS_KEYS: dict[str, tuple[Any, str]] = {
    "warehouse": (lambda v: (isinstance(v, str) and v.strip() != "") or _is_lake(v),
                  "a path (text) or {ducklake: {catalog: 'postgres:service=NAME', data_path: DIR}}"),
    "catalog": (lambda v: isinstance(v, str) and v.strip() != "", "a path (text)"),
    "threads": (lambda v: _is_int(v) and v >= 1, "a whole number of at least 1"),
    "memory_limit": (lambda v: isinstance(v, str) and bool(_MEMORY.match(v)), "a size such as '4GB'"),
    "batch_size": (lambda v: _is_int(v) and v >= 1, "a whole number of at least 1"),
    "jobs": (lambda v: _is_int(v) and v >= 1, "a whole number of at least 1"),
    "wait": (lambda v: _is_number(v) and v >= 0, "a number of seconds (0 or more)"),
    "paths": (lambda v: _text_list(v) and all(_inside(p) for p in v),
              "a list of folders inside the project, e.g. [models]"),
    "ignore": (_text_list, "a list of globs, e.g. [docker-compose.yml, 'deploy/**']"),
    "extensions": (lambda v: isinstance(v, list) and all(
        isinstance(e, str) and re.fullmatch(r"[a-z][a-z0-9_]*", e) for e in v),
        "a list of DuckDB extension names, e.g. [httpfs, postgres]"),
    "secrets": (lambda v: isinstance(v, dict) and all(
        isinstance(n, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n) and isinstance(b, dict)
        and isinstance(b.get("type"), str) and all(isinstance(x, (str, int, bool)) for x in b.values())
        for n, b in v.items()),
        "a mapping of DuckDB secret names to their parameters (type: s3, key_id: env:VAR, ...)"),
    "attach": (lambda v: isinstance(v, dict) and all(
        isinstance(n, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n) and isinstance(b, dict)
        and b.get("type") in ("sqlite", "postgres", "duckdb") and set(b) <= {"type", "path", "secret"}
        and all(isinstance(x, str) for x in b.values()) for n, b in v.items()),
        "a mapping of names to databases to read source tables from "
        "({type: sqlite|postgres|duckdb, path: FILE} or {type: postgres, secret: NAME})"),
    "max_partitions": (lambda v: _is_int(v) and v >= 1, "a whole number of at least 1"),
    "state": (lambda v: isinstance(v, dict) and set(v) == {"postgres"} and _is_text(v["postgres"]),
              "{postgres: CONNINFO}: a libpq connection string without a password (e.g. "
              "'service=duck'), or env:NAME naming a variable that holds one"),
    "vars": (lambda v: isinstance(v, dict) and all(
        isinstance(n, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n)
        and isinstance(x, (str, int, float, bool)) for n, x in v.items()),
        "a mapping of variable names to values (text, numbers or booleans), read in SQL with "
        "getvariable('name')"),
    "preview_partitions": (lambda v: _is_int(v) and v >= 1, "a whole number of at least 1"),
    "schema": (schema_name_ok, "a schema name (lower-case letters, digits and '_', no '__')"),
    "schemas": (lambda v: isinstance(v, dict) and all(
        isinstance(k, str) and _inside(k) and schema_name_ok(x) for k, x in v.items()),
        "a mapping of folders inside the project to the schema of the assets below them, "
        "e.g. {models/marts: marts}"),
    "env_retention_days": (lambda v: _is_int(v) and v >= 1, "a whole number of days (1 or more)"),
    "environments": (lambda v: isinstance(v, dict) and all(
        isinstance(n, str) and ENV_NAME.fullmatch(n) and (b is None or (
            isinstance(b, dict) and set(b) <= ENV_KEYS)) for n, b in v.items()),
        "a mapping of environment names (letters, digits, '-', '_', '.') to their settings "
        "(vars, threads, memory_limit, preview_partitions)"),
}


def _missing_paths(root: Path, doc: Any) -> list[Problem]:
    """A problem for each folder in ``paths`` that does not exist."""
    return [Problem(f"'paths' names '{p}', which is not a folder in the project",
                    SETTINGS_FILE, doc.lines.get("paths", doc.line),
                    "Create it, or list only the folders that hold manifests.")
            for p in doc.get("paths", ()) if not (root / p).is_dir()]


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _is_lake(value: Any) -> bool:
    """``{ducklake: {catalog: TEXT, data_path: TEXT}}`` (other DuckLake options as text)."""
    if not (isinstance(value, dict) and set(value) == {"ducklake"}):
        return False
    body = value["ducklake"]
    return isinstance(body, dict) and _is_text(body.get("catalog")) and \
        _is_text(body.get("data_path")) and all(isinstance(x, str) for x in body.values())


def _settings_problems(doc: Any) -> list[Problem]:
    """Every wrong key or value in duck.yaml's mapping."""
    problems = []
    for key, value in doc.items():
        line = doc.lines.get(key, doc.line)
        if key not in SETTINGS_KEYS:
            hint = did_you_mean(str(key), SETTINGS_KEYS) or f"Known keys: {', '.join(SETTINGS_KEYS)}."
            problems.append(Problem(f"unknown setting '{key}'", SETTINGS_FILE, line, hint))
        elif not SETTINGS_KEYS[key][0](value):
            problems.append(Problem(f"'{key}' must be {SETTINGS_KEYS[key][1]}, not {value!r}",
                                    SETTINGS_FILE, line, _settings_hint(key)))
    return problems


def _settings_hint(key: str) -> str:
    examples = {"warehouse": "warehouse: .duck/warehouse.duckdb (or {ducklake: {catalog: "
                             "'postgres:service=duck_lake', data_path: 's3://bucket/duck/'}})", "catalog": "catalog: .duck/catalog.duckdb",
                "threads": "threads: 4", "memory_limit": "memory_limit: 4GB", "batch_size": "batch_size: 31",
                "jobs": "jobs: 4", "wait": "wait: 30", "paths": "paths: [models, sources]",
                "ignore": "ignore: [docker-compose.yml, 'deploy/**']", "extensions": "extensions: [httpfs]",
                "secrets": "secrets: {lake: {type: s3, key_id: env:AWS_ACCESS_KEY_ID, "
                           "secret: env:AWS_SECRET_ACCESS_KEY}}",
                "attach": "attach: {app: {type: sqlite, path: data/app.db}}",
                "max_partitions": "max_partitions: 200000",
                "state": "state: {postgres: 'service=duck'}",
                "vars": "vars: {region: EU, min_amount: 10}",
                "preview_partitions": "preview_partitions: 3",
                "schema": "schema: analytics",
                "schemas": "schemas: {models/marts: marts, models/staging: staging}",
                "env_retention_days": "env_retention_days: 14",
                "environments": "environments: {dev: {vars: {region: EU}}, "
                                "ci: {preview_partitions: 2, vars: {host: '${PGHOST}'}}}"}
    return f"For example: {examples[key]}"
