"""Remote file sources: the example's daily trips from a loopback S3 server and an HTTP server."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from conftest import catalog_rows, invoke, warehouse_rows
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
    folder, base, _requests = http_server
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


def planned(project: Path, env: dict) -> list[tuple[str, list[str]]]:
    plan = json.loads(invoke(project, "plan", "--json", env=env).stdout)
    return [(s["asset"], s["partitions"]) for s in plan["steps"]]


def source_versions(project: Path) -> dict[str, str]:
    return dict(catalog_rows(project, "SELECT partition_key, data_version FROM "
                             "current_materializations WHERE asset = 'raw_trips'"))


def test_s3_versions_are_etags_so_the_same_bytes_again_plan_nothing(s3_project):
    """S3 reports a single-part object's MD5 as its ETag: the version. A re-put of the same
    bytes (new last-modified) plans nothing; new bytes plan exactly that day and downstream."""
    project, env, put = s3_project
    assert invoke(project, "materialize", env=env).exit_code == 0
    versions = source_versions(project)
    assert versions and all(v.startswith("e:") for v in versions.values())
    put(REDELIVERED)  # the same bytes again
    assert planned(project, env) == []
    put(REDELIVERED, redelivered_text(project, REDELIVERED))
    steps = planned(project, env)
    daily = [(a, p) for a, p in steps if a in ("stg_trips", "zone_metrics", "daily_revenue")]
    assert sorted(daily) == [(a, [REDELIVERED])  # that day only, through its downstream
                             for a in ("daily_revenue", "stg_trips", "zone_metrics")]
    assert invoke(project, "materialize", env=env).exit_code == 0
    assert source_versions(project)[REDELIVERED] != versions[REDELIVERED]


def test_http_versions_come_from_head_and_a_new_etag_replans(project, http_server):
    """Over HTTP, observing sends HEAD requests only (no object is downloaded to learn its
    version). The server's ETag is nginx's (mtime-size): the same bytes written again get a new
    ETag, and duck rebuilds that day rather than download it to compare."""
    need_extension("httpfs")
    folder, base, requests = http_server
    (folder / "trips").mkdir()
    for f in sorted((project / TRIPS).glob("*.csv")):
        shutil.copy(f, folder / "trips" / f.name)
    point_trips_at(project, f"{base}/trips/{{date}}.csv", "\nextensions: [httpfs]\n")
    assert invoke(project, "materialize").exit_code == 0
    assert all(v.startswith("e:") for v in source_versions(project).values())
    requests.clear()
    assert planned(project, {}) == []
    assert requests and {method for method, _path in requests} == {"HEAD"}
    served = folder / "trips" / f"{REDELIVERED}.csv"
    served.write_bytes(served.read_bytes())
    os.utime(served, ns=(served.stat().st_atime_ns, served.stat().st_mtime_ns + 10**9))
    assert ("stg_trips", [REDELIVERED]) in planned(project, {})
