"""Opening a DuckDB file (the catalog, the warehouse): retried with backoff while another
process holds its lock, and an error that names the file and what to do when it cannot be."""

from __future__ import annotations

import time
from pathlib import Path

from duck_cli.errors import LockedError, StateError


def is_lock_error(err: Exception) -> bool:
    """Whether a DuckDB error says another process holds the file's lock."""
    text = str(err)
    return "lock" in text.lower() and ("Conflicting" in text or "Could not set lock" in text)


def connect(path: Path, *, read_only: bool, wait: float):
    """Open a DuckDB file, retrying with backoff while another process holds it."""
    from duck_cli.engine import duckdb

    con = retry_locked(path, wait, lambda: duckdb.connect(str(path), read_only=read_only))
    # UTC; and no DuckDB progress bar: it draws on stdout after 2 s, into --json documents
    con.execute("SET TimeZone = 'UTC'; SET enable_progress_bar = false")
    return con


def retry_locked(path: Path, wait: float, open_it):
    """``open_it()``, retried with backoff while another process holds the file's lock."""
    from duck_cli.engine import duckdb

    deadline, delay = time.monotonic() + wait, 0.01
    while True:
        try:
            return open_it()
        except duckdb.IOException as err:
            if not is_lock_error(err) or time.monotonic() >= deadline:
                raise open_error(path, err) from err
        except duckdb.Error as err:
            raise open_error(path, err) from err
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def open_error(path: Path, err: Exception) -> Exception:
    """The error to show for a file DuckDB could not open: locked, or unreadable."""
    if is_lock_error(err):
        return LockedError(f"{path} is in use by another process", hint="Wait for it to finish, "
                           "or raise --wait.")
    return StateError(f"cannot open {path}: {str(err).splitlines()[0]}", hint=(
        "The file is not a readable DuckDB database. Move it aside (keep it for inspection) and "
        "run the command again to start a new one, or restore it from a backup."))
