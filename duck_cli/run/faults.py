"""Fault points for crash tests: DUCK_FAULT makes duck die (like kill -9) or pause there.

DUCK_FAULT is a comma-separated list of ``point``, ``point:N`` (crash the N-th time the point
is reached) or ``point:N:pause=SECONDS`` (sleep there instead, to hold a window open, e.g. a
worker that committed but is not recorded yet while another worker's later commit is).
"""

from __future__ import annotations

import os
import time

FAULT_POINTS = ("stage", "checks", "publish", "ledger", "commit", "published", "catalog")


def fault(point: str) -> None:
    """Crash (os._exit, like kill -9) or pause here when DUCK_FAULT names this point."""
    spec = os.environ.get("DUCK_FAULT")
    if not spec:
        return
    reached = [entry.strip() for entry in spec.split(",") if entry.strip().split(":")[0] == point]
    for entry in reached:  # count every entry first: a pause must not delay another's count
        _FAULT_COUNT[entry] = _FAULT_COUNT.get(entry, 0) + 1
    for entry in reached:
        rest = entry.split(":")[1:]
        nth = int(rest[0]) if rest and rest[0].isdigit() else 1
        pause = next((float(r[6:]) for r in rest if r.startswith("pause=")), None)
        if pause is not None and _FAULT_COUNT[entry] == nth:
            time.sleep(pause)
        elif pause is None and _FAULT_COUNT[entry] >= nth:
            os._exit(137)

_FAULT_COUNT: dict[str, int] = {}  # noqa: RUF012 - per process by design: counts reach points
