"""State in PostgreSQL, on a real server (tests/pg.py): the example's story with every record
in PostgreSQL, advisory locks per asset, doctor's mode, and each bad configuration as one
clear error that never shows the password. (The whole CLI suite also runs in this mode:
`pytest --state-backend=postgres`, see tests/pgmode.py.)"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

import pgmode
from conftest import MORNING, Duck, append_duplicate_trip, example_copy, invoke, warehouse_rows
from duck_cli.errors import LockedError
from duck_cli.manifest.settings import load_settings
from duck_cli.state import backends
from duck_cli.state.postgres_schema import SCHEMA_VERSION as PG_SCHEMA_VERSION


@pytest.fixture
def pg_env(postgres, monkeypatch):
    """The server's address and password as libpq's variables (as a CI job passes them)."""
    for key, value in postgres.env().items():
        if key != "PGDATABASE":
            monkeypatch.setenv(key, value)
    return postgres


@pytest.fixture
def pg_project(pg_env, tmp_path) -> Path:
    """The example with its state in a new PostgreSQL database."""
    root = example_copy(tmp_path / "project")
    if not pgmode.database(root):
        pgmode.use_postgres(root)
    return root


def _rows(root: Path, sql: str) -> list[tuple]:
    return pgmode.query(pgmode.database(root), sql)


def test_the_story_keeps_every_record_in_postgres(pg_project: Path) -> None:
    duck = Duck(pg_project)
    duck("materialize")
    assert not (pg_project / ".duck" / "catalog.duckdb").exists()  # no local catalog at all
    assert _rows(pg_project, "SELECT count(*) FROM runs WHERE status = 'success'") == [(1,)]
    mats = _rows(pg_project, "SELECT count(*) FROM materializations WHERE kind = "
                             "'materialization'")[0][0]
    assert mats == warehouse_rows(pg_project, 'SELECT count(*) FROM "_duck"."ledger" WHERE '
                                              "kind = 'materialization'")[0][0] > 0
    status = duck.json("status")
    assert {a["state"] for a in status["assets"]} <= {"fresh", "missing"}
    assert duck.json("plan")["steps"] == []  # nothing left to do: the state was read back

    append_duplicate_trip(pg_project)  # a late duplicate: stg_trips' unique check fails
    failed = duck("materialize", expect=1)
    assert "one_row_per_trip" in failed.output
    audit = _rows(pg_project, "SELECT asset, partition_key, stage FROM check_results WHERE "
                              "NOT passed")
    assert ("stg_trips", "2026-03-09", "audit") in audit  # failed before publish
    why = duck.json("why", "stg_trips", "--partition", "2026-03-09")
    assert "one_row_per_trip" in json.dumps(why)

    runs = duck.json("runs")["runs"]
    assert [r["status"] for r in runs] == ["failed", "success"]
    shown = duck.json("runs", "show", runs[0]["run_id"])
    assert any(s["status"] == "failed" for s in shown["steps"])

    duck("backfill", "zone_metrics", "--from", "2026-03-02", "--to", "2026-03-03")
    backfills = duck.json("backfills")["backfills"]
    assert len(backfills) == 1 and backfills[0]["status"] == "completed"
    plan = duck.json("reconcile")
    assert plan["kind"] == "plan"


def test_doctor_names_the_mode_and_the_schema_version(pg_project: Path) -> None:
    duck = Duck(pg_project)
    duck("materialize")
    doc = duck.json("doctor")
    assert doc["ok"] is True
    state = doc["storage"]["state"]
    assert doc["storage"]["mode"] == "shared" and state["backend"] == "postgres"
    assert state["schema_version"] == PG_SCHEMA_VERSION and state["server"]
    assert pgmode.database(pg_project) in state["at"]
    text = duck("doctor").output
    assert "storage: shared mode; state in PostgreSQL (dbname=" in text


def _lock(root: Path, assets, command: str = "materialize", wait: float = 0):
    settings = load_settings(root)
    return backends.write_lock(settings, command, assets=assets, wait=wait,
                               now=datetime(2026, 3, 13, 6, 0, tzinfo=timezone.utc))


def test_writers_on_different_assets_do_not_wait_for_each_other(pg_project: Path) -> None:
    with _lock(pg_project, ["stg_trips"]):
        with _lock(pg_project, ["zone_metrics"], command="backfill"):
            pass  # granted at once: another asset
        with pytest.raises(LockedError) as err, _lock(pg_project, ["STG_TRIPS"]):
            pass
        assert "an asset it writes is locked by `duck materialize` (pid" in err.value.message
        with pytest.raises(LockedError), _lock(pg_project, None):  # the whole project
            pass
    with _lock(pg_project, ["stg_trips"]):  # released with its connection
        pass


def test_a_locked_project_exits_4_naming_the_holder(pg_project: Path) -> None:
    with _lock(pg_project, None, command="backfill"):
        result = invoke(pg_project, "materialize", "--wait", "0")
        assert result.exit_code == 4
        assert "the project is locked by `duck backfill` (pid" in result.output
        assert backends.state_backend(load_settings(pg_project)).is_locked()
    assert not backends.state_backend(load_settings(pg_project)).is_locked()


def _configure(root: Path, dsn: str) -> None:
    (root / "duck.yaml").write_text(f"state: {{postgres: {json.dumps(dsn)}}}\n")


def _refused(root: Path, *secrets: str, args=("status",)) -> str:
    result = invoke(root, *args, now=MORNING)
    assert result.exit_code == 2, result.output
    for secret in secrets:
        assert secret not in result.output
    assert result.output.count("error") == 1
    return " ".join(result.output.split())


def test_a_wrong_password_is_refused_without_printing_it(postgres, tmp_path: Path) -> None:
    root = example_copy(tmp_path / "p")
    _configure(root, postgres.dsn(password="not-the-password-42"))
    text = _refused(root, "not-the-password-42", postgres.password)
    assert "cannot connect to the PostgreSQL state" in text and "password was refused" in text
    assert "password=***" in text


def test_a_password_from_the_environment_is_never_printed(postgres, tmp_path, monkeypatch):
    root = example_copy(tmp_path / "p")
    monkeypatch.setenv("DUCK_TEST_PG_DSN", postgres.dsn(password="wrong-secret-77"))
    _configure(root, "env:DUCK_TEST_PG_DSN")
    text = _refused(root, "wrong-secret-77", args=("doctor",))
    assert "password was refused" in text


def test_an_unknown_database_is_one_clear_error(pg_env, tmp_path: Path) -> None:
    root = example_copy(tmp_path / "p")
    _configure(root, "dbname=no_such_duck_db")
    text = _refused(root, pg_env.password, args=("materialize",))
    assert "the database does not exist" in text and "dbname=no_such_duck_db" in text


def test_a_server_that_is_down_is_one_clear_error(pg_env, tmp_path: Path) -> None:
    root = example_copy(tmp_path / "p")
    _configure(root, f"host={tmp_path} port=1 dbname=postgres")  # no server listens there
    text = _refused(root, pg_env.password, args=("runs",))
    assert "the server cannot be reached" in text


def test_a_schema_from_a_newer_duck_is_refused(pg_project: Path) -> None:
    Duck(pg_project)("materialize")
    pgmode.query(pgmode.database(pg_project), "UPDATE meta SET value = '99' WHERE key = "
                                              "'schema_version'")
    for args in (("status",), ("materialize",), ("doctor",)):
        text = _refused(pg_project, args=args)
        assert ("was written by a newer duck (state schema 99, this duck knows "
                f"{PG_SCHEMA_VERSION})") in text


def test_a_damaged_state_table_is_one_clear_error(pg_project: Path) -> None:
    Duck(pg_project)("materialize")
    pgmode.query(pgmode.database(pg_project), "ALTER TABLE materializations DROP COLUMN row_count")
    result = invoke(pg_project, "status")
    assert result.exit_code == 2, result.output
    assert "the PostgreSQL state refused an operation (UndefinedColumn)" in result.output
    assert "row_count" in result.output and "duck doctor" in result.output
    doc = json.loads(invoke(pg_project, "materialize", "--json").stdout)
    assert doc["kind"] == "error" and doc["error"]["code"] == "state"
