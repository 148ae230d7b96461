"""Sharing one backfill between runners: partitions claimed in PostgreSQL with leases.

A backfill's work is a list of (asset, partition) items in ``claims`` (postgres_schema.py). Each runner claims
a few at a time (``FOR UPDATE SKIP LOCKED``: two runners never take the same item, and neither
waits for the other), keeps its claims alive with heartbeats while it builds, and marks an
item done with its own name. A runner that dies (kill -9) stops heartbeating: once its lease
runs out its items are claimable again, so the survivors (or the next command) finish the
work. Marking done checks the claim is still this runner's, so an item taken over after a
lapsed lease is recorded once, by the runner that finished it. The claims table is the
backfill record of which runner built what.

Items carry a stage (how deep in the backfill's plan their step is): a runner claims only
items of the lowest stage not finished, so a partition is built after those it reads. An item
whose build failed is ``failed``: finished, not claimed again by this backfill. `open_shared`
finds the backfill the runners of one request share, or records it.
This is the state's half of several runners on one backfill (`run/shared_backfill.py` is the
other); building claimed partitions in parallel needs a warehouse several processes can write
(the DuckLake warehouse).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from duck_cli.errors import StateError
from duck_cli.records import BackfillRecord
from duck_cli.state.postgres_ids import issue

@dataclass(frozen=True, order=True)
class Item:
    """One unit of a shared backfill: an asset partition."""

    asset: str
    partition: str
    stage: int = field(default=0, compare=False)
    taken_from: str | None = field(default=None, compare=False)  # a lapsed claim's runner


@dataclass(frozen=True)
class Progress:
    """Where a shared backfill stands: items per status, and what each runner built."""

    pending: int
    claimed: int
    done: int
    built_by: dict[str, int]
    failed: int = 0

    @property
    def finished(self) -> bool:
        """Whether every item is done (or failed)."""
        return self.pending == 0 and self.claimed == 0


class Claims:
    """One runner's view of a shared backfill's claims, over an autocommit connection."""

    def __init__(self, con, backfill_id: str, runner: str, lease_seconds: float = 30.0,
                 schema: str = "duck"):
        if lease_seconds <= 0:
            raise StateError("a claim's lease must be longer than 0 seconds")
        self.con = con
        con.execute(f'SET search_path TO "{schema}", public')  # the environment's claims
        self.backfill_id = backfill_id
        self.runner = runner
        self.lease = f"{float(lease_seconds)} seconds"

    def enqueue(self, items: list[Item]) -> int:
        """Add the backfill's items (those already there stay as they are); how many were new."""
        if not items:
            return 0
        cur = self.con.execute(
            "INSERT INTO claims (backfill_id, asset, partition_key, stage) SELECT %s, a, p, "
            "g FROM unnest(%s::text[], %s::text[], %s::int[]) AS t(a, p, g) ON CONFLICT DO "
            "NOTHING", [self.backfill_id, [i.asset for i in items],
                        [i.partition for i in items], [i.stage for i in items]])
        return cur.rowcount

    def claim(self, limit: int = 1, share: int = 1) -> list[Item]:
        """Take up to ``limit`` items nobody holds, of the lowest unfinished stage: pending
        ones, or claims whose lease ran out (``taken_from`` names their runner). With
        ``share`` > 1, at most that fraction of the stage's pending items (at least one):
        big claims while much is left, single items at the end, so runners finish together."""
        # MATERIALIZED: a subquery joined in the UPDATE may be scanned again per row, its
        # LIMIT applying each time (one runner then takes far more than its share)
        rows = self.con.execute(
            "WITH low AS MATERIALIZED (SELECT min(stage) AS stage FROM claims WHERE "
            "backfill_id = %(bf)s AND status IN ('pending', 'claimed')), "
            "free AS MATERIALIZED (SELECT asset, partition_key, runner AS before FROM "
            "claims WHERE backfill_id = %(bf)s AND (status = 'pending' OR (status = "
            "'claimed' AND lease_until < clock_timestamp())) AND stage <= (SELECT stage "
            "FROM low) ORDER BY stage, asset, partition_key LIMIT least(%(limit)s, "
            "greatest(1, ceil((SELECT count(*) FROM claims WHERE backfill_id = %(bf)s AND "
            "status = 'pending' AND stage <= (SELECT stage FROM low)) / %(share)s::numeric"
            "))) FOR UPDATE SKIP LOCKED) "
            "UPDATE claims c SET status = 'claimed', runner = %(me)s, claims = c.claims + "
            "1, lease_until = clock_timestamp() + %(lease)s::interval FROM free WHERE "
            "c.backfill_id = %(bf)s AND c.asset = free.asset AND c.partition_key = "
            "free.partition_key RETURNING c.asset, c.partition_key, c.stage, free.before",
            {"me": self.runner, "lease": self.lease, "bf": self.backfill_id, "limit": limit,
             "share": max(1, share)}
        ).fetchall()
        return sorted(Item(a, p, g, before) for a, p, g, before in rows)

    def heartbeat(self) -> int:
        """Extend this runner's live claims; how many it still holds."""
        return self.con.execute(
            "UPDATE claims SET lease_until = clock_timestamp() + %s::interval WHERE "
            "backfill_id = %s AND runner = %s AND status = 'claimed'",
            [self.lease, self.backfill_id, self.runner]).rowcount

    def done(self, item: Item, built_by: str | None = None, status: str = "done") -> bool:
        """Record ``item`` built (by this runner, or ``built_by``: a runner that died after
        its publish); False when the claim was no longer this runner's (its lease lapsed and
        another runner took the item over). ``status`` 'failed': its build failed."""
        return self.con.execute(
            "UPDATE claims SET status = %s, built_by = %s, done_at = clock_timestamp(), "
            "lease_until = NULL WHERE backfill_id = %s AND asset = %s AND partition_key = %s AND "
            "runner = %s AND status = 'claimed'",
            [status, built_by or self.runner, self.backfill_id, item.asset, item.partition,
             self.runner]).rowcount == 1

    def release(self) -> None:
        """Give back this runner's unfinished claims at once (a clean stop)."""
        self.con.execute("UPDATE claims SET status = 'pending', runner = NULL, lease_until "
                         "= NULL WHERE backfill_id = %s AND runner = %s AND status = 'claimed'",
                         [self.backfill_id, self.runner])

    def progress(self) -> Progress:
        """Items per status and per runner that built them."""
        counts = dict(self.con.execute(
            "SELECT status, count(*) FROM claims WHERE backfill_id = %s GROUP BY status",
            [self.backfill_id]).fetchall())
        built = dict(self.con.execute(
            "SELECT built_by, count(*) FROM claims WHERE backfill_id = %s AND status = "
            "'done' GROUP BY built_by", [self.backfill_id]).fetchall())
        return Progress(counts.get("pending", 0), counts.get("claimed", 0),
                        counts.get("done", 0), built, counts.get("failed", 0))

    def built_by(self) -> dict[Item, str]:
        """Which runner built each finished item (the backfill record)."""
        return {Item(a, p): r for a, p, r in self.con.execute(
            "SELECT asset, partition_key, built_by FROM claims WHERE backfill_id = %s AND "
            "status = 'done'", [self.backfill_id]).fetchall()}


def built_by(con, backfill_ids: list[str]) -> dict[str, dict[str, dict[str, list[str]]]]:
    """Per backfill, per runner, per asset: the partitions it built (shared backfills only)."""
    out: dict[str, dict[str, dict[str, list[str]]]] = {}
    for bf, runner, asset, key in con.execute(
            "SELECT backfill_id, built_by, asset, partition_key FROM claims WHERE "
            "backfill_id = ANY(%s) AND status = 'done' ORDER BY 1, 2, 3, 4",
            [backfill_ids]).fetchall():
        out.setdefault(bf, {}).setdefault(runner, {}).setdefault(asset, []).append(key)
    return out


def request_key(request: dict) -> str:
    """The identity of a backfill request (selection, partitions, options): runners started
    with the same one share its backfill.

    >>> request_key({"a": 1}) == request_key({"a": 1})
    True
    """
    text = json.dumps(request, sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def open_shared(con, record: BackfillRecord, key: str, items: list[Item], *, floor: int,
                join_seconds: float, schema: str = "duck") -> tuple[str, bool]:
    """The backfill the runners of request ``key`` share: an unfinished one (or one finished
    less than ``join_seconds`` ago, so a runner that starts late finds its siblings' work
    done), else ``record`` under a new id; its items enqueued. (backfill id, joined)."""
    with con.transaction():
        con.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", ["duck:bf:" + key])
        row = con.execute(
            "SELECT b.backfill_id FROM backfills b WHERE b.options::jsonb ->> 'shared' = "
            "%s AND (EXISTS (SELECT 1 FROM claims c WHERE c.backfill_id = b.backfill_id "
            "AND c.status IN ('pending', 'claimed')) OR (SELECT max(done_at) FROM claims c "
            "WHERE c.backfill_id = b.backfill_id) > clock_timestamp() - %s * interval '1 "
            "second') ORDER BY b.created_at DESC, b.backfill_id DESC LIMIT 1",
            [key, join_seconds]).fetchone()
        joined = row is not None
        backfill_id = row[0] if joined else f"b{issue(con, 'b', floor):05d}"
        if not joined:
            con.execute("INSERT INTO backfills (backfill_id, created_at, selection, "
                        "requested, options, status) VALUES (%s, %s, %s, %s, %s, %s)",
                        [backfill_id, *record[1:]])
        Claims(con, backfill_id, "", schema=schema).enqueue(items)
    return backfill_id, joined
