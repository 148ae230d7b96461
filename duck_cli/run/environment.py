"""A writing session in an environment: what it knows of production, which it defers to.

Production's snapshot is read once at the start (under the lock every environment shares in
the local state), and the session numbers its publishes after production's highest sequence
number, so that an environment's materializations compare with production's upstream ones
(`plan/defer.py`): built after them, they are not stale; production materializing an upstream
again makes them stale, as it should.
"""

from __future__ import annotations

from duck_cli.records import Snapshot
from duck_cli.sql import PROD
from duck_cli.state.backends import state_backend
from duck_cli.state.environments import production
from duck_cli.state.warehouse import LEDGER


def defer_to_production(s) -> Snapshot | None:
    """Production's snapshot for session ``s`` in an environment (None in production)."""
    if s.settings.env == PROD:
        return None
    base = state_backend(production(s.settings)).read_snapshot(s.settings.wait_seconds)
    published = s.wh.con.execute(f"SELECT coalesce(max(seq), 0) FROM {LEDGER}").fetchone()[0]
    s.seq = max(s.seq, base.max_seq, published)
    return base
