"""The validation stages of `load` (everything past reading bytes), imported only when the
validation cache cannot answer: a cached project needs none of them (nor their imports)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

from duck_cli.errors import ManifestError, Problem
from duck_cli.manifest.entries import EntryBuilder, Spot
from duck_cli.manifest.rules import cross_rules
from duck_cli.manifest.definitions import resolve_uses
from duck_cli.manifest.macros import read_macros
from duck_cli.manifest.variables import annotate
from duck_cli.manifest.schema import fast_valid, make_validator, schema_problems
from duck_cli.manifest.sql import sql_stage, sql_texts
from duck_cli.manifest.sqlparse import Parses
from duck_cli.manifest.read import Manifest, parse_document
from duck_cli.models import Asset, Project, Settings, evolve
from duck_cli.manifest.settings import SETTINGS_FILE, load_settings

SECTIONS = ("assets", "products", "check_definitions")


def validate(root: Path, manifests: list[Manifest], problems: list[Problem],
              macro_data: list[tuple[str, bytes]]) -> tuple[Project, dict[str, bytes]]:
    """Every stage after reading bytes; raises ManifestError when any error was found."""

    settings = _settings(root, problems)
    docs = _parse(manifests, problems)
    parses = Parses()  # DuckDB parses the SQL of files built while the next ones are built
    built, skipped = _build(root, docs, problems, parses)
    built.assets = with_schemas(built.assets, settings)
    problems += cross_rules(built, skipped)
    macros, macro_problems = read_macros(macro_data)
    problems += resolve_uses(built)
    sql = sql_stage(built, parses)
    problems += sql.errors + built.problems + macro_problems
    if problems or settings is None:
        raise ManifestError(sort_problems(problems))
    assets = [annotate(a, macros) for a in sorted(sql.assets, key=_name)]
    settings = replace(settings, asset_schemas=tuple(sorted({"main", *(a.schema for a in assets)})))
    project = Project(root=root, settings=settings, assets={a.name: a for a in assets},
                      products={p.name: p for p in sorted(built.products, key=_name)},
                      warnings=tuple(sort_problems(sql.warnings)), manifest_files=tuple(m.file for m in manifests),
                      macros=tuple(macros))
    return project, built.sql_files


def with_schemas(assets: list[Asset], settings: Settings | None) -> list[Asset]:
    """Each asset with its schema: its own, else duck.yaml's for the deepest folder holding
    its manifest (dbt's ``+schema`` per folder), else duck.yaml's ``schema``, else main."""
    if settings is None:
        return [a if a.schema else evolve(a, schema="main") for a in assets]
    by_file: dict[str, str] = {}  # a manifest file declares many assets: one answer each
    return [a if a.schema else evolve(a, schema=by_file.get(a.location.file) or by_file.setdefault(
        a.location.file, default_schema(settings, a.location.file))) for a in assets]


def default_schema(settings: Settings, file: str) -> str:
    """The schema of an asset declared in ``file`` that names none.

    >>> from pathlib import Path
    >>> s = Settings(Path("w"), Path("c"), schema="analytics", schemas={"models/marts": "marts"})
    >>> default_schema(s, "models/marts/orders.yaml"), default_schema(s, "models/stg.yaml")
    ('marts', 'analytics')
    """
    folder = PurePosixPath(file).parent
    for candidate in (folder, *folder.parents):
        text = "" if str(candidate) == "." else str(candidate)
        if text in settings.schemas:
            return settings.schemas[text]
    return settings.schema


def _name(item: Any) -> str:
    return item.name


def _settings(root: Path, problems: list[Problem]) -> Settings | None:
    try:
        return load_settings(root)
    except ManifestError as err:
        problems += err.problems()
        return None


def _parse(manifests: list[Manifest], problems: list[Problem]) -> list[tuple[str, Any]]:
    docs = []
    for manifest in manifests:
        doc, problem = parse_document(manifest.file, manifest.data)
        if problem is not None:
            problems.append(problem)
        elif doc is not None:
            docs.append((manifest.file, doc))
    return docs


def _build(root: Path, docs: list[tuple[str, Any]], problems: list[Problem],
           parses: Parses | None = None) -> tuple[Any, set[str]]:
    """Schema-check each document, then build the entries that passed; names of the others.
    Each file's SQL texts go to ``parses`` as soon as its assets are built."""

    validator, builder, skipped_names = None, EntryBuilder(root), set()
    for file, doc in docs:
        start = len(builder.out.assets)
        found = []
        if not fast_valid(doc):  # jsonschema only where the compiled schema had doubts
            validator = validator or make_validator()
            found = schema_problems(validator, file, doc)
        problems += [p for _, p in found]
        bad = {tuple(path[:2]) for path, _ in found}
        for section, index, raw in _entries(doc, bad):
            if (section, index) in bad:
                skipped_names |= _name_of(raw) if section == "assets" else set()
            else:
                getattr(builder, section[:-1])(raw, Spot(file, doc, (section, index)))
        if parses is not None:
            parses.add(sql_texts(builder.out, builder.out.assets[start:]))
    return builder.out, skipped_names


def _entries(doc: Any, bad: set[tuple[Any, ...]]) -> list[tuple[str, int, Any]]:
    """(section, index, entry) of every asset and product, unless its whole section is invalid."""
    out = []
    for section in SECTIONS:
        items = doc.get(section)
        if (section,) in bad or not isinstance(items, list):
            continue
        out += [(section, index, raw) for index, raw in enumerate(items)]
    return out


def _name_of(raw: Any) -> set[str]:
    name = raw.get("name") if isinstance(raw, dict) else None
    return {name} if isinstance(name, str) else set()


def sort_problems(problems: list[Problem]) -> list[Problem]:
    """Problems in reading order: duck.yaml first, then by file and line (stable otherwise)."""
    return sorted(problems, key=lambda p: (p.file != SETTINGS_FILE, p.file or "", p.line or 0))
