"""File sources at scale: content versions, one day reads one day, bad files fail their own day."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import Duck, catalog_rows, example_copy, warehouse_rows

DAY = "2026-03-05"
TRIPS = Path("data/trips")


def plan_steps(duck: Duck) -> list[tuple[str, list[str]]]:
    doc = duck.json("plan")
    return [(s["asset"], s["partitions"]) for s in doc["steps"]]


def stg_rows(root: Path, day: str = DAY) -> int:
    return warehouse_rows(root, "SELECT count(*) FROM stg_trips WHERE trip_date = ?", [day])[0][0]


@pytest.fixture
def built(project) -> Duck:
    duck = Duck(project)
    duck("materialize")
    return duck


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
                   cwd=cwd, check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_clone_with_restored_state_plans_nothing_then_exactly_a_changed_day(built, tmp_path):
    src = built.root
    (src / ".gitignore").write_text(".duck/\n")
    git("init", "-q", cwd=src)
    git("add", "-A", cwd=src)
    git("commit", "-qm", "project", cwd=src)
    clone = tmp_path / "clone"
    git("clone", "-q", str(src), str(clone), cwd=tmp_path)
    shutil.copytree(src / ".duck", clone / ".duck")  # what CI restores from its cache
    duck = Duck(clone)
    assert duck.json("plan")["empty"] is True
    path = clone / TRIPS / f"{DAY}.csv"
    path.write_text(path.read_text().replace("Zone 2,", "Zone 2b,", 1))
    planned = plan_steps(duck)
    partitioned: dict = {}
    for a, p in planned:
        if p and p[0][:4] == "2026":
            partitioned.setdefault(a, []).extend(p)
    # the forecast (and its chart) of the day and of the next, which reads the day before
    assert partitioned == {"stg_trips": [DAY], "zone_metrics": [DAY], "daily_revenue": [DAY],
                           "revenue_forecast": [DAY, "2026-03-06"],
                           "revenue_chart": [DAY, "2026-03-06"]}


def test_touched_identical_file_is_not_changed_and_a_new_byte_is(built):
    path = built.root / TRIPS / f"{DAY}.csv"
    os.utime(path, (1, 1))  # same bytes, new time: a checkout or a copy
    assert built.json("plan")["empty"] is True
    path.write_text(path.read_text() + "")
    with open(path, "a") as f:
        f.write(f"999999,{DAY} 10:00:00,2,Zone 2,1.0,5.0\n")
    assert ("stg_trips", [DAY]) in plan_steps(built)


@pytest.mark.local_state
def test_size_mtime_versions_of_an_old_catalog_migrate_without_rebuilds(built):
    """A catalog from before content versions recorded size:mtime; it plans nothing, and the
    next writing command rewrites those observations in place (same seq), running no step."""
    root = built.root
    legacy = {}
    for f in sorted((root / TRIPS).glob("*.csv")):
        st = f.stat()
        legacy[f.stem] = f"{st.st_size}:{st.st_mtime_ns}"
    import duckdb

    for db, table in (("catalog.duckdb", "materializations"),
                      ("catalog.duckdb", "current_materializations"),  # its latest rows
                      ("warehouse.duckdb", "_duck.ledger")):
        con = duckdb.connect(str(root / ".duck" / db))
        for key, version in legacy.items():
            con.execute(f"UPDATE {table} SET data_version = ? WHERE asset = 'raw_trips' "
                        "AND partition_key = ?", [version, key])
        con.close()
    (root / ".duck" / "cache" / "snapshot.pickle").unlink(missing_ok=True)
    assert built.json("plan")["empty"] is True
    runs_before = catalog_rows(root, "SELECT count(*) FROM steps")[0][0]
    built("materialize")
    assert catalog_rows(root, "SELECT count(*) FROM steps")[0][0] == runs_before
    versions = catalog_rows(root, "SELECT data_version FROM materializations WHERE "
                                  "asset = 'raw_trips' AND partition_key = ?", [DAY])
    assert len(versions) == 1 and versions[0][0].startswith("b2:")
    assert built.json("plan")["empty"] is True


def test_a_one_day_backfill_reads_only_that_days_file(built):
    """Every other day's file is overwritten in place with garbage of the same size and time
    (so its cached version, and the plan, do not change): the one-day step must not read it."""
    root = built.root
    for f in (root / TRIPS).glob("*.csv"):
        if f.stem == DAY:
            continue
        st = f.stat()
        with open(f, "r+b") as out:
            out.write(b"#" * st.st_size)
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    before = stg_rows(root)
    result = built("backfill", "stg_trips", "--partition", DAY)
    assert "success" in result.output
    assert stg_rows(root) == before > 0


def test_a_one_day_backfill_leaves_another_days_changed_file_to_plan(built):
    """Another day's file changed: the one-day backfill neither records that change nor
    rebuilds or reports that day (it is not the command's business); `duck plan` still sees
    it and plans that day and its downstream, and `duck materialize` then builds it."""
    root, other = built.root, "2026-03-06"
    path = root / TRIPS / f"{other}.csv"
    path.write_text(path.read_text().replace("Zone 2,", "Zone 2 (fixed),"))
    observations = ("SELECT count(*) FROM materializations WHERE asset = 'raw_trips' AND "
                    "kind = 'observation' AND partition_key = ?")
    seen = catalog_rows(root, observations, [other])[0][0]
    doc = built.json("backfill", "stg_trips", "--partition", DAY)
    assert [(s["asset"], s["partitions"]) for s in doc["steps"]] == [("stg_trips", [DAY])]
    assert other not in built("backfill", "stg_trips", "--partition", DAY).output
    assert catalog_rows(root, observations, [other])[0][0] == seen
    assert ("stg_trips", [other]) in plan_steps(built)
    built("materialize")
    assert catalog_rows(root, observations, [other])[0][0] == seen + 1
    assert built.json("plan")["empty"] is True


def test_materialize_of_one_partition_is_scoped_like_a_backfill(built):
    """`duck materialize --partition` observes and rebuilds only that day and what it reads:
    another day's changed file is neither recorded nor rebuilt (plan still sees it), and a
    third day's file overwritten with garbage of the same size and time is never read."""
    root, other, garbled = built.root, "2026-03-06", "2026-03-07"
    path = root / TRIPS / f"{other}.csv"
    path.write_text(path.read_text().replace("Zone 2,", "Zone 2 (fixed),"))
    bad = root / TRIPS / f"{garbled}.csv"
    st = bad.stat()
    bad.write_bytes(b"#" * st.st_size)
    os.utime(bad, ns=(st.st_atime_ns, st.st_mtime_ns))
    observations = ("SELECT count(*) FROM materializations WHERE asset = 'raw_trips' AND "
                    "kind = 'observation' AND partition_key = ?")
    seen = catalog_rows(root, observations, [other])[0][0]
    doc = built.json("materialize", "stg_trips", "--partition", DAY, "--force")
    assert [(s["asset"], s["partitions"]) for s in doc["steps"]] == [("stg_trips", [DAY])]
    assert catalog_rows(root, observations, [other])[0][0] == seen
    assert stg_rows(root) > 0
    assert ("stg_trips", [other]) in plan_steps(built)


@pytest.mark.parametrize("bad", [
    "this,is\n\"not a csv\n",
    "id,when,zone,name,km,price\n1,2026-03-05 01:00:00,2,Zone 2,1.0,2.0\n",
    None,  # the day's own file with its last line cut short
], ids=["garbage", "wrong_header", "truncated"])
def test_a_bad_file_fails_only_its_day_and_keeps_its_rows(built, bad):
    root = built.root
    path = root / TRIPS / f"{DAY}.csv"
    text = path.read_text()
    path.write_text(bad if bad is not None else text[: text.rstrip().rfind(",") - 3])
    other = root / TRIPS / "2026-03-06.csv"
    other.write_text(other.read_text().replace("Zone 2,", "Zone 2 (fixed),"))
    before = stg_rows(root)
    zones_before = warehouse_rows(root, "SELECT count(*) FROM zone_metrics WHERE trip_date = ?",
                                  [DAY])[0][0]
    result = built("materialize", expect=1)
    assert str(path) in result.output and "source.options" in result.output
    assert stg_rows(root) == before
    assert warehouse_rows(root, "SELECT count(*) FROM zone_metrics WHERE trip_date = ?",
                          [DAY])[0][0] == zones_before
    assert warehouse_rows(root, "SELECT count(*) FROM stg_trips WHERE zone_name = "
                                "'Zone 2 (fixed)'")[0][0] > 0
    steps = dict(((a, tuple(p)), (st, kind)) for a, p, st, kind in catalog_rows(
        root, "SELECT asset, partitions, status, error_kind FROM steps WHERE run_id = "
              "(SELECT max(run_id) FROM runs)"))
    assert steps[("stg_trips", (DAY,))] == ("failed", "source")
    assert steps[("zone_metrics", (DAY,))][0] == "skipped"


def test_declared_columns_refuse_a_file_with_other_columns(project):
    manifest = project / "sources.yaml"
    manifest.write_text(manifest.read_text().replace(
        'source: {path: "data/trips/{date}.csv", format: csv}',
        'source: {path: "data/trips/{date}.csv", format: csv, columns: {trip_id: BIGINT, '
        'pickup_at: TIMESTAMP, zone_id: INTEGER, zone_name: VARCHAR, distance_km: DOUBLE, '
        'fare: DOUBLE}}'))
    path = project / TRIPS / f"{DAY}.csv"
    path.write_text(path.read_text().replace("fare", "price", 1))
    result = Duck(project)("materialize", expect=1)
    assert f"{DAY}.csv" in result.output and "price" in result.output
    assert warehouse_rows(project, "SELECT count(DISTINCT trip_date) FROM stg_trips")[0][0] == 11


def test_an_empty_file_is_an_empty_partition_never_published_over_rows(built):
    root = built.root
    path = root / TRIPS / f"{DAY}.csv"
    path.write_text(path.read_text().splitlines()[0] + "\n")  # the header, no rows
    before = stg_rows(root)
    result = built("materialize", expect=1)
    assert "allow_empty" in result.output
    assert stg_rows(root) == before > 0
    observed = catalog_rows(root, "SELECT data_version FROM materializations WHERE asset = "
                                  "'raw_trips' AND partition_key = ? ORDER BY seq DESC LIMIT 1",
                            [DAY])[0][0]
    assert observed.endswith(";empty")
    status = built.json("status", "raw_trips", expect=None)["assets"][0]["partitions"]
    assert status["empty"] == 1 and status["empty_ranges"] == [DAY]
    assert "arrived empty" in built("status", "raw_trips", expect=None).output
    manifest = root / "mobility.yaml"
    manifest.write_text(manifest.read_text().replace(
        "    deps: [raw_trips]\n", "    deps: [raw_trips]\n    allow_empty: true\n", 1))
    built("materialize", expect=None)
    assert stg_rows(root) == 0


def test_first_plan_on_a_fresh_copy_shows_the_real_work(tmp_path):
    root = example_copy(tmp_path / "fresh")
    doc = Duck(root).json("plan")
    assert any(s["asset"] == "stg_trips" for s in doc["steps"])
