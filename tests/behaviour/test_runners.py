"""Several runners on one backfill (PostgreSQL state, DuckLake warehouse): two and four `duck
backfill` processes share the work; every partition is built exactly once, the tables equal a
single-runner build and the same SQL run directly, and the backfill record says which runner
built what. Runs (never skips) where DUCK_REQUIRE_EXTENSIONS=1 (venv with the extensions)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from runners import (DIRECT, FIRST, LAST, backfill, lake_rows, make_project, start,
                     state_rows)
from servers import need_extension

DAYS = 20


@pytest.fixture
def shared(tmp_path, postgres):
    for name in ("ducklake", "postgres"):
        need_extension(name)
    root = tmp_path / "runners"
    return root, make_project(root, postgres)


def finish(procs, timeout: float = 240) -> list[tuple[int, str, str]]:
    """Wait for runner processes; their exit codes and output."""
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=timeout)
        out.append((p.returncode, stdout, stderr))
    return out


def built_once(env) -> dict[tuple[str, str], int]:
    """Materializations recorded per (asset, partition)."""
    return {(a, k): n for a, k, n in state_rows(
        env, "SELECT asset, partition_key, count(*) FROM duck.materializations WHERE kind = "
             "'materialization' GROUP BY 1, 2")}


def tables(root: Path, env) -> tuple[list, list]:
    """The final tables, in a fixed order."""
    events = lake_rows(root, env, "SELECT day::VARCHAR, n, v FROM events ORDER BY ALL")
    totals = lake_rows(root, env, "SELECT day::VARCHAR, events, total FROM daily_totals "
                                  "ORDER BY ALL")
    return events, totals


def direct(root: Path, env) -> tuple[list, list]:
    """The same SQL run straight in DuckDB."""
    import duckdb

    sql = DIRECT.format(first=FIRST, last=LAST, rows=50)
    con = duckdb.connect()
    events = con.execute(f"SELECT day::VARCHAR, n, v FROM ({sql}) ORDER BY ALL").fetchall()
    totals = con.execute(f"SELECT day::VARCHAR, count(*), sum(v) FROM ({sql}) GROUP BY day "
                         "ORDER BY ALL").fetchall()
    return events, totals


@pytest.mark.parametrize("runners", [2, 4])
def test_runners_share_one_backfill_and_build_each_partition_once(shared, tmp_path, postgres,
                                                                  runners):
    root, env = shared
    procs = [backfill(root, env, runner=f"runner-{n}") for n in range(runners)]
    for code, stdout, stderr in finish(procs):
        assert code == 0, stdout + stderr
    counts = built_once(env)
    assert len(counts) == 2 * DAYS and set(counts.values()) == {1}
    ledger = lake_rows(root, env, "SELECT asset, partition_key, count(*) FROM _duck.ledger "
                                  "WHERE kind = 'materialization' GROUP BY ALL")
    assert len(ledger) == 2 * DAYS and {n for _a, _k, n in ledger} == {1}
    assert tables(root, env) == direct(root, env)
    # a runner builds adjacent days it claimed as one step (one statement, one publish), as
    # the local backfill batches them; each day still a claim and a materialization of its own
    steps = state_rows(env, "SELECT asset, cardinality(partitions) FROM duck.steps WHERE "
                            "status = 'success'")
    assert sum(n for _a, n in steps) == 2 * DAYS and max(n for _a, n in steps) > 1
    assert len(steps) < 2 * DAYS
    # one backfill, one run per runner; the record says who built what
    doc = json.loads(start(root, env, "backfills", "--json").communicate(timeout=60)[0])
    schema = json.loads((Path(__file__).parents[2] / "schemas" / "backfills.schema.json"
                         ).read_text())
    assert not list(Draft202012Validator(schema).iter_errors(doc))
    (bf,) = doc["backfills"]
    assert len(bf["runs"]) == runners and bf["status"] == "completed"
    built = bf["runners"]
    assert set(built) <= {f"runner-{n}" for n in range(runners)} and len(built) >= 2
    assert sorted(k for r in built.values() for ks in r.values() for k in ks) == sorted(
        k for _a, k in counts)
    shown = start(root, env, "backfills").communicate(timeout=60)[0]
    assert all(f"{bf['backfill_id']}: {r} built " in shown for r in built)
    # a single runner on a fresh project builds the same tables
    alone_root = tmp_path / "alone"
    alone = make_project(alone_root, postgres)
    ((code, out, err),) = finish([backfill(alone_root, alone)])
    assert code == 0, out + err
    assert tables(alone_root, alone) == tables(root, env)


def test_writers_on_independent_assets_run_side_by_side(shared):
    """With the state in PostgreSQL the write lock is per asset: a materialize of weather
    runs while one of events is in the middle of its build; a second writer of events is
    refused at once with --wait 0 (exit 4, naming the holder), and with a longer --wait it
    waits, plans again and finds nothing left to do. Run ids never collide."""
    root, env = shared
    first = start(root, env, "materialize", "events", "--no-progress", fault="stage:1:pause=25")
    time.sleep(4)  # the first writer holds events' lock, paused in its first stage
    assert first.poll() is None
    weather = start(root, env, "materialize", "weather", "--no-progress", "--wait", "0")
    out, err = weather.communicate(timeout=60)
    assert weather.returncode == 0, out + err
    assert first.poll() is None  # it ran while events was being built
    refused = start(root, env, "materialize", "events", "--wait", "0")
    out, err = refused.communicate(timeout=60)
    assert refused.returncode == 4 and "`duck materialize`" in err and "Traceback" not in err
    waiting = start(root, env, "materialize", "events", "--wait", "120", "--json")
    out, err = waiting.communicate(timeout=240)
    assert waiting.returncode == 0, out + err
    assert first.wait(timeout=120) == 0
    assert json.loads(out)["run_id"] is None  # planned again after the wait: nothing to do
    runs = state_rows(env, "SELECT run_id, command, status FROM duck.runs ORDER BY run_id")
    assert [r[2] for r in runs] == ["success", "success"]
    assert len({r[0] for r in runs}) == 2
    assert lake_rows(root, env, "SELECT count(*) FROM weather") == [(10,)]


def test_a_writer_starting_while_another_records_new_source_data_records_it_once(shared):
    """Writer A has put a source observation in the lake's ledger and not yet in the state
    (held there by a pause): writer B, starting then, copies ledger rows of no run that the
    state lacks; it must wait for A to record them, not record them too (A's record would then
    fail on the state's key)."""
    root, env = shared
    (root / "data").mkdir()
    (root / "data" / "rain.csv").write_text("station,mm\n1,2.5\n2,0.0\n")
    with (root / "assets.yaml").open("a") as f:
        f.write("  - name: rain_readings\n    kind: source\n"
                "    source: {path: data/rain.csv}\n")
    a = start(root, env, "materialize", "weather", "--no-progress", fault="observed:1:pause=4")
    time.sleep(2.5)  # A is in its pause: the observation is in the ledger only
    b = start(root, env, "materialize", "weather", "--no-progress")
    for code, stdout, stderr in finish([a, b]):
        assert code == 0, stdout + stderr
    seen = state_rows(env, "SELECT count(*), count(DISTINCT seq) FROM duck.materializations "
                           "WHERE asset = 'rain_readings' AND kind = 'observation'")
    assert seen == [(1, 1)]
    ledger = lake_rows(root, env, "SELECT count(*) FROM _duck.ledger WHERE asset = "
                                  "'rain_readings'")
    assert ledger == [(1,)]


def test_a_runner_finishing_a_dead_runners_claims_keeps_its_own_run_alive(shared):
    """Runner A dies (like kill -9) just after publishing its first slice, before marking it
    done. B takes that claim over once A's lease lapsed, finds it built, and records A's run
    abandoned; its own run stays running until it ends. (B used to take itself for dead there:
    its run showed abandoned and the backfill partial for the rest of its work, and rows it had
    published but not recorded yet were copied into the state, so that its own record of them
    failed on the state's key.)"""
    root, env = shared
    a = start(root, env, "backfill", "events+", "--from", FIRST, "--to", LAST, "--no-progress",
              runner="a", lease=1.0, fault="published:1")
    assert a.wait(timeout=120) == 137
    time.sleep(1.5)  # A's lease lapses
    b = backfill(root, env, runner="b", lease=1.0)
    own = "SELECT status FROM duck.runs WHERE pid = %s"
    seen = set()
    while b.poll() is None:
        seen |= {status for (status,) in state_rows(env, own, [b.pid])}
        time.sleep(0.05)
    stdout, stderr = b.communicate()
    assert b.returncode == 0, stdout + stderr
    assert seen <= {"running", "success"}
    assert state_rows(env, own, [b.pid]) == [("success",)]
    assert state_rows(env, own, [a.pid]) == [("abandoned",)]
    built = built_once(env)
    assert len(built) == 2 * DAYS and set(built.values()) == {1}
    assert tables(root, env) == direct(root, env)
