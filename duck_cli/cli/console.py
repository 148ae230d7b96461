"""The console script `duck`: the cycle collector's bar raised before anything of duck loads.

Importing duck creates thousands of objects (classes, functions, dataclass methods) that live
as long as the process; the cycle collections their creation triggers find nothing and cost
about 10 ms of every command. `entry.run` keeps the bar raised for the command itself, and
the objects are frozen for the exit.
"""

from __future__ import annotations


def main() -> None:
    """Console-script entry point: raise the cycle collector's bar, then import and run duck."""
    import gc
    import os

    from duck_cli.cli import codecache
    from duck_cli.cli.entry import GC_THRESHOLD

    gc.set_threshold(*GC_THRESHOLD)
    # the dataclasses' methods compiled once, not by every command (codecache.py)
    codecache.install(os.path.join(os.path.dirname(os.path.dirname(__file__)), "__pycache__"))
    from duck_cli.cli.app import main as run_app

    try:
        run_app()
    finally:
        codecache.save()
        # The interpreter's shutdown collects cycles among every object still alive (all of
        # duck's modules): ~20 ms that find nothing. Frozen, they are left to the exit. The
        # shutdown itself (atexit, flushing and closing files) runs as before.
        gc.freeze()
