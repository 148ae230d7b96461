"""A runner process for the claim tests: claims partitions of one shared backfill, "builds"
each (logs the attempt in test_built, then sleeps), and marks it done, heartbeating from a
thread of its own while it builds. Usage: claims_runner.py DBNAME BACKFILL RUNNER LEASE SECONDS
(the server's address and password come from libpq's variables)."""

from __future__ import annotations

import sys
import threading
import time

import psycopg

from duck_cli.state.postgres_claims import Claims


def _heartbeat(dbname: str, backfill: str, runner: str, lease: float, stop: threading.Event):
    con = psycopg.connect(dbname=dbname, autocommit=True)
    claims = Claims(con, backfill, runner, lease)
    while not stop.wait(lease / 4):
        claims.heartbeat()
    con.close()


def main(dbname: str, backfill: str, runner: str, lease: float, seconds: float) -> None:
    con = psycopg.connect(dbname=dbname, autocommit=True)
    claims = Claims(con, backfill, runner, lease)
    stop = threading.Event()
    threading.Thread(target=_heartbeat, args=(dbname, backfill, runner, lease, stop),
                     daemon=True).start()
    while True:
        items = claims.claim(1)
        if not items:
            if claims.progress().finished:
                break
            time.sleep(0.05)  # others hold the rest: wait for them to finish or lapse
            continue
        for item in items:
            con.execute("INSERT INTO test_built VALUES (%s, %s, %s)",
                        [item.asset, item.partition, runner])
            print(f"claimed {item.asset} {item.partition}", flush=True)
            time.sleep(seconds)
            claims.done(item)
    stop.set()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5]))
