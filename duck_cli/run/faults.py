"""Fault points for crash tests: DUCK_FAULT=point[:N] makes duck die there like kill -9."""

from __future__ import annotations

import os

FAULT_POINTS = ("stage", "checks", "publish", "ledger", "commit", "catalog")


def fault(point: str) -> None:
    """Crash here (os._exit, like kill -9) when DUCK_FAULT names this point; for crash tests.

    DUCK_FAULT is ``point`` or ``point:N`` (crash at the N-th time the point is reached).
    """
    spec = os.environ.get("DUCK_FAULT")
    if not spec or spec.split(":")[0] != point:
        return
    _FAULT_COUNT[point] = _FAULT_COUNT.get(point, 0) + 1
    nth = int(spec.split(":")[1]) if ":" in spec else 1
    if _FAULT_COUNT[point] >= nth:
        os._exit(137)


_FAULT_COUNT: dict[str, int] = {}
