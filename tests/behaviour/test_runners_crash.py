"""Runners of one shared backfill killed with -9 at random points (PostgreSQL state, DuckLake
warehouse): a replacement starts after each kill, the survivors and replacements finish the
work once the dead runner's lease lapses, and afterwards no partition is lost or duplicated,
each was recorded exactly once, and no materialization is recorded without its data. A reader
process meanwhile never sees half a publish nor the slice that failed its checks."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time

import pytest

from runners import (DIRECT, backfill, lake_rows, make_project, start_reader,
                     state_rows)
from servers import need_extension

ROWS = 40
STUCK = ("SELECT backfill_id, asset, partition_key, status, runner, lease_until, claims, stage "
         "FROM duck.claims WHERE status <> 'done' ORDER BY 1, 2, 3")
ACTIVITY = ("SELECT pid, state, wait_event_type, wait_event, left(query, 120) FROM "
            "pg_stat_activity WHERE datname IS NOT NULL")
LEASE = 1.5
WINDOWS = (("2026-01-01", "2026-01-12", 12), ("2026-02-01", "2026-02-12", 12),
           ("2026-02-13", "2026-02-24", 12), ("2026-01-13", "2026-01-24", 12),
           ("2026-01-25", "2026-01-31", 7), ("2026-02-25", "2026-02-28", 4))


@pytest.fixture
def lake_project(tmp_path, postgres):
    for name in ("ducklake", "postgres"):
        need_extension(name)

    def make(name: str, **kw):
        root = tmp_path / name
        return root, make_project(root, postgres, rows=ROWS, **kw)

    return make


def chaos(root, env, first: str, last: str, kills: int, rng: random.Random) -> int:
    """Three runners on one backfill; kill -9 one at a random moment, start another, ``kills``
    times (fewer if the work is done first); then wait for the rest. How many were killed."""
    def runner(n: int):
        return backfill(root, env, runner=f"r{n}", first=first, last=last, lease=LEASE)

    live, started, killed = [runner(n) for n in range(3)], 3, 0
    while killed < kills:
        time.sleep(rng.uniform(0.2, 1.5))  # short: a faster duck finishes a window sooner
        running = [p for p in live if p.poll() is None]
        if not running:
            break
        victim = rng.choice(running)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        killed += 1
        live.append(runner(started))
        started += 1
    for p in live:
        try:
            out, err = p.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            for q in live:
                q.kill()
            pytest.fail(f"runners did not finish: {state_rows(env, STUCK)} "
                        f"{state_rows(env, ACTIVITY)}")
        assert p.returncode in (0, -9), out + err
    return killed


def consistent(root, env, first: str, last: str, days: int) -> None:
    """Every partition of both assets is in the lake once, equal to the same SQL run directly,
    recorded exactly once, and every recorded materialization has its data."""
    import duckdb

    sql = DIRECT.format(first=first, last=last, rows=ROWS)
    want = duckdb.connect().execute(f"SELECT day::VARCHAR, n, v FROM ({sql}) ORDER BY ALL"
                                    ).fetchall()
    got = lake_rows(root, env, "SELECT day::VARCHAR, n, v FROM events WHERE day BETWEEN ? AND ? "
                               "ORDER BY ALL", [first, last])
    assert got == want  # nothing lost, nothing duplicated
    totals = lake_rows(root, env, "SELECT day::VARCHAR, events FROM daily_totals WHERE day "
                                  "BETWEEN ? AND ? ORDER BY ALL", [first, last])
    assert len(totals) == days and {n for _d, n in totals} == {ROWS}
    mats = state_rows(env, "SELECT asset, partition_key, count(*) FROM duck.materializations m "
                           "JOIN duck.runs r USING (run_id) WHERE kind = 'materialization' AND "
                           "partition_key BETWEEN %s AND %s GROUP BY 1, 2", [first, last])
    assert len(mats) == 2 * days and {n for _a, _k, n in mats} == {1}
    ledger = {(a, k) for a, k in lake_rows(root, env, "SELECT asset, partition_key FROM "
                                                      "_duck.ledger WHERE kind = "
                                                      "'materialization'")}
    assert {(a, k) for a, k, _n in mats} <= ledger  # no record without its data
    left = state_rows(env, "SELECT count(*) FROM duck.claims WHERE status <> 'done'")
    assert left == [(0,)]


def test_runners_killed_at_random_points_lose_and_duplicate_nothing(lake_project, tmp_path):
    rng = random.Random(int(time.time()))
    root, env = lake_project("chaos")
    bad = "2026-01-05"
    stop, out = tmp_path / "stop", tmp_path / "reader.json"
    root2, env2 = lake_project("chaos-reader", bad=bad)
    reader = start_reader(root2, env2, stop, out, rows=ROWS, bad=bad)
    total = 0
    try:
        # the first three windows always; the next while fewer than 20 runners were killed (a
        # faster duck may finish a window before its 8 kills)
        for n, (first, last, days) in enumerate(WINDOWS):
            if n >= 3 and total >= 20:
                break
            total += chaos(root, env, first, last, kills=8, rng=rng)
            consistent(root, env, first, last, days)
        # the reader's project: runners on a backfill with a day failing its check
        procs = [backfill(root2, env2, runner=f"q{n}", first="2026-01-01", last="2026-01-08",
                          lease=LEASE) for n in range(2)]
        codes = [p.wait(timeout=300) for p in procs]
        assert 1 in codes and set(codes) <= {0, 1}  # the failed day fails its runner's run
    finally:
        stop.touch()
        reader.wait(timeout=60)
    assert total >= 20, f"only {total} runners were killed: the work ended too soon"
    seen = json.loads(out.read_text())
    assert seen["wrong"] == [] and seen["reads"] > 3
    assert len({d for d, _n in seen["seen"]}) == 7  # every good day was seen, whole
    record = state_rows(env2, "SELECT status FROM duck.backfills")
    assert record == [("partial",)]
