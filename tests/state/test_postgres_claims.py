"""Several runners on one backfill, at the state level: runner processes (claims_runner.py)
share a backfill's partitions through claims in PostgreSQL. Every partition is done exactly
once and never built by two live runners at a time; a runner killed with -9 loses its claims
when its lease lapses and the survivors finish; the record says which runner built what."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from duck_cli.state.postgres_claims import Claims, Item
from duck_cli.state.postgres_schema import prepare

RUNNER = Path(__file__).with_name("claims_runner.py")
ITEMS = [Item("zone_metrics", f"2026-03-{d:02d}") for d in range(1, 21)]


@pytest.fixture
def state_db(postgres, monkeypatch) -> str:
    for key, value in postgres.env().items():
        if key != "PGDATABASE":
            monkeypatch.setenv(key, value)
    name = postgres.create_database("claims")
    with psycopg.connect(dbname=name, autocommit=True) as con:
        prepare(con, read_only=False, where=name)
        con.execute("CREATE TABLE test_built (asset text, partition_key text, runner text)")
    return name


def _claims(db: str, runner: str = "test", lease: float = 30) -> Claims:
    return Claims(psycopg.connect(dbname=db, autocommit=True), "b00001", runner, lease)


def _start(db: str, runner: str, lease: float, seconds: float) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen([sys.executable, str(RUNNER), db, "b00001", runner, str(lease),
                             str(seconds)], env=env, stdout=subprocess.PIPE, text=True)


def _built(db: str) -> list[tuple]:
    with psycopg.connect(dbname=db) as con:
        return con.execute("SELECT asset, partition_key, runner FROM test_built").fetchall()


@pytest.mark.parametrize("runners", [2, 4])
def test_runners_share_a_backfill_and_build_each_partition_once(state_db, runners) -> None:
    queue = _claims(state_db)
    assert queue.enqueue(ITEMS) == len(ITEMS)
    assert queue.enqueue(ITEMS) == 0  # enqueueing again adds nothing
    procs = [_start(state_db, f"runner-{n}", lease=5, seconds=0.15) for n in range(runners)]
    for p in procs:
        assert p.wait(timeout=120) == 0
    progress = queue.progress()
    assert progress.finished and progress.done == len(ITEMS)
    built = _built(state_db)
    assert sorted((a, k) for a, k, _r in built) == sorted((i.asset, i.partition) for i in ITEMS)
    record = queue.built_by()
    assert {i: r for i, r in record.items()} == {Item(a, k): r for a, k, r in built}
    assert len(set(record.values())) == runners  # every runner took a share
    assert sum(progress.built_by.values()) == len(ITEMS)


def test_a_killed_runner_loses_its_claims_and_the_survivors_finish(state_db) -> None:
    queue = _claims(state_db)
    queue.enqueue(ITEMS)
    doomed = _start(state_db, "doomed", lease=1, seconds=60)  # claims one, then builds "forever"
    assert doomed.stdout.readline().startswith("claimed")
    held = [i for i, r in _holders(state_db).items() if r == "doomed"]
    assert len(held) == 1
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    survivors = [_start(state_db, f"survivor-{n}", lease=1, seconds=0.05) for n in range(2)]
    for p in survivors:
        assert p.wait(timeout=120) == 0
    assert queue.progress().finished
    record = queue.built_by()
    assert len(record) == len(ITEMS) and "doomed" not in record.values()
    assert record[held[0]].startswith("survivor-")  # taken over after the lease lapsed
    live = [(a, k) for a, k, r in _built(state_db) if r != "doomed"]
    assert sorted(live) == sorted((i.asset, i.partition) for i in ITEMS)  # once each


def test_a_lapsed_claim_taken_over_cannot_be_marked_done_by_its_old_runner(state_db) -> None:
    slow, fast = _claims(state_db, "slow", lease=0.2), _claims(state_db, "fast", lease=30)
    slow.enqueue(ITEMS[:1])
    assert slow.claim() == ITEMS[:1]
    assert fast.claim() == []  # held and within its lease
    time.sleep(0.3)
    assert fast.claim() == ITEMS[:1]  # lapsed: taken over
    assert slow.done(ITEMS[0]) is False and slow.heartbeat() == 0
    assert fast.done(ITEMS[0]) is True
    assert fast.built_by() == {ITEMS[0]: "fast"}


def test_a_clean_stop_gives_claims_back_at_once(state_db) -> None:
    first, second = _claims(state_db, "first"), _claims(state_db, "second")
    first.enqueue(ITEMS[:3])
    assert first.claim(3) == ITEMS[:3]
    assert second.claim(3) == []
    first.release()
    assert second.claim(3) == ITEMS[:3]


def _holders(db: str) -> dict[Item, str]:
    with psycopg.connect(dbname=db) as con:
        return {Item(a, k): r for a, k, r in con.execute(
            "SELECT asset, partition_key, runner FROM duck.claims WHERE status = 'claimed'")}


def test_a_claim_takes_its_share_of_what_is_pending_and_single_items_at_the_end(state_db) -> None:
    first, second = _claims(state_db, "first"), _claims(state_db, "second")
    first.enqueue(ITEMS)  # 20 pending
    assert first.claim(31, share=4) == ITEMS[:5]  # a quarter of 20
    assert second.claim(31, share=4) == ITEMS[5:9]  # a quarter of the 15 left, rounded up
    assert first.claim(2, share=4) == ITEMS[9:11]  # never more than the limit
    taken = [second.claim(31, share=4) for _ in range(7)]
    assert [len(t) for t in taken] == [3, 2, 1, 1, 1, 1, 0]  # of 9, 6, 4, 3, 2, 1 left
    assert sorted(i for t in taken for i in t) == ITEMS[11:]


def test_numbers_issued_in_a_block_follow_on_from_single_ones(state_db) -> None:
    from duck_cli.state.postgres_ids import Issuer

    with psycopg.connect(dbname=state_db, autocommit=True) as con:
        con.execute("SET search_path TO duck")
        issuer, other = Issuer(con), Issuer(con)
        assert issuer.next("mat_seq") == 1
        assert issuer.next_many("mat_seq", 3) == [2, 3, 4]
        assert other.next("mat_seq") == 5  # another process's number comes after the block
        issuer.floor("mat_seq", 20)  # e.g. the warehouse's ledger is ahead
        assert issuer.next_many("mat_seq", 2) == [21, 22]
