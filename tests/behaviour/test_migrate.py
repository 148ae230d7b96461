"""`duck migrate`: the example built in the local files moves into the shared mode (state in a
real PostgreSQL, warehouse a DuckLake) and back, and every command answers as before; a target
that holds something, a wrong password, a locked source and a target that cannot be written
are each refused with one clear error, the source untouched. Runs (never skips) where
DUCK_REQUIRE_EXTENSIONS=1."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import MORNING, catalog_rows, invoke
from lakes import _needs_lake, lake_rows
from servers import need_extension

SHARED = """state: {{postgres: 'dbname={state}'}}
warehouse:
  ducklake: {{catalog: "postgres:dbname={lake}", data_path: {data}}}
"""
MODE_FIELDS = ("storage", "mode", "warehouse")  # where the records live, not what they say


def go_shared(project: Path, postgres, data: str = "lake-data") -> dict:
    """Name a new, empty PostgreSQL state and DuckLake in duck.yaml; libpq's environment."""
    _needs_lake()
    state, lake = postgres.create_database("state"), postgres.create_database("lake")
    yaml = project / "duck.yaml"
    kept = [line for line in yaml.read_text().splitlines(True) if not line.startswith("warehouse:")]
    yaml.write_text("".join(kept) + SHARED.format(state=state, lake=lake, data=data))
    return postgres.env(lake)


def go_local(project: Path) -> None:
    """duck.yaml back to the local files (the warehouse's default place, .duck/)."""
    yaml = project / "duck.yaml"
    yaml.write_text(yaml.read_text().split("state: {postgres")[0])


def answers(project: Path, env: dict | None = None) -> dict:
    """What status, why and plan say, without the fields that name where the state lives."""
    def doc(*args):
        return _without(json.loads(invoke(project, *args, "--json", env=env).stdout))

    return {"status": doc("status"), "why": doc("why", "revenue_dashboard"), "plan": doc("plan")}


def _without(value):
    if isinstance(value, dict):
        return {k: _without(v) for k, v in value.items() if k not in MODE_FIELDS}
    if isinstance(value, list):
        return [_without(v) for v in value]
    return value


def fingerprints(project: Path) -> dict[str, str]:
    """The bytes of every file in .duck/ (what 'the source is untouched' means)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((project / ".duck").glob("*.duckdb*"))}


def local_rows(project: Path, sql: str):
    import duckdb

    con = duckdb.connect(str(project / ".duck" / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def migrate(project: Path, env: dict | None, *args: str):
    return invoke(project, "migrate", *args, env=env)


@pytest.mark.materialized
def test_the_example_moves_to_the_shared_mode_and_back(project, postgres):
    before, files = answers(project), fingerprints(project)
    trips = sorted(local_rows(project, "FROM zone_metrics"))
    env = go_shared(project, postgres)
    result = migrate(project, env, "--to", "shared", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    _valid(report)
    assert report["ok"] and {m["part"] for m in report["moves"]} == {"state", "warehouse"}
    tables = {t["name"]: t for t in report["tables"]}
    assert tables["zone_metrics"]["target"]["rows"] == len(trips) > 0
    assert {"runs", "steps", "materializations", "check_results", "backfills", "counters",
            "_duck.ledger", "revenue_summary"} <= set(tables)
    assert fingerprints(project) == files  # the source was only read
    assert sorted(lake_rows(project, env, "FROM zone_metrics")) == trips
    assert answers(project, env) == before
    again = invoke(project, "materialize", "--json", env=env)
    assert again.exit_code == 0 and json.loads(again.stdout)["steps"] == [], again.output
    _ids_continue(project, postgres, env)
    assert invoke(project, "materialize", env=env).exit_code == 0  # what the backfill made stale
    shared = answers(project, env)
    assert shared["plan"]["empty"] is True
    refused = migrate(project, env, "--to", "local")  # the old local files are still there
    assert refused.exit_code == 2 and "already holds" in refused.output
    back = migrate(project, env, "--to", "local", "--force")
    assert back.exit_code == 0, back.output
    assert "replaced" in back.output and (project / ".duck" / "catalog.duckdb.replaced").exists()
    go_local(project)
    assert answers(project) == shared
    assert sorted(local_rows(project, "FROM zone_metrics")) == sorted(
        lake_rows(project, env, "FROM zone_metrics"))
    again = invoke(project, "materialize", "--json")
    assert again.exit_code == 0 and json.loads(again.stdout)["steps"] == [], again.output


def _valid(document: dict) -> None:
    from jsonschema import Draft202012Validator

    schema = json.loads((Path(__file__).parents[2] / "schemas" / "migrate.schema.json").read_text())
    assert not [e.message for e in Draft202012Validator(schema).iter_errors(document)]


def _ids_continue(project: Path, postgres, env: dict) -> None:
    """A run after the move gets the next run id and sequence numbers above the copied ones."""
    last_run, last_seq = pg_rows(project, postgres, "SELECT max(run_id), max(seq) FROM "
                                                    "duck.materializations")[0]
    back = invoke(project, "backfill", "stg_trips", "--partition", "2026-03-02", "--json",
                  env=env)
    assert back.exit_code == 0, back.output
    run_id = json.loads(back.stdout)["run_id"]
    assert int(run_id[1:]) == int(last_run[1:]) + 1
    first = pg_rows(project, postgres, "SELECT min(seq) FROM duck.materializations WHERE "
                                       "run_id = %s", [run_id])[0][0]
    assert first > last_seq


def pg_rows(project: Path, postgres, sql: str, params=None) -> list[tuple]:
    """Rows of the shared state database duck.yaml names."""
    import psycopg

    name = (project / "duck.yaml").read_text().split("state: {postgres: 'dbname=")[1].split("'")[0]
    with psycopg.connect(postgres.dsn(name), autocommit=True) as con:
        return con.execute(sql, params).fetchall()


@pytest.mark.materialized
def test_the_example_moves_to_a_lake_on_s3(project, postgres, s3_server, tmp_path):
    """The data path in object storage (the loopback S3 server): the Parquet files land in
    the bucket, the answers stay, and the S3 secret is never printed."""
    need_extension("httpfs")
    import boto3

    before = answers(project)
    bucket = f"mig-{os.getpid()}-{tmp_path.name[-12:].lower().replace('_', '-')}".strip("-")
    client = boto3.client("s3", endpoint_url=f"http://{s3_server}", region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="s3-secret-78")
    client.create_bucket(Bucket=bucket)
    env = {**go_shared(project, postgres, data=f"s3://{bucket}/duck/"),
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "s3-secret-78",
           "DUCK_S3_ENDPOINT": s3_server}
    yaml = project / "duck.yaml"
    yaml.write_text(yaml.read_text() + (
        "extensions: [httpfs]\nsecrets:\n  lake:\n    type: s3\n"
        "    key_id: env:AWS_ACCESS_KEY_ID\n    secret: env:AWS_SECRET_ACCESS_KEY\n"
        "    endpoint: env:DUCK_S3_ENDPOINT\n    region: us-east-1\n"
        "    url_style: path\n    use_ssl: false\n"))
    result = migrate(project, env, "--to", "shared")
    assert result.exit_code == 0, result.output
    assert "s3-secret-78" not in result.output and env["PGPASSWORD"] not in result.output
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert any(k.endswith(".parquet") for k in keys)
    assert answers(project, env) == before


@pytest.mark.materialized
def test_a_target_that_holds_duck_state_is_refused_unless_forced(project, postgres):
    env = go_shared(project, postgres)
    assert migrate(project, env, "--to", "shared").exit_code == 0
    again = migrate(project, env, "--to", "shared", "--json")
    assert again.exit_code == 2
    error = json.loads(again.stdout)["error"]
    assert "already holds" in error["message"] and "--force" in error["hint"]
    assert "materialization" in error["message"] and "daily_revenue" in error["message"]
    assert env["PGPASSWORD"] not in again.output
    forced = migrate(project, env, "--to", "shared", "--force", "--json")
    assert forced.exit_code == 0, forced.output
    _valid(json.loads(forced.stdout))
    assert any("daily_revenue" in r for r in json.loads(forced.stdout)["replaced"])
    shared = pg_rows(project, postgres, "SELECT count(*) FROM duck.runs")[0][0]
    go_local(project)
    assert catalog_rows(project, "SELECT count(*) FROM runs")[0][0] == shared  # not twice


@pytest.mark.materialized
def test_a_wrong_password_or_a_server_down_is_one_clear_error_without_the_password(project, postgres):
    files = fingerprints(project)
    env = {**go_shared(project, postgres), "PGPASSWORD": "not-the-secret-42"}
    result = migrate(project, env, "--to", "shared")
    assert result.exit_code == 2
    assert "password" in result.output and "refused" in result.output
    assert "not-the-secret-42" not in result.output and postgres.password not in result.output
    down = migrate(project, {**env, "PGHOST": "/no-server-here"}, "--to", "shared")
    assert down.exit_code == 2 and "cannot be reached" in down.output
    assert fingerprints(project) == files


@pytest.mark.materialized
def test_a_locked_source_is_refused(project, postgres):
    from datetime import datetime, timezone

    from duck_cli.state import lock

    env = go_shared(project, postgres)
    with lock.write_lock(project / ".duck", "materialize", wait=0,
                         now=datetime.now(timezone.utc)):
        result = migrate(project, env, "--to", "shared", "--wait", "0")
    assert result.exit_code == 4
    assert "locked" in result.output and "materialize" in result.output
    assert migrate(project, env, "--to", "shared").exit_code == 0  # nothing was left behind


@pytest.mark.materialized
def test_a_failed_migrate_leaves_the_source_untouched_and_the_target_marked(project, postgres):
    files = fingerprints(project)
    blocker = project / "not-a-folder"
    blocker.write_text("a file where the lake's data folder should be\n")
    env = go_shared(project, postgres, data="not-a-folder/lake")
    failed = migrate(project, env, "--to", "shared")
    assert failed.exit_code == 2, failed.output
    assert "Traceback" not in failed.output and env["PGPASSWORD"] not in failed.output
    assert fingerprints(project) == files
    assert pg_rows(project, postgres, "SELECT count(*) FROM duck.meta WHERE key = "
                                      "'migration'") == [(1,)]  # marked incomplete
    assert pg_rows(project, postgres, "SELECT count(*) FROM duck.runs") == [(0,)]
    blocker.unlink()  # the cause fixed: doctor names the mark, a plain re-run starts over
    doctor = invoke(project, "doctor", "--json", env=env)
    assert doctor.exit_code == 1
    assert "migration_incomplete" in {f["code"] for f in json.loads(doctor.stdout)["findings"]}
    result = migrate(project, env, "--to", "shared", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ok"] is True
    assert invoke(project, "status", env=env).exit_code == 0
    assert fingerprints(project) == files


@pytest.mark.materialized
@pytest.mark.parametrize("copied", [1, 2])
def test_a_migrate_killed_after_a_part_leaves_the_target_marked_and_a_rerun_finishes(
        project, postgres, copied):
    """kill -9 after the warehouse (1) or after the state too (2), before the comparison."""
    files = fingerprints(project)
    env = go_shared(project, postgres)
    duck = Path(sys.executable).parent / "duck"
    killed = subprocess.run([str(duck), "migrate", "--to", "shared", "-p", str(project)],
                            env={**os.environ, **env, "DUCK_NOW": MORNING,
                                 "DUCK_FAULT": f"migrate:{copied}"},
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == 137, killed.stderr
    assert fingerprints(project) == files
    assert lake_rows(project, env, "SELECT count(*) FROM _duck.migration") == [(1,)]
    assert lake_rows(project, env, "SELECT count(*) FROM zone_metrics")[0][0] > 0
    assert pg_rows(project, postgres, "SELECT count(*) FROM duck.meta WHERE key = "
                                      "'migration'") == [(1,)]
    runs = pg_rows(project, postgres, "SELECT count(*) FROM duck.runs")[0][0]
    assert runs == (0 if copied == 1 else 1)
    assert invoke(project, "doctor", env=env).exit_code == 1
    again = migrate(project, env, "--to", "shared", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["ok"] is True
    assert pg_rows(project, postgres, "SELECT count(*) FROM duck.meta WHERE key = "
                                      "'migration'") == [(0,)]
    assert json.loads(invoke(project, "plan", "--json", env=env).stdout)["empty"] is True


def test_without_a_shared_target_migrate_says_what_to_add(project):
    result = invoke(project, "migrate", "--to", "shared")
    assert result.exit_code == 2 and "names no shared state" in result.output


@pytest.mark.materialized
def test_only_the_state_moves_when_only_the_state_is_shared(project, postgres):
    """state: {postgres: ...} alone: the records move, the warehouse file stays where it is."""
    pytest.importorskip("psycopg")
    _needs_lake()
    before = answers(project)
    db = postgres.create_database("state")
    yaml = project / "duck.yaml"
    yaml.write_text(yaml.read_text() + f"state: {{postgres: 'dbname={db}'}}\n")
    env = {k: v for k, v in postgres.env().items() if k != "PGDATABASE"}
    doctor = invoke(project, "doctor", env=env)  # the local records are not in the state yet
    assert doctor.exit_code == 0 and "duck migrate --to shared" in doctor.output
    result = migrate(project, env, "--to", "shared", "--json")
    assert result.exit_code == 0, result.output
    assert [m["part"] for m in json.loads(result.stdout)["moves"]] == ["state"]
    assert answers(project, env) == before
    assert json.loads(invoke(project, "materialize", "--json", env=env).stdout)["steps"] == []
