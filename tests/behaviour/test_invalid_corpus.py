"""Random manifests must never crash the loader, and the compiled schema agrees with jsonschema.

The golden corpus of invalid projects (``fixtures/invalid``) runs once per case, through the loader
and every command that refuses it, in ``test_cli_invalid.py``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from duck_cli.errors import ManifestError, UsageError
from duck_cli.manifest.read import parse_document
from duck_cli.manifest.schema import fast_valid, make_validator, schema_problems
from mutation import mutate, paths
from duck_cli.manifest.load import load_project


# random manifests -----------------------------------------------------------------------------

VALID = {
    "assets": [
        {"name": "raw", "source": {"path": "data/{date}.csv"}, "partitions": {"daily": {"start": "2026-03-01"}}},
        {"name": "regions", "source": {"table": "ref.regions"},
         "partitions": {"static": {"values": ["APAC", "EMEA"], "column": "region"}}},
        {"name": "metrics", "owner": "team:x", "tags": ["revenue"], "deps": ["raw", {"asset": "regions", "mapping": "all"}],
         "partitions": {"daily": {"start": "2026-03-01", "end": "2026-03-14", "column": "d", "timezone": "UTC"}},
         "materialize": {"strategy": "incremental",
                         "sql": "select * from raw join regions using (r) where d = $partition_key"},
         "checks": [{"name": "rows", "row_count": {"min": 1}}, {"unique": ["d", "r"]},
                    {"accepted_range": {"column": "v", "min": 0}, "severity": "warn"},
                    {"relationships": {"column": "r", "to": "regions", "field": "r"}},
                    {"data_freshness": {"column": "d", "max_age": "26h"}}, {"sql": "select * from {this}"}],
         "freshness": {"deadline": "07:00", "timezone": "Europe/Amsterdam", "warn": "1h"}},
        {"name": "daily", "deps": ["metrics"], "kind": "view",
         "materialize": {"strategy": "view", "sql": "select * from metrics"}, "freshness": {"max_lag": "26h"}},
    ],
    "products": [{"name": "dash", "owner": "team:y", "assets": ["daily"], "freshness": {"deadline": "0 7 * * 1-5"}}],
}

WORDS = ["assets", "products", "name", "kind", "source", "path", "table", "format", "partitions", "daily",
         "hourly", "static", "values", "start", "end", "timezone", "column", "deps", "asset", "mapping",
         "offset", "materialize", "strategy", "incremental", "view", "sql", "sql_file", "checks", "unique",
         "row_count", "min", "max", "freshness", "deadline", "max_lag", "warn", "raw", "metrics", "../x",
         "07:00", "26h", "2026-03-01", "UTC", "select 1", "{date}", "Europe/Nowhere", "-1", "0 7 * * *"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(WORDS),
                    st.text(max_size=8), st.floats(allow_nan=False, allow_infinity=False))
documents = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(WORDS), inner, max_size=4)), max_leaves=25)
tokens = st.lists(st.sampled_from(WORDS + [":", ": ", "- ", "\n", "\n  ", "\n    ", "[", "]", "{", "}", ", ",
                                           "'", '"', "&a ", "*a", "!!str ", "# c", "\t", "---\n", "|\n"]),
                  max_size=40)


def _load_text(text: str, name: str = "m.yaml") -> None:
    """Load a one-manifest project; anything but a Project or a duck error is a bug."""
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / name).write_text(text, encoding="utf-8")
        try:
            load_project(Path(folder), use_cache=False)
        except (ManifestError, UsageError) as err:
            assert err.problems() and all(p.message for p in err.problems())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tokens)
def test_random_yamlish_text_never_crashes(parts: list[str]) -> None:
    _load_text("".join(parts))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_random_documents_never_crash(doc: Any) -> None:
    _load_text(yaml.safe_dump({"assets": doc} if isinstance(doc, list) else doc))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutations_of_a_valid_manifest_never_crash(data: st.DataObject) -> None:
    _load_text(yaml.safe_dump(mutated(data, ["delete", "rename", "duplicate", "replace"])))


def mutated(data: st.DataObject, actions: list[str]) -> Any:
    """VALID after one to three random mutations (`mutation.mutate`)."""
    doc = VALID
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths(doc)))
        doc = mutate(doc, path, data.draw(st.sampled_from(actions)), data.draw(documents))
    return doc


def test_the_unmutated_manifest_is_valid() -> None:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "m.yaml").write_text(yaml.safe_dump(VALID))
        project = load_project(Path(folder), use_cache=False)
    assert set(project.assets) == {"raw", "regions", "metrics", "daily"} and set(project.products) == {"dash"}


# the compiled schema (the fast path) against jsonschema ---------------------------------------

JSONSCHEMA = make_validator()


def agreement(doc: Any) -> tuple[bool, bool]:
    """(compiled schema accepts, jsonschema accepts) for ``doc`` as duck's YAML loader reads it;
    the compiled schema must never accept a document that jsonschema rejects."""
    parsed, problem = parse_document("m.yaml", yaml.safe_dump(doc).encode("utf-8"))
    if parsed is None:
        return False, problem is None
    fast, found = fast_valid(parsed), schema_problems(JSONSCHEMA, "m.yaml", parsed)
    assert not (fast and found), f"the compiled schema accepted what jsonschema rejects: {found}"
    return fast, not found


def test_the_compiled_schema_accepts_the_valid_manifest() -> None:
    assert agreement(VALID) == (True, True)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_the_compiled_schema_never_accepts_what_jsonschema_rejects(data: st.DataObject) -> None:
    agreement(mutated(data, ["delete", "rename", "duplicate", "splice", "wrap", "replace"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_the_compiled_schema_agrees_on_random_documents(doc: Any) -> None:
    agreement({"assets": doc} if isinstance(doc, list) else doc)
