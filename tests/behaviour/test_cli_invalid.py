"""Bad input through the command line: every invalid project, bad options, broken state files.

Whatever a user gets wrong, duck answers with exit code 2 and a message that says what and
where, never a traceback, and changes nothing: an invalid project gets no `.duck` folder, and a
project that had a good catalog keeps it byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

import pgmode
from conftest import catalog_rows, copy_project, invoke, run_count, warehouse_rows
from duck_cli.errors import ManifestError, UsageError
from duck_cli.manifest.load import load_project
from duck_cli.manifest.read import parse_document
from duck_cli.manifest.schema import fast_valid, make_validator, schema_problems

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "invalid"
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())
JSONSCHEMA = make_validator()


def tree(folder: Path) -> dict[str, str]:
    """Every file below ``folder``: relative path -> sha256 of its bytes."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def expected(case: str) -> list[str]:
    lines = (CORPUS / case / "expected.txt").read_text().splitlines()
    return [line for line in lines if line.strip()]


def copy_case(case: str, dest: Path) -> Path:
    shutil.copytree(CORPUS / case, dest, ignore=shutil.ignore_patterns("expected.txt", ".duck"),
                    symlinks=True)  # a case's link out of the project stays a link
    return dest


@pytest.fixture
def built(materialized_example) -> Path:
    """The example project after one good `duck materialize` (state in .duck); only copied."""
    return materialized_example


def _assert_reports(result, case: str, command: str) -> None:
    assert result.exit_code == 2, f"{case}: duck {command} exited {result.exit_code}\n{result.output}"
    for phrase in expected(case):
        assert phrase in result.output, f"{case}: duck {command}: {phrase!r} not in\n{result.output}"


# -- the invalid corpus through the CLI ------------------------------------------------------------


def test_the_corpus_is_there():
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", CASES)
def test_an_invalid_project_is_reported_everywhere_and_changes_nothing(case, built, tmp_path):
    """One case of the corpus through every door: the loader, `validate` (text and --json),
    `materialize` on a fresh copy and (for every fourth case) over a built project's state."""
    assert expected(case), f"{case}/expected.txt is empty"
    root = copy_case(case, tmp_path / case)
    _assert_reports(invoke(root, "validate"), case, "validate")
    assert not (root / ".duck").exists(), "validate wrote state for an invalid project"
    _assert_json_problems(invoke(root, "validate", "--json"), case)
    _assert_reports(invoke(root, "materialize"), case, "materialize")
    assert tree(root / ".duck") == {}, "materialize created state for an invalid project"
    _assert_loader_problems(root, case)
    _assert_compiled_schema_agrees(root, case)
    if case in CASES[::4]:
        _assert_built_state_is_left_alone(case, built, tmp_path / "built")


def _assert_json_problems(result, case: str) -> None:
    """`validate --json`: one document, not valid, each problem with its file:line and words."""
    assert result.exit_code == 2, f"{case}: validate --json exited {result.exit_code}"
    doc = json.loads(result.stdout)
    assert doc["valid"] is False and doc["problems"], doc
    assert all(p["message"] and p["text"] for p in doc["problems"]), doc
    text = "\n".join(p["text"] for p in doc["problems"])
    for phrase in expected(case):
        assert phrase in text, f"{case}: validate --json: {phrase!r} not in\n{text}"


def _assert_loader_problems(root: Path, case: str) -> None:
    """The loader raises a duck error whose rendered problems hold every expected phrase."""
    with pytest.raises((ManifestError, UsageError)) as caught:
        load_project(root, use_cache=False)
    text = "\n".join(p.render() for p in caught.value.problems())
    for phrase in expected(case):
        assert phrase in text, f"{case}: {phrase!r} not in:\n{text}"


def _assert_compiled_schema_agrees(root: Path, case: str) -> None:
    """The compiled schema (the fast path) never accepts a corpus file that jsonschema rejects."""
    for manifest in sorted(root.glob("*.yaml")):
        try:
            doc, _ = parse_document(manifest.name, manifest.read_bytes())
        except Exception:  # noqa: BLE001 - a corpus file that is not YAML has nothing to compare
            continue
        if doc is not None:
            assert not (fast_valid(doc) and schema_problems(JSONSCHEMA, manifest.name, doc)), case


def _assert_built_state_is_left_alone(case: str, built: Path, root: Path) -> None:
    """A good project whose manifests are replaced by broken ones: its state stays as it was."""
    copy_project(built, root)
    for manifest in [*root.glob("*.yaml"), *root.glob("*.yml")]:
        manifest.unlink()
    shutil.copytree(CORPUS / case, root, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("expected.txt"))
    before = tree(root / ".duck")
    _assert_reports(invoke(root, "materialize"), case, "materialize")
    assert tree(root / ".duck") == before


# -- bad command-line input -----------------------------------------------------------------------


@pytest.fixture
def project(tmp_path, built) -> Path:
    """A private copy of the built example project."""
    return copy_project(built, tmp_path / "project")


def _nothing_ran(root: Path) -> None:
    assert run_count(root) == 1


def test_an_unknown_selection_names_the_asset_and_suggests_one(project):
    for command in ("materialize", "plan", "status", "graph"):
        result = invoke(project, command, "daily_revenu")
        assert result.exit_code == 2, (command, result.output)
        assert "no asset named 'daily_revenu'" in result.output
        assert "Did you mean 'daily_revenue'?" in result.output
    result = invoke(project, "backfill", "nope", "--partition", "2026-03-01")
    assert result.exit_code == 2 and "nope" in result.output
    _nothing_ran(project)


@pytest.mark.parametrize("key", ["2026-02-30", "2026-3-1", "APAC'; drop table x; --", "", "2027-01-01"])
def test_a_bad_partition_key_is_refused_before_anything_runs(project, key):
    before = warehouse_rows(project, "SELECT count(*) FROM stg_trips")
    for args in (("materialize", "stg_trips", "--partition", key),
                 ("backfill", "stg_trips", "--partition", key),
                 ("plan", "stg_trips", "--partition", key)):
        result = invoke(project, *args)
        assert result.exit_code == 2, (args, result.output)
        assert "stg_trips" in result.output and "partition" in result.output, result.output
        if key:
            assert key in result.output, result.output
    _nothing_ran(project)
    assert warehouse_rows(project, "SELECT count(*) FROM stg_trips") == before


def test_a_key_of_another_partitions_definition_is_refused(project):
    result = invoke(project, "materialize", "regional_revenue", "--partition", "2026-03-01")
    assert result.exit_code == 2
    assert "regional_revenue" in result.output and "2026-03-01" in result.output
    result = invoke(project, "materialize", "stg_trips", "--partition", "APAC")
    assert result.exit_code == 2 and "APAC" in result.output
    _nothing_ran(project)


def test_from_after_to_is_refused(project):
    for command in ("materialize", "backfill", "plan"):
        result = invoke(project, command, "stg_trips", "--from", "2026-03-05", "--to",
                        "2026-03-02")
        assert result.exit_code == 2, (command, result.output)
        assert "runs backwards" in result.output, result.output
        assert "2026-03-05" in result.output and "2026-03-02" in result.output
    _nothing_ran(project)


def test_duck_now_without_an_offset_is_refused(project):
    for command in ("status", "plan", "materialize"):
        result = invoke(project, command, now="2026-03-13T07:30:00")
        assert result.exit_code == 2, (command, result.output)
        assert "DUCK_NOW" in result.output and "offset" in result.output
        assert "2026-03-13T07:30:00+01:00" in result.output or "e.g." in result.output
    result = invoke(project, "status", now="yesterday")
    assert result.exit_code == 2 and "DUCK_NOW 'yesterday'" in result.output
    _nothing_ran(project)


def test_a_missing_project_folder_is_a_usage_error(tmp_path):
    result = invoke(tmp_path / "nowhere", "status")
    assert result.exit_code == 2 and "does not exist" in result.output


# -- broken state files ------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["status", "materialize", "runs", "plan", "doctor"])
@pytest.mark.local_state
def test_a_corrupt_catalog_is_refused_with_a_way_out_and_left_untouched(project, command):
    catalog = project / ".duck" / "catalog.duckdb"
    garbage = b"this is not a duckdb file\x00\xff" * 300
    catalog.write_bytes(garbage)
    warehouse = tree(project / ".duck")["warehouse.duckdb"]
    result = invoke(project, command)
    assert result.exit_code == 2, result.output
    assert "catalog.duckdb" in result.output
    assert "Move it aside" in result.output or "mv " in result.output, result.output
    assert catalog.read_bytes() == garbage
    if command != "materialize":
        assert tree(project / ".duck")["warehouse.duckdb"] == warehouse


def test_a_corrupt_warehouse_is_refused_and_left_untouched(project):
    warehouse = project / ".duck" / "warehouse.duckdb"
    garbage = b"\x00garbage\xff" * 500
    warehouse.write_bytes(garbage)
    catalog = _recorded(project)
    result = invoke(project, "materialize", "--force")
    assert result.exit_code == 2, result.output
    assert "warehouse.duckdb" in result.output
    assert warehouse.read_bytes() == garbage
    assert _recorded(project) == catalog


def _recorded(root: Path):
    """The state as recorded: the catalog file's bytes, or (state in PostgreSQL) its rows."""
    if pgmode.database(root):
        return [catalog_rows(root, f"SELECT * FROM {t} ORDER BY ALL") for t in
                ("runs", "steps", "materializations", "check_results", "backfills")]
    return tree(root / ".duck")["catalog.duckdb"]


@pytest.mark.parametrize("command", ["status", "materialize", "runs", "doctor"])
@pytest.mark.local_state
def test_a_catalog_from_a_newer_duck_is_refused_and_left_unchanged(project, command):
    import duckdb

    catalog = project / ".duck" / "catalog.duckdb"
    con = duckdb.connect(str(catalog))
    con.execute("UPDATE duck_meta SET value = '99' WHERE key = 'schema_version'")
    con.close()
    before = tree(project / ".duck")
    result = invoke(project, command)
    assert result.exit_code == 2, result.output
    assert "newer duck" in result.output and "99" in result.output, result.output
    assert "Upgrade duck" in result.output
    after = tree(project / ".duck")
    assert after["catalog.duckdb"] == before["catalog.duckdb"]
    assert after.get("warehouse.duckdb") == before.get("warehouse.duckdb")
    assert catalog_rows(project, "SELECT value FROM duck_meta WHERE key = 'schema_version'") == [
        ("99",)]


def test_a_deleted_current_folder_is_a_clear_usage_error(tmp_path):
    import subprocess
    import sys

    gone = tmp_path / "gone"
    gone.mkdir()
    duck = Path(sys.executable).parent / "duck"
    proc = subprocess.run(["bash", "-c", f"cd '{gone}' && rmdir '{gone}' && exec '{duck}' status"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "the current folder no longer exists" in proc.stderr
    assert "--project/-p" in proc.stderr and "Traceback" not in proc.stderr
