"""Fault points for crash tests: DUCK_FAULT=point[:N] makes duck die there like kill -9."""

from __future__ import annotations

import os
from dataclasses import dataclass

FAULT_POINTS = ("stage", "checks", "publish", "ledger", "commit", "catalog")


@dataclass
class Faults:
    """Where a crash test wants this process to die (the CLI parses DUCK_FAULT into one).

    ``point`` crashes the ``nth`` time it is reached; one object counts for every session of
    a command, so ``catalog:2`` means the second catalog flush of the whole command.
    """

    point: str | None = None
    nth: int = 1
    reached: int = 0

    @classmethod
    def parse(cls, spec: str | None) -> "Faults":
        """Faults from ``point`` or ``point:N`` (none when empty).

        >>> Faults.parse("commit:3").nth, Faults.parse(None).point
        (3, None)
        """
        if not spec:
            return cls()
        point, _, nth = spec.partition(":")
        return cls(point, int(nth) if nth.isdigit() else 1)

    def hit(self, point: str) -> None:
        """Crash here (os._exit, like kill -9) when this is the named point's N-th visit."""
        if point != self.point:
            return
        self.reached += 1
        if self.reached >= self.nth:
            os._exit(137)
