"""Ids and sequence numbers that several duck processes issue at once from one PostgreSQL state.

The local mode counts in its session (one writer at a time holds the lock file). With the
state in PostgreSQL, writers on different assets and the runners of one backfill run side by
side, so every run and backfill id and every materialization and step sequence number comes
from a row of ``counters``, bumped in one statement: its row lock makes two processes
take turns, and the number is never below the ``floor`` the caller knows of (the warehouse's
ledger may be ahead of the counters, e.g. after a migration from the local mode).
"""

from __future__ import annotations

import threading

# a block of n numbers ends at the returned value; n = 1 for one number
ISSUE = ("INSERT INTO counters VALUES (%(name)s, %(floor)s + %(n)s) ON CONFLICT (name) DO "
         "UPDATE SET value = greatest(counters.value, %(floor)s) + %(n)s RETURNING value")


def issue(con, name: str, floor: int = 0, n: int = 1) -> int:
    """The next number of counter ``name`` (above ``floor``), over an autocommit connection;
    with ``n`` > 1 the last of the next ``n`` (one round trip and one commit for them all)."""
    return int(con.execute(ISSUE, {"name": name, "floor": floor, "n": n}).fetchone()[0])


class Issuer:
    """One process's source of numbers: a connection of its own, shared by its threads."""

    def __init__(self, con):
        self.con = con
        self.floors: dict[str, int] = {}
        self.lock = threading.Lock()

    def floor(self, name: str, value: int) -> None:
        """Never issue ``name`` numbers at or below ``value``."""
        self.floors[name] = max(self.floors.get(name, 0), value)

    def next(self, name: str) -> int:
        """The next number of ``name``."""
        return self.next_many(name, 1)[0]

    def next_many(self, name: str, n: int) -> list[int]:
        """The next ``n`` numbers of ``name``, in order."""
        with self.lock:
            last = issue(self.con, name, self.floors.get(name, 0), n)
        return list(range(last - n + 1, last + 1))

    def close(self) -> None:
        """Close the connection."""
        self.con.close()
