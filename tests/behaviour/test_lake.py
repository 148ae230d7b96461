"""The example in lake mode: a DuckLake warehouse (catalog in a real PostgreSQL, data as Parquet in
a folder or on the loopback S3 server), driven through the real CLI; a plain DuckDB client reads
the lake as a consumer would. Runs (never skips) where DUCK_REQUIRE_EXTENSIONS=1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import append_duplicate_trip, catalog_rows, invoke
from lakes import lake_rows, use_lake
from servers import need_extension

DAY_BEFORE = "2026-03-12T07:30:00+01:00"
MORNING = "2026-03-13T07:30:00+01:00"
LAKE_YAML = """
warehouse:
  ducklake: {{catalog: "postgres:dbname={db}", data_path: {data}, retention: "1 second"}}
"""


def _rename_a_zone(project: Path) -> None:
    day = project / "data" / "trips" / "2026-03-12.csv"
    lines = day.read_text().splitlines()
    extra = [f"{90000 + i}," + line.replace("Zone 7,", "Zone Seven,").split(",", 1)[1]
             for i, line in enumerate(lines[1:]) if ",7,Zone 7," in line]
    day.write_text("\n".join(lines + extra) + "\n")


def test_the_story_in_lake_mode(project, postgres):
    """materialize, a check failing before publish, status, why, reconcile, backfill, prune."""
    env = use_lake(project, postgres, "lake-data")
    first = invoke(project, "materialize", now=DAY_BEFORE, env=env)
    assert first.exit_code == 0, first.output
    assert (project / "lake-data").is_dir() and not (project / ".duck" / "warehouse.duckdb").exists()
    day11 = lake_rows(project, env, "SELECT count(*) FROM zone_metrics WHERE trip_date = "
                                    "'2026-03-11'")[0][0]
    assert day11 > 0
    _rename_a_zone(project)
    nightly = invoke(project, "materialize", now=MORNING, env=env)
    assert nightly.exit_code == 1 and "one_row_per_zone_day" in nightly.output
    # the failing slice never reached the lake; the day before stayed as it was
    assert lake_rows(project, env, "SELECT count(*) FROM zone_metrics WHERE trip_date = "
                                   "'2026-03-12'")[0][0] == 0
    assert lake_rows(project, env, "SELECT count(*) FROM zone_metrics WHERE trip_date = "
                                   "'2026-03-11'")[0][0] == day11
    status = json.loads(invoke(project, "status", "--json", env=env).stdout)
    assets = {a["name"]: a for a in status["assets"]}
    assert assets["zone_metrics"]["state"] == "failed"
    assert assets["daily_revenue"]["partitions"]["missing_ranges"] == ["2026-03-12"]
    assert status["products"][0]["state"] == "stale"
    why = json.loads(invoke(project, "why", "daily_revenue", "--json", env=env).stdout)
    root = why["root_causes"][0]
    assert (root["asset"], root["partition"], root["reason"]) == (
        "zone_metrics", "2026-03-12", "check_failed")
    day = project / "data" / "trips" / "2026-03-12.csv"
    day.write_text("\n".join(x for x in day.read_text().splitlines() if "Zone Seven" not in x)
                   + "\n")
    fixed = invoke(project, "reconcile", "--apply", env=env)
    assert fixed.exit_code == 0, fixed.output
    status = json.loads(invoke(project, "status", "--json", env=env).stdout)
    assert status["products"][0]["state"] == "fresh"
    assert lake_rows(project, env, "SELECT count(*) FROM zone_metrics WHERE trip_date = "
                                   "'2026-03-12'")[0][0] > 0
    assert json.loads(invoke(project, "plan", "--json", env=env).stdout)["empty"] is True
    back = invoke(project, "backfill", "stg_trips", "--partition", "2026-03-02", env=env)
    assert back.exit_code == 0 and "1 succeeded" in back.output, back.output
    _snapshots_recorded(project, env)
    _housekeeping(project, env)


def _snapshots_recorded(project: Path, env: dict) -> None:
    """Each publish's materialization names the lake snapshot it made, which the lake lists
    under the run and step that made it."""
    rows = catalog_rows(project, "SELECT run_id, step, upstream FROM materializations WHERE "
                                 "kind = 'materialization' AND asset = 'zone_metrics'")
    assert rows
    snapshots = dict(lake_rows(project, env, "SELECT snapshot_id, commit_message FROM "
                                             "ducklake_snapshots('lake')"))
    for run_id, step, upstream in rows:
        snapshot = json.loads(upstream)["snapshot"]
        assert snapshots[snapshot].startswith(f"{run_id} step {step}:")
    shown = invoke(project, "runs", "show", rows[-1][0], env=env)
    assert f"snapshot {json.loads(rows[-1][2])['snapshot']}" in shown.output
    why = invoke(project, "why", "zone_metrics", env=env)
    assert "lake snapshot" in why.output


def _housekeeping(project: Path, env: dict) -> None:
    """`duck prune` expires the lake's old snapshots (retention 1 second here) and deletes
    the files nothing references; the data stays readable."""
    before = lake_rows(project, env, "SELECT count(*) FROM ducklake_snapshots('lake')")[0][0]
    total = lake_rows(project, env, "SELECT count(*) FROM stg_trips")[0][0]
    time.sleep(1.1)
    pruned = invoke(project, "prune", "--keep-runs", "100", "--json", env=env)
    assert pruned.exit_code == 0, pruned.output
    lake = json.loads(pruned.stdout)["lake"]
    assert lake["snapshots_expired"] > 0
    after = lake_rows(project, env, "SELECT count(*) FROM ducklake_snapshots('lake')")[0][0]
    assert after < before
    assert lake_rows(project, env, "SELECT count(*) FROM stg_trips")[0][0] == total
    doctor = invoke(project, "doctor", "--fix", "--json", env=env)
    assert doctor.exit_code == 0, doctor.output
    found = {f["code"]: f["message"] for f in json.loads(doctor.stdout)["findings"]}
    assert "consistent" in found and str(project / "lake-data") in found["lake_mode"]
    assert env["PGPASSWORD"] not in doctor.output


@pytest.mark.parametrize("isolation", ["thread", "process"])
def test_python_and_file_assets_on_a_lake(project, postgres, isolation):
    """The forecast (Python) publishes into the lake through the same stage, checks and one
    transaction as SQL; the charts (kind file) are files on this machine in outputs/, their
    list a table in the lake; a changed function re-plans exactly its asset and downstream."""
    env = use_lake(project, postgres, "lake-data")
    finance = project / "finance.yaml"
    finance.write_text(finance.read_text().replace(
        "      timeout: 1m\n", f"      timeout: 1m\n      isolation: {isolation}\n"))
    result = invoke(project, "materialize", now=DAY_BEFORE, env=env)
    assert result.exit_code == 0, result.output
    days = lake_rows(project, env, "SELECT count(DISTINCT trip_date), count(*) "
                                   "FROM revenue_forecast")[0]
    assert days[0] == days[1] > 0
    charts = lake_rows(project, env, "SELECT partition_key, file, bytes FROM revenue_chart "
                                     "ORDER BY partition_key")
    assert len(charts) == days[0] and all(b > 200 for _k, _f, b in charts)
    for key, file, size in charts:
        assert (project / "outputs" / "revenue_chart" / key / file).stat().st_size == size
    mats = catalog_rows(project, "SELECT asset, count(*) FROM materializations WHERE asset IN "
                                 "('revenue_forecast', 'revenue_chart') GROUP BY asset ORDER BY 1")
    assert mats == [("revenue_chart", days[0]), ("revenue_forecast", days[0])]
    plan = invoke(project, "plan", "--json", now=DAY_BEFORE, env=env)
    assert json.loads(plan.stdout)["empty"] is True
    code = project / "pipelines" / "forecast.py"
    code.write_text(code.read_text() + "\n# tuned\n")
    steps = json.loads(invoke(project, "plan", "--json", now=DAY_BEFORE, env=env).stdout)["steps"]
    assert {s["asset"] for s in steps} == {"revenue_forecast", "revenue_chart"}
    again = invoke(project, "materialize", now=DAY_BEFORE, env=env)
    assert again.exit_code == 0, again.output
    assert lake_rows(project, env, "SELECT count(*) FROM revenue_forecast")[0][0] == days[1]


STATEFUL = """
assets:
  - name: raw_people
    source: {path: data/people.csv, format: csv}
  - name: people_log
    deps: [raw_people]
    materialize: {strategy: append, cursor: id, sql: "select id, name from raw_people"}
  - name: people
    deps: [raw_people]
    materialize:
      strategy: merge
      unique_key: id
      delete_when: "name = 'DELETED'"
      sql: "select id, name, updated_at from raw_people"
  - name: people_history
    deps: [raw_people]
    materialize:
      strategy: snapshot
      unique_key: [id]
      check_columns: [name]
      hard_deletes: true
      sql: "select id, name from raw_people"
"""
DELIVERIES = [[(1, "ann", 1), (2, "bob", 1)],
              [(1, "anna", 2), (2, "DELETED", 2), (3, "cat", 2)],
              [(1, "anna", 2), (4, "dan", 3)]]


def _stateful_tables(root: Path, rows) -> dict:
    return {t: sorted(rows(f"SELECT * EXCLUDE (valid_from, valid_to) FROM {t}"
                           if t == "people_history" else f"SELECT * FROM {t}"))
            for t in ("people_log", "people", "people_history")}


def test_append_merge_and_snapshot_on_a_lake_equal_the_local_warehouse(postgres, tmp_path):
    """The same runs over changing input, on a lake and on local files: equal tables (each
    publish one lake transaction from the local stage)."""
    from conftest import warehouse_rows

    roots = {}
    for mode in ("local", "lake"):
        root = roots[mode] = tmp_path / mode
        (root / "data").mkdir(parents=True)
        (root / "m.yaml").write_text(STATEFUL)
    env = use_lake(roots["lake"], postgres, "lake-data")
    for day, rows in enumerate(DELIVERIES, start=5):
        now = f"2026-03-0{day}T07:30:00+00:00"
        for mode, root in roots.items():
            lines = ["id,name,updated_at"] + [f"{i},{n},{u}" for i, n, u in rows]
            (root / "data" / "people.csv").write_text("\n".join(lines) + "\n")
            result = invoke(root, "materialize", now=now, env=env if mode == "lake" else None)
            assert result.exit_code == 0, result.output
        local = _stateful_tables(roots["local"], lambda sql: warehouse_rows(roots["local"], sql))
        lake = _stateful_tables(roots["lake"], lambda sql: lake_rows(roots["lake"], env, sql))
        assert lake == local
    assert local["people"] == [(1, "anna", 2), (3, "cat", 2), (4, "dan", 3)]
    assert local["people_log"] == [(1, "ann"), (2, "bob"), (3, "cat"), (4, "dan")]
    current = [r[:2] for r in local["people_history"] if r[2]]
    assert current == [(1, "anna"), (4, "dan")]


def test_a_lake_on_s3(project, postgres, s3_server, tmp_path):
    """The data path in object storage: Parquet files land in the bucket, consumers read them."""
    need_extension("httpfs")
    import boto3

    bucket = f"lake-{os.getpid()}-{tmp_path.name[-12:].lower().replace('_', '-')}".strip("-")
    client = boto3.client("s3", endpoint_url=f"http://{s3_server}", region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="s3-secret-77")
    client.create_bucket(Bucket=bucket)
    secrets = ("extensions: [httpfs]\nsecrets:\n  lake:\n    type: s3\n"
               "    key_id: env:AWS_ACCESS_KEY_ID\n    secret: env:AWS_SECRET_ACCESS_KEY\n"
               "    endpoint: env:DUCK_S3_ENDPOINT\n    region: us-east-1\n"
               "    url_style: path\n    use_ssl: false\n")
    env = {**use_lake(project, postgres, f"s3://{bucket}/duck/", secrets),
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "s3-secret-77",
           "DUCK_S3_ENDPOINT": s3_server}
    result = invoke(project, "materialize", env=env)
    assert result.exit_code == 0, result.output
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert any(k.endswith(".parquet") for k in keys)
    status = json.loads(invoke(project, "status", "--json", env=env).stdout)
    assert {a["name"]: a["state"] for a in status["assets"]}["zone_metrics"] == "fresh"
    assert json.loads(invoke(project, "plan", "--json", env=env).stdout)["empty"] is True
    assert "s3-secret-77" not in result.output


def test_a_data_path_other_than_the_lakes_is_one_clear_error(project, postgres):
    env = use_lake(project, postgres, "lake-data")
    assert invoke(project, "materialize", env=env).exit_code == 0
    yaml = project / "duck.yaml"
    yaml.write_text(yaml.read_text().replace("data_path: lake-data", "data_path: elsewhere"))
    for command in ("materialize", "status"):
        result = invoke(project, command, env=env)
        assert result.exit_code == 2, result.output
        assert "differs from the one" in result.output and "elsewhere" in result.output
        assert env["PGPASSWORD"] not in result.output


def test_postgresql_down_is_one_clear_error(project, postgres):
    env = use_lake(project, postgres, "lake-data")
    env = {**env, "PGHOST": str(project / "no-server-here")}
    result = invoke(project, "materialize", env=env)
    assert result.exit_code == 2
    assert "PostgreSQL is not reachable" in result.output
    assert env["PGPASSWORD"] not in result.output


def test_a_wrong_password_is_one_clear_error_that_prints_no_secret(project, postgres):
    env = use_lake(project, postgres, "lake-data")
    env = {**env, "PGPASSWORD": "wrong-pass-123"}
    result = invoke(project, "materialize", env=env)
    assert result.exit_code == 2
    assert "refused the password" in result.output
    assert "wrong-pass-123" not in result.output and postgres.password not in result.output


def test_a_password_in_duck_yaml_is_refused(project, postgres):
    use_lake(project, postgres, "lake-data")
    yaml = project / "duck.yaml"
    yaml.write_text(yaml.read_text().replace("dbname=", "password=hunter2 dbname="))
    result = invoke(project, "materialize")
    assert result.exit_code == 2 and "holds a password" in result.output
    assert "hunter2" not in result.output


READER = r"""
import json, sys, time
from pathlib import Path
import duckdb
sys.path.insert(0, sys.argv[1])
from duck_cli.state import extensions
dsn, stop, out, good, bad_day = sys.argv[2:7]
good = json.loads(good)
seen, reads, wrong = set(), 0, []
con = duckdb.connect()
extensions.load(con, ("ducklake", "postgres"), Path(out).parent)
con.execute(f"ATTACH 'ducklake:postgres:{dsn}' AS lake (READ_ONLY)")
while not Path(stop).exists():
    con.execute("BEGIN TRANSACTION")
    counts = dict(con.execute("SELECT trip_date::VARCHAR, count(*) FROM lake.stg_trips "
                              "GROUP BY ALL").fetchall())
    con.execute("COMMIT")
    reads += 1
    for day, (old, new) in good.items():
        n = counts.get(day, 0)
        seen.add((day, n))
        if n not in (old, new) or (day == bad_day and n != old):
            wrong.append([day, n])
Path(out).write_text(json.dumps({"reads": reads, "wrong": wrong, "seen": sorted(seen)}))
"""


def test_a_reader_during_writes_sees_whole_publishes_only(project, postgres, tmp_path):
    """A consumer process reads every partition while a backfill replaces them: each day is its
    old or its new slice, never half of one, and never the slice that failed its checks."""
    env = use_lake(project, postgres, "lake-data")
    assert invoke(project, "materialize", env=env).exit_code == 0
    old = dict(lake_rows(project, env, "SELECT trip_date::VARCHAR, count(*) FROM stg_trips "
                                       "GROUP BY ALL"))
    trips = project / "data" / "trips"
    for day in sorted(old):  # every day gets one more trip; one day a duplicate (fails)
        f = trips / f"{day}.csv"
        lines = f.read_text().splitlines()
        f.write_text("\n".join(lines + [f"{80000 + len(lines)}," + lines[-1].split(",", 1)[1]])
                     + "\n")
    bad_day = "2026-03-09"
    append_duplicate_trip(project, bad_day)
    good = {d: [n, n + 1] for d, n in old.items()}
    stop, out = tmp_path / "stop", tmp_path / "reader.json"
    dsn = (f"host={env['PGHOST']} port={env['PGPORT']} user={env['PGUSER']} "
           f"password={env['PGPASSWORD']} dbname={env['PGDATABASE']}")
    reader = subprocess.Popen([sys.executable, "-c", READER, str(Path(__file__).parents[2]),
                               dsn, str(stop), str(out), json.dumps(good), bad_day])
    try:
        time.sleep(1.5)  # the reader is attached and reading
        back = invoke(project, "backfill", "stg_trips", "--from", min(old), "--to", max(old),
                      env=env)
        assert back.exit_code == 1 and "one_row_per_trip" in back.output, back.output
    finally:
        stop.touch()
        reader.wait(timeout=60)
    seen = json.loads(out.read_text())
    assert seen["wrong"] == [] and seen["reads"] > 3
    final = dict(lake_rows(project, env, "SELECT trip_date::VARCHAR, count(*) FROM stg_trips "
                                         "GROUP BY ALL"))
    assert final == {d: (n if d == bad_day else n + 1) for d, n in old.items()}
    # while the reader ran, some days were seen both before and after their publish
    assert any((d, n) in map(tuple, seen["seen"]) and (d, n + 1) in map(tuple, seen["seen"])
               for d, n in old.items() if d != bad_day)


class Competitor:
    """Another writer of the lake (its own DuckDB): it rewrites one day of stg_trips with the
    same rows and commits, while duck's publish of another day is open: a real DuckLake
    conflict for duck's commit (conflicts are detected per table)."""

    def __init__(self, project: Path, env: dict, times: int):
        import duckdb

        from duck_cli.state import extensions

        self.con, self.left, self.done = duckdb.connect(), times, 0
        extensions.load(self.con, ("ducklake", "postgres"), project / ".duck")
        dsn = " ".join(f"{k}={env['PG' + k.upper()]}" for k in ("host", "port", "user",
                                                                 "password"))
        self.con.execute(f"ATTACH 'ducklake:postgres:{dsn} dbname={env['PGDATABASE']}' AS lake")

    def commit(self) -> None:
        if not self.left:
            return
        self.left -= 1
        day = "trip_date = '2026-03-01'"
        self.con.execute("BEGIN TRANSACTION")
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE keep AS FROM lake.stg_trips WHERE {day}")
        self.con.execute(f"DELETE FROM lake.stg_trips WHERE {day}")
        self.con.execute("INSERT INTO lake.stg_trips FROM keep")
        self.con.execute("COMMIT")
        self.done += 1


@pytest.fixture
def contested(project, postgres, monkeypatch):
    """The example built in a lake, and a way to make duck's next publishes meet conflicts."""
    from duck_cli.run import lake_publish, transaction

    env = use_lake(project, postgres, "lake-data")
    assert invoke(project, "materialize", env=env).exit_code == 0
    before = dict(lake_rows(project, env, "SELECT trip_date::VARCHAR, count(*) FROM stg_trips "
                                          "GROUP BY ALL"))
    monkeypatch.setattr(transaction, "PAUSE", 0.01)

    def contest(times: int) -> Competitor:
        rival = Competitor(project, env, times)
        original = lake_publish.LakeBuilder.replace_slice_from

        def replace_then_rival_commits(self, relation):
            original(self, relation)
            rival.commit()

        monkeypatch.setattr(lake_publish.LakeBuilder, "replace_slice_from",
                            replace_then_rival_commits)
        return rival

    return project, env, before, contest


def test_a_publish_that_meets_a_conflict_is_tried_again(contested):
    project, env, before, contest = contested
    rival = contest(times=2)
    result = invoke(project, "backfill", "stg_trips", "--partition", "2026-03-02", env=env)
    assert result.exit_code == 0 and "1 succeeded" in result.output, result.output
    assert rival.done == 2  # two publishes were refused, the third committed
    after = dict(lake_rows(project, env, "SELECT trip_date::VARCHAR, count(*) FROM stg_trips "
                                         "GROUP BY ALL"))
    assert after == before
    runs = catalog_rows(project, "SELECT count(*) FROM materializations WHERE asset = "
                                 "'stg_trips' AND partition_key = '2026-03-02'")[0][0]
    assert runs == 2  # the first build and the backfill, each recorded once


def test_conflicts_past_the_bound_fail_the_step_naming_asset_and_partition(contested,
                                                                            monkeypatch):
    from duck_cli.run import transaction

    project, env, before, contest = contested
    monkeypatch.setattr(transaction, "ATTEMPTS", 3)
    rival = contest(times=100)
    result = invoke(project, "backfill", "stg_trips", "--partition", "2026-03-02", env=env)
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "stg_trips 2026-03-02" in text and "refused the publish 3 times" in text, text
    assert rival.done == 3
    runs = catalog_rows(project, "SELECT count(*) FROM materializations WHERE asset = "
                                 "'stg_trips' AND partition_key = '2026-03-02'")[0][0]
    assert runs == 1  # nothing recorded for the refused publishes
    assert dict(lake_rows(project, env, "SELECT trip_date::VARCHAR, count(*) FROM stg_trips "
                                        "GROUP BY ALL")) == before


@pytest.mark.parametrize("version", ["9.9", "0.1"])
def test_a_lake_of_another_format_version_is_one_clear_error(project, postgres, version):
    """A lake whose catalog says another DuckLake format version (written by a newer or an
    older DuckDB) is refused with one clear error naming both versions: exit 2, no
    traceback, no secret, nothing changed in the lake's catalog."""
    import psycopg

    env = use_lake(project, postgres, "lake-data")
    assert invoke(project, "materialize", env=env).exit_code == 0
    with psycopg.connect(postgres.dsn(env["PGDATABASE"]), autocommit=True) as con:
        ours = con.execute("SELECT value FROM ducklake_metadata WHERE key = 'version'"
                           ).fetchone()[0]
        con.execute("UPDATE ducklake_metadata SET value = %s WHERE key = 'version'", [version])
    for command in ("materialize", "status"):
        result = invoke(project, command, env=env)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output and env["PGPASSWORD"] not in result.output
        assert f"format version {version}" in result.output
        assert f"reads format version {ours}" in result.output
        assert ("newer DuckDB" if version == "9.9" else "AUTOMATIC_MIGRATION") in result.output
    with psycopg.connect(postgres.dsn(env["PGDATABASE"])) as con:
        assert con.execute("SELECT value FROM ducklake_metadata WHERE key = 'version'"
                           ).fetchone()[0] == version


PLAIN = """
assets:
  - name: base
    materialize: {sql: "select range::int as id, date '2026-03-01' + (range % 12)::int as day from range(120)"}
""" + "".join(f"""
  - name: t{i}
    deps: [base]
    materialize: {{sql: "select id * {i} as v from base"}}
""" for i in range(6)) + """
  - name: daily
    deps: [base]
    partitions: {daily: {start: "2026-03-01", column: day}}
    materialize: {strategy: incremental, sql: "select day, count(*) as n from base where day >= $partition_start and day < $partition_end group by day"}
"""


def test_plain_steps_share_lake_commits_each_named_in_its_snapshot(postgres, tmp_path):
    """Steps with nothing to audit (no checks, no contract) publish in shared DuckLake commits:
    fewer snapshots than steps, the same tables, every materialization naming the snapshot
    that holds it, whose commit message names its run and step."""
    root = tmp_path / "plain"
    root.mkdir()
    (root / "m.yaml").write_text(PLAIN)
    env = use_lake(root, postgres, "lake-data")
    now = "2026-03-12T07:30:00+00:00"
    result = invoke(root, "materialize", "--jobs", "2", now=now, env=env)
    assert result.exit_code == 0, result.output
    back = invoke(root, "backfill", "daily", "--from", "2026-03-01", "--to", "2026-03-10",
                  "--batch-size", "2", "--jobs", "2", now=now, env=env)
    assert back.exit_code == 0, back.output
    assert [lake_rows(root, env, f"SELECT sum(v) FROM t{i}")[0][0] for i in range(6)] == \
        [i * sum(range(120)) for i in range(6)]
    assert lake_rows(root, env, "SELECT day::VARCHAR, n FROM daily ORDER BY day") == \
        [(f"2026-03-{d:02d}", 10) for d in range(1, 12)]
    rows = catalog_rows(root, "SELECT run_id, step, asset, upstream FROM materializations WHERE "
                              "kind = 'materialization'")
    snapshots = dict(lake_rows(root, env, "SELECT snapshot_id, commit_message FROM "
                                          "ducklake_snapshots('lake')"))
    made = {json.loads(upstream)["snapshot"] for *_r, upstream in rows}
    assert len(rows) == 28 and len(made) < 18  # 7 tables and 11 partitions, then 10 again
    for run_id, step, asset, upstream in rows:
        message = snapshots[json.loads(upstream)["snapshot"]]
        assert message.startswith(f"{run_id} ") and f"step {step}: {asset}" in message
    assert any(";" in snapshots[m] for m in made)  # some commits carried several steps
    backfill = max(r[0] for r in rows)  # its batches of 2 days after the first share commits
    assert any(";" in snapshots[json.loads(u)["snapshot"]] for r, *_s, u in rows if r == backfill)
    counts = catalog_rows(root, "SELECT partition_key, row_count FROM materializations WHERE "
                                "asset = 'daily' AND run_id = ?", [backfill])
    assert sorted(counts) == [(f"2026-03-{d:02d}", 1) for d in range(1, 11)]  # a row a day


def test_a_new_tables_first_publish_creates_it_with_every_ready_batch(postgres, tmp_path):
    """A backfill of an incremental table the lake does not hold yet creates the table in the
    commit that publishes its batches, all of them together (no batch commits alone before the
    rest), in one data file; a crash inside that transaction leaves neither the table nor any
    slice nor ledger row, and the next command builds every partition."""
    from reliability_check import run_duck

    root = tmp_path / "plain"
    root.mkdir()
    # ten rows a day: a batch's 20 rows are more than DuckLake inlines in its catalog (10), so
    # every INSERT of them writes a Parquet file
    (root / "m.yaml").write_text(PLAIN.replace(
        "select day, count(*) as n from base where day >= $partition_start and day < "
        "$partition_end group by day", "select day, id from base where day >= "
        "$partition_start and day < $partition_end"))
    env = use_lake(root, postgres, "lake-data")
    now = "2026-03-12T07:30:00+00:00"
    assert invoke(root, "materialize", "base", now=now, env=env).exit_code == 0
    backfill = ("backfill", "daily", "--from", "2026-03-01", "--to", "2026-03-10",
                "--batch-size", "2", "--jobs", "2")
    crashed = run_duck(root, *backfill, now=now, DUCK_FAULT="publish:1", **env)
    assert crashed.returncode == 137, crashed.stdout + crashed.stderr
    assert lake_rows(root, env, "SELECT count(*) FROM duckdb_tables() WHERE database_name = "
                                "'lake' AND table_name = 'daily'") == [(0,)]
    assert lake_rows(root, env, "SELECT count(*) FROM _duck.ledger WHERE asset = 'daily'") \
        == [(0,)]
    again = invoke(root, *backfill, now=now, env=env)
    assert again.exit_code == 0, again.output
    assert lake_rows(root, env, "SELECT day::VARCHAR, count(*) FROM daily GROUP BY day ORDER "
                                "BY day") == [(f"2026-03-{d:02d}", 10) for d in range(1, 11)]
    rows = catalog_rows(root, "SELECT row_count, upstream FROM materializations WHERE asset = "
                              "'daily' AND kind = 'materialization'")
    made = {json.loads(upstream)["snapshot"] for _n, upstream in rows}
    assert len(rows) == 10 and len(made) == 1  # five batches of two days, one commit
    assert {n for n, _upstream in rows} == {10}
    (message, changes), = lake_rows(root, env, "SELECT commit_message, changes FROM "
                                               "ducklake_snapshots('lake') WHERE snapshot_id = ?",
                                    [made.pop()])
    assert all(f"step {n}: daily" in message for n in range(5)), message
    assert "tables_created" in changes and any("daily" in t for t in changes["tables_created"])
    # the five slices went in with one INSERT: a reader opens one Parquet file, not five
    assert len(lake_rows(root, env, "FROM ducklake_list_files('lake', 'daily')")) == 1


def test_batches_leaking_rows_outside_their_days_fail_alone_on_a_lake(postgres, tmp_path):
    """Plain batches sharing a lake commit are counted in their local stages: a batch whose
    SQL yields rows of another day fails (naming the asset, its days and the column) and
    publishes nothing, while the batch those rows belong to publishes."""
    root = tmp_path / "leaky"
    root.mkdir()
    (root / "m.yaml").write_text(PLAIN.replace(
        "where day >= $partition_start and day < $partition_end group by day",
        "where (day >= $partition_start and day < $partition_end) or day = date '2026-03-09' "
        "group by day"))
    env = use_lake(root, postgres, "lake-data")
    now = "2026-03-12T07:30:00+00:00"
    assert invoke(root, "materialize", "base", now=now, env=env).exit_code == 0
    result = invoke(root, "backfill", "daily", "--from", "2026-03-01", "--to", "2026-03-10",
                    "--batch-size", "2", "--jobs", "2", "--json", now=now, env=env)
    assert result.exit_code == 1, result.output
    words = " ".join(result.output.split())
    assert "daily 2026-03-01: the SQL produced 1 row(s) whose 'day' lies outside the " \
           "partition" in words
    assert lake_rows(root, env, "SELECT day::VARCHAR, n FROM daily ORDER BY day") == \
        [("2026-03-09", 10), ("2026-03-10", 10)]
    built = catalog_rows(root, "SELECT partition_key, row_count FROM materializations WHERE "
                               "asset = 'daily' AND kind = 'materialization'")
    assert sorted(built) == [("2026-03-09", 1), ("2026-03-10", 1)]
