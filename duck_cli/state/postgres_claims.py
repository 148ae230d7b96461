"""Sharing one backfill between runners: partitions claimed in PostgreSQL with leases.

A backfill's work is a list of (asset, partition) items in ``claims`` (postgres_schema.py). Each runner claims
a few at a time (``FOR UPDATE SKIP LOCKED``: two runners never take the same item, and neither
waits for the other), keeps its claims alive with heartbeats while it builds, and marks an
item done with its own name. A runner that dies (kill -9) stops heartbeating: once its lease
runs out its items are claimable again, so the survivors (or the next command) finish the
work. Marking done checks the claim is still this runner's, so an item taken over after a
lapsed lease is recorded once, by the runner that finished it. The claims table is the
backfill record of which runner built what.

This is the state's half of several runners on one backfill; building the claimed partitions
in parallel needs a warehouse several processes can write (the DuckLake warehouse).
"""

from __future__ import annotations

from dataclasses import dataclass

from duck_cli.errors import StateError

@dataclass(frozen=True, order=True)
class Item:
    """One unit of a shared backfill: an asset partition."""

    asset: str
    partition: str


@dataclass(frozen=True)
class Progress:
    """Where a shared backfill stands: items per status, and what each runner built."""

    pending: int
    claimed: int
    done: int
    built_by: dict[str, int]

    @property
    def finished(self) -> bool:
        """Whether every item is done."""
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
            "INSERT INTO claims (backfill_id, asset, partition_key) SELECT %s, a, p FROM "
            "unnest(%s::text[], %s::text[]) AS t(a, p) ON CONFLICT DO NOTHING",
            [self.backfill_id, [i.asset for i in items], [i.partition for i in items]])
        return cur.rowcount

    def claim(self, limit: int = 1) -> list[Item]:
        """Take up to ``limit`` items nobody holds: pending ones, or claims whose lease ran out."""
        rows = self.con.execute(
            "UPDATE claims c SET status = 'claimed', runner = %s, claims = c.claims + 1, "
            "lease_until = clock_timestamp() + %s::interval FROM (SELECT asset, partition_key "
            "FROM claims WHERE backfill_id = %s AND (status = 'pending' OR (status = "
            "'claimed' AND lease_until < clock_timestamp())) ORDER BY asset, partition_key "
            "LIMIT %s FOR UPDATE SKIP LOCKED) free WHERE c.backfill_id = %s AND c.asset = "
            "free.asset AND c.partition_key = free.partition_key RETURNING c.asset, "
            "c.partition_key", [self.runner, self.lease, self.backfill_id, limit,
                                self.backfill_id]).fetchall()
        return sorted(Item(a, p) for a, p in rows)

    def heartbeat(self) -> int:
        """Extend this runner's live claims; how many it still holds."""
        return self.con.execute(
            "UPDATE claims SET lease_until = clock_timestamp() + %s::interval WHERE "
            "backfill_id = %s AND runner = %s AND status = 'claimed'",
            [self.lease, self.backfill_id, self.runner]).rowcount

    def done(self, item: Item) -> bool:
        """Record ``item`` built by this runner; False when the claim was no longer its own
        (its lease lapsed and another runner took the item over)."""
        return self.con.execute(
            "UPDATE claims SET status = 'done', built_by = %s, done_at = clock_timestamp(), "
            "lease_until = NULL WHERE backfill_id = %s AND asset = %s AND partition_key = %s AND "
            "runner = %s AND status = 'claimed'",
            [self.runner, self.backfill_id, item.asset, item.partition, self.runner]).rowcount == 1

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
                        counts.get("done", 0), built)

    def built_by(self) -> dict[Item, str]:
        """Which runner built each finished item (the backfill record)."""
        return {Item(a, p): r for a, p, r in self.con.execute(
            "SELECT asset, partition_key, built_by FROM claims WHERE backfill_id = %s AND "
            "status = 'done'", [self.backfill_id]).fetchall()}
