"""Remote file sources: the example's daily trips from a loopback S3 server and an HTTP server."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import invoke, warehouse_rows
from servers import need_extension  # its fixtures (s3_server, http_server): conftest

TRIPS = "data/trips"
LATE, REDELIVERED = "2026-03-07", "2026-03-05"
SECRET = "very-secret-value-42"


def point_trips_at(project: Path, url: str, settings: str = "") -> None:
    manifest = project / "sources.yaml"
    manifest.write_text(manifest.read_text().replace('"data/trips/{date}.csv"', f'"{url}"'))
    (project / "duck.yaml").write_text((project / "duck.yaml").read_text() + settings)


def day_rows(root: Path, day: str, where: str = "") -> int:
    return warehouse_rows(root, f"SELECT count(*) FROM stg_trips WHERE trip_date = ? {where}",
                          [day])[0][0]


def lifecycle(project: Path, env: dict, deliver, redeliver) -> None:
    """materialize, a late object, a re-delivered object, a one-day backfill, an empty plan."""
    first = invoke(project, "materialize", env=env)
    assert first.exit_code == 0, first.output
    assert day_rows(project, "2026-03-01") > 0 and day_rows(project, LATE) == 0
    plan = json.loads(invoke(project, "plan", "--json", env=env).stdout)
    assert plan["empty"] is True
    deliver(LATE)
    plan = json.loads(invoke(project, "plan", "--json", env=env).stdout)
    assert ("stg_trips", [LATE]) in [(s["asset"], s["partitions"]) for s in plan["steps"]]
    assert invoke(project, "materialize", env=env).exit_code == 0
    assert day_rows(project, LATE) > 0
    redeliver(REDELIVERED)
    assert invoke(project, "materialize", env=env).exit_code == 0
    assert day_rows(project, REDELIVERED, "AND zone_name = 'Zone 2 (again)'") > 0
    assert json.loads(invoke(project, "plan", "--json", env=env).stdout)["empty"] is True
    back = invoke(project, "backfill", "stg_trips", "--partition", "2026-03-02", env=env)
    assert back.exit_code == 0, back.output
    assert "1 succeeded" in back.output


def redelivered_text(project: Path, day: str) -> str:
    return (project / TRIPS / f"{day}.csv").read_text().replace("Zone 2,", "Zone 2 (again),")


S3_SETTINGS = """
extensions: [httpfs]
secrets:
  lake:
    type: s3
    key_id: env:AWS_ACCESS_KEY_ID
    secret: env:AWS_SECRET_ACCESS_KEY
    endpoint: env:DUCK_S3_ENDPOINT
    region: us-east-1
    url_style: path
    use_ssl: false
"""


@pytest.fixture
def s3_project(project, s3_server, tmp_path):
    need_extension("httpfs")
    import boto3

    bucket = f"lake-{tmp_path.name[-20:].lower().replace('_', '-')}".strip("-")
    client = boto3.client("s3", endpoint_url=f"http://{s3_server}", region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key=SECRET)
    client.create_bucket(Bucket=bucket)

    def put(day: str, text: str | None = None) -> None:
        body = text if text is not None else (project / TRIPS / f"{day}.csv").read_text()
        client.put_object(Bucket=bucket, Key=f"trips/{day}.csv", Body=body.encode())

    for f in sorted((project / TRIPS).glob("*.csv")):
        if f.stem != LATE:
            put(f.stem)
    point_trips_at(project, f"s3://{bucket}/trips/{{date}}.csv", S3_SETTINGS)
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": SECRET,
           "DUCK_S3_ENDPOINT": s3_server}
    return project, env, put


def test_daily_source_from_s3(s3_project):
    project, env, put = s3_project
    lifecycle(project, env, put, lambda day: put(day, redelivered_text(project, day)))


def test_a_missing_credential_variable_is_named_never_its_value(s3_project):
    project, env, _put = s3_project
    env = {**env, "DUCK_S3_ENDPOINT": ""}
    result = invoke(project, "materialize", env=env)
    assert result.exit_code == 2
    assert "DUCK_S3_ENDPOINT" in result.output and SECRET not in result.output
    doctor = invoke(project, "doctor", env=env)
    assert "DUCK_S3_ENDPOINT" in doctor.output and SECRET not in doctor.output


def test_bad_credentials_fail_clearly_without_printing_the_secret(s3_project):
    """A secret pointing at a server that refuses the request: one error, no secret shown."""
    project, env, _put = s3_project
    env = {**env, "DUCK_S3_ENDPOINT": "127.0.0.1:1"}  # nothing listens: the store is unreachable
    result = invoke(project, "materialize", env=env)
    assert result.exit_code != 0
    assert "raw_trips" in result.output and "cannot be listed" in result.output
    assert SECRET not in result.output


def test_daily_source_from_http(project, http_server):
    need_extension("httpfs")
    folder, base = http_server
    (folder / "trips").mkdir()

    def put(day: str, text: str | None = None) -> None:
        target = folder / "trips" / f"{day}.csv"
        target.write_text(text if text is not None else
                          (project / TRIPS / f"{day}.csv").read_text())

    for f in sorted((project / TRIPS).glob("*.csv")):
        if f.stem != LATE:
            put(f.stem)
    point_trips_at(project, f"{base}/trips/{{date}}.csv", "\nextensions: [httpfs]\n")
    lifecycle(project, {}, put, lambda day: put(day, redelivered_text(project, day)))


def test_a_missing_extension_is_one_clear_error(project):
    (project / "duck.yaml").write_text((project / "duck.yaml").read_text()
                                       + "\nextensions: [duck_missing_ext]\n")
    shutil.rmtree(project / ".duck", ignore_errors=True)
    result = invoke(project, "materialize")
    assert result.exit_code != 0
    assert "duck_missing_ext" in result.output and "DuckDB" in result.output
    assert "pip install" in result.output
