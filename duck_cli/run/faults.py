"""Fault points for crash tests: DUCK_FAULT makes duck die (like kill -9) or pause there.

DUCK_FAULT is a comma-separated list of ``point``, ``point:N`` (crash the N-th time the point
is reached) or ``point:N:pause=SECONDS`` (sleep there instead, to hold a window open, e.g. a
worker that committed but is not recorded yet while another worker's later commit is), or
``point:N:raise`` (raise an unexpected RuntimeError there: how duck reports its own bugs).
`duck migrate` has one point of its own, ``migrate``, reached after each part it copies;
`duck promote` one, ``promote``, inside its transaction just before the commit; a writing
command one, ``observed``, when new source data is in the ledger and not yet in the state.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

RAISE = -1.0  # the pause that means: raise an unexpected error instead
FAULT_POINTS = ("stage", "checks", "publish", "ledger", "commit", "published", "catalog")


@dataclass
class Faults:
    """Where a crash test wants this process to die or pause (the CLI parses DUCK_FAULT into one).

    Each entry is ``(point, nth, pause)``: ``point`` crashes the ``nth`` time it is reached, or,
    with a ``pause``, sleeps that many seconds on the ``nth`` visit. One object counts for every
    session of a command, so ``catalog:2`` means the second catalog flush of the whole command.
    """

    entries: tuple[tuple[str, int, float | None], ...] = ()  # pause -1: raise instead
    reached: dict[int, int] = field(default_factory=dict, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    @classmethod
    def parse(cls, spec: str | None) -> "Faults":
        """Faults from a comma-separated list of ``point``, ``point:N`` or
        ``point:N:pause=SECONDS`` (none when empty).

        >>> Faults.parse("commit:3").entries, Faults.parse(None).entries
        ((('commit', 3, None),), ())
        >>> Faults.parse("published:1:pause=2, commit:2").entries
        (('published', 1, 2.0), ('commit', 2, None))
        >>> Faults.parse("catalog:1:raise").entries
        (('catalog', 1, -1.0),)
        """
        if not spec:
            return cls()
        entries = []
        for entry in spec.split(","):
            parts = [p.strip() for p in entry.strip().split(":")]
            if not parts[0]:
                continue
            rest = parts[1:]
            nth = int(rest[0]) if rest and rest[0].isdigit() else 1
            pause = next((float(r[6:]) for r in rest if r.startswith("pause=")), None)
            pause = RAISE if "raise" in rest else pause
            entries.append((parts[0], nth, pause))
        return cls(tuple(entries))

    @property
    def point(self) -> str | None:
        """The first named point (None when no fault is set)."""
        return self.entries[0][0] if self.entries else None

    def hit(self, point: str) -> None:
        """Crash here (os._exit, like kill -9) or pause when an entry names this point and this
        is its N-th visit."""
        mine = [i for i, (name, _nth, _pause) in enumerate(self.entries) if name == point]
        if not mine:
            return
        with self._lock:  # count every entry first: a pause must not delay another's count
            counts = {i: self.reached.get(i, 0) + 1 for i in mine}
            self.reached.update(counts)
        for i in mine:
            _name, nth, pause = self.entries[i]
            if pause == RAISE and counts[i] == nth:
                raise RuntimeError(f"fault injected at {point} (DUCK_FAULT)")
            if pause is not None and pause >= 0 and counts[i] == nth:
                time.sleep(pause)
            elif pause is None and counts[i] >= nth:
                os._exit(137)
