"""Choosing the environment of a command: --env / DUCK_ENV, duck.yaml's ``environments``.

An environment is production's project with its own tables (the schema ``main__<env>`` of the
same warehouse), its own state (`state/environments.py` says where) and the settings duck.yaml
declares for it (``environments: {dev: {vars: ..., preview_partitions: 2}}``). A name duck.yaml
does not declare is allowed (a pull request's ``pr-42``): it gets production's settings.
Values may read the process environment: ``env:NAME`` (the whole value) or ``${NAME}`` inside
one, through the reader the state and warehouse settings use (`backends.resolve`).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Mapping

from duck_cli.errors import UsageError
from duck_cli.manifest.settings import ENV_NAME
from duck_cli.models import Project, Settings
from duck_cli.sql import PROD, env_slug
from duck_cli.state import environments as envs
from duck_cli.state.backends import resolve

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def check_name(name: str) -> str:
    """``name`` when it can name an environment, else a UsageError (exit 2) saying why."""
    if not ENV_NAME.fullmatch(name):
        raise UsageError(f"'{name}' cannot name an environment", hint="Use a letter, then "
                         "letters, digits, '-', '_' or '.' (at most 40), e.g. --env pr-42.")
    if env_slug(name) == env_slug(PROD) and name != PROD:
        raise UsageError(f"'{name}' would share production's tables",
                         hint=f"Production is --env {PROD}; name a preview otherwise.")
    return name


def with_environment(project: Project, name: str | None,
                     environ: Mapping[str, str]) -> Project:
    """The project as environment ``name`` (None: production) sees it."""
    name = check_name(name or PROD)
    settings = project.settings
    declared = dict(settings.environments.get(name) or {})
    values = {k: v for k, v in declared.items() if k != "vars"}
    merged = {**settings.vars, **(declared.get("vars") or {})}
    where = f"environments.{name}.vars" if declared.get("vars") else "vars"
    settings = replace(settings, **values, env=name, vars={
        k: _expand(v, f"{where}.{k}", environ) for k, v in merged.items()})
    if name != PROD:
        settings = envs.for_environment(settings)
    return replace(project, settings=settings)


def _expand(value: Any, where: str, environ: Mapping[str, str]) -> Any:
    """A setting's value with ``env:NAME`` or ``${NAME}`` read from the environment.

    >>> _expand("${REGION}-1", "vars.r", {"REGION": "eu"}), _expand(5, "vars.n", {})
    ('eu-1', 5)
    >>> _expand("env:REGION", "vars.r", {"REGION": "eu"})
    'eu'
    """
    if not isinstance(value, str):
        return value
    if value.startswith("env:"):
        return resolve(value, f"setting {where}", environ)
    return _REFERENCE.sub(lambda m: resolve("env:" + m.group(1), f"setting {where}", environ),
                          value)


def production(settings: Settings) -> Settings:
    """Production's settings, seen from any environment's."""
    return envs.production(settings)


def git_commit(root) -> str | None:
    """The commit checked out in the project's git repository (None: not in one)."""
    import subprocess

    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                              text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def note_build(project: Project, now, base) -> None:
    """Remember in an environment's state its name, builds and commit (for `duck env list`)."""
    if project.settings.env == PROD:
        return
    from duck_cli.state.backends import open_state

    with open_state(project.settings, read_only=False) as store:
        envs.note_build(store, project.settings.env, now, git_commit(project.root),
                        base.max_seq if base is not None else 0)
