"""Manifests → a validated Project, or a ManifestError holding every problem found.

The stages, in order: settings; reading YAML; JSON Schema (``schemas/manifest.schema.json``);
building models with per-entry rules (``validate_assets``); cross-asset rules (``validate_rules``);
SQL through DuckDB's parser (``validate_sql``). An entry that fails the schema is left out of the
later stages (its name still counts as defined), so one mistake does not cascade into many.
A valid Project is cached (``validate_cache``): a hit skips everything past reading bytes,
and imports none of the stages (`validate`, imported only on a miss).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from duck_cli.manifest.cache import cache_key, read_cache, write_cache
from duck_cli.manifest.macros import macro_files
from duck_cli.manifest.variables import bind
from duck_cli.manifest.read import collect
from duck_cli.models import Project
from duck_cli.manifest.settings import SETTINGS_FILE, discovery
from duck_cli.manifest.values import parse_duration

__all__ = ["load_project", "parse_duration"]


def load_project(root: Path, *, use_cache: bool = True, variables: Iterable[str] = ()) -> Project:
    """Load and validate the project in ``root``, with ``variables`` (``name=value`` texts)
    over duck.yaml's vars; raise ManifestError with every problem."""

    root = Path(root).resolve()
    manifests, problems = collect(root, *discovery(root))
    settings_bytes = _read_optional(root / SETTINGS_FILE)
    macro_data = macro_files(root)
    key = cache_key(root, [(m.file, m.data) for m in manifests] + macro_data, settings_bytes)
    cached = read_cache(root, key) if use_cache and not problems else None
    if cached is not None:
        return bind(cached, variables)
    from duck_cli.manifest.validate import validate  # the stages: only on a cache miss

    project, sql_files = validate(root, manifests, problems, macro_data)
    if use_cache:
        write_cache(root, key, project, sql_files)
    return bind(project, variables)


def _read_optional(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


