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

ISSUE = ("INSERT INTO counters VALUES (%s, %s) ON CONFLICT (name) DO UPDATE SET value = "
         "greatest(counters.value + 1, excluded.value) RETURNING value")


def issue(con, name: str, floor: int = 0) -> int:
    """The next number of counter ``name`` (above ``floor``), over an autocommit connection."""
    return int(con.execute(ISSUE, [name, floor + 1]).fetchone()[0])


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
        with self.lock:
            return issue(self.con, name, self.floors.get(name, 0))

    def close(self) -> None:
        """Close the connection."""
        self.con.close()
