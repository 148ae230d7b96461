"""A statement timeline of one duck command: every DuckDB statement it sends (to the warehouse,
the lake, the catalog), with when it ended and how long it took, and a cProfile of the
command. What found the fixed cost of a lake command (bench/results.md, "Lake mode").

Usage: ``python bench/timeline.py OUT_PREFIX -- backfill daily_cat --from ... -p PROJECT``
writes OUT_PREFIX.sql (one line per statement: seconds since start, milliseconds, connection,
statement) and OUT_PREFIX.prof (``python -m pstats OUT_PREFIX.prof``). Set DUCK_NOW as for any
command. The command runs in this process, on duck's own connections, wrapped to time them.
"""

from __future__ import annotations

import cProfile
import sys
import time
from pathlib import Path


class _Timed:
    """A DuckDB connection whose statements are timed into the log (the rest passes through)."""

    def __init__(self, con, tag: str, log):
        self._con, self._tag, self._log = con, tag, log

    def __getattr__(self, name):
        return getattr(self._con, name)

    def _timed(self, method, sql, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return method(sql, *args, **kwargs)
        finally:
            self._log.write(f"{time.perf_counter() - _START:8.3f} "
                            f"{(time.perf_counter() - t0) * 1000:8.1f} ms {self._tag} "
                            f"{' '.join(str(sql).split())[:400]}\n")

    def execute(self, sql, *args, **kwargs):
        self._timed(self._con.execute, sql, *args, **kwargs)
        return self

    def executemany(self, sql, *args, **kwargs):
        self._timed(self._con.executemany, sql, *args, **kwargs)
        return self

    def cursor(self):
        return _Timed(self._con.cursor(), self._tag + "'", self._log)

    def close(self):
        self._con.close()


class _Engine:
    """The DuckDB module as duck sees it, handing out timed connections."""

    def __init__(self, real, log):
        self._real, self._log, self._count = real, log, 0

    def __getattr__(self, name):
        return getattr(self._real, name)

    def connect(self, *args, **kwargs):
        self._count += 1
        return _Timed(self._real.connect(*args, **kwargs), f"c{self._count}", self._log)


_START = time.perf_counter()


def main(argv: list[str]) -> int:
    """Run ``duck ARGS`` in this process with its statements timed; its exit code."""
    prefix, args = Path(argv[0]), argv[argv.index("--") + 1:]
    sys.modules.setdefault("pandas", None)  # as duck's own refusal (duck_cli/engine.py)
    import duck_cli.engine as engine
    from duck_cli.cli.app import main as duck

    profile, code = cProfile.Profile(), 0
    with open(prefix.with_suffix(".sql"), "w") as log:
        engine.duckdb = _Engine(engine.duckdb, log)
        sys.argv = ["duck", *args]
        profile.enable()
        try:
            duck()
        except SystemExit as done:
            code = done.code or 0
        finally:
            profile.disable()
    profile.dump_stats(prefix.with_suffix(".prof"))
    return int(code)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
