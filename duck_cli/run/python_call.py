"""Calling user Python: load a function from a project file, call it (with a timeout), and turn
its exceptions into the user's own traceback.

A project's modules are imported by path under a private name, with the project folder on
``sys.path`` only while the file is executed, and taken out of ``sys.modules`` after, so two
projects in one process (tests, a server) never see each other's ``helpers``.
"""

from __future__ import annotations

import importlib.util
import hashlib
import sys
import threading
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from duck_cli.models import PythonRef

OPTIONAL = ("pandas", "polars", "pyarrow", "numpy")  # the `python` extra


class UserCodeError(Exception):
    """User code failed: ``text`` is the message and the user's frames of the traceback."""

    def __init__(self, text: str, kind: str = "python"):
        super().__init__(text)
        self.text, self.kind = text, kind


@dataclass(frozen=True)
class TimeWindow:
    """A partition's period: [start, end) as UTC datetimes."""

    start: datetime
    end: datetime


class StepLog:
    """``context.log``: what the function logs lands in the step's record."""

    def __init__(self):
        self.lines: list[str] = []

    def _add(self, level: str, msg: Any, args: tuple) -> None:
        text = str(msg) % args if args else str(msg)
        self.lines.append(f"{level}: {text}")

    def debug(self, msg: Any, *args) -> None:
        """Log at debug level."""
        self._add("DEBUG", msg, args)

    def info(self, msg: Any, *args) -> None:
        """Log at info level."""
        self._add("INFO", msg, args)

    def warning(self, msg: Any, *args) -> None:
        """Log at warning level."""
        self._add("WARNING", msg, args)

    warn = warning

    def error(self, msg: Any, *args) -> None:
        """Log at error level."""
        self._add("ERROR", msg, args)

    def text(self) -> str | None:
        """The lines, or None when nothing was logged."""
        return "\n".join(self.lines) or None


@dataclass
class Context:
    """What a Python asset, check or observer is given as ``context`` (as Dagster's)."""

    asset: str
    run_id: str | None
    partition_key: str | None
    partition_keys: tuple[str, ...]
    partition_time_window: TimeWindow | None
    log: StepLog = field(default_factory=StepLog)
    output_dir: Path | None = None  # kind file: the folder to write into
    con: Any = None  # the DuckDB connection the upstream relations belong to

    @property
    def has_partition_key(self) -> bool:
        """Whether the asset is partitioned."""
        return self.partition_key is not None


def load(root: Path, ref: PythonRef, cache: dict, lock) -> Callable:
    """The function ``ref`` names, imported once per session; a UserCodeError if importing fails."""
    key = str(ref)
    with lock:  # sys.path and sys.modules are the process's: one import at a time
        if key not in cache:
            cache[key] = _import(root, ref)
    return cache[key]


def _import(root: Path, ref: PythonRef) -> Callable:
    path = root / ref.path
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    name = f"_duck_user_{digest}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up while it runs
    try:
        with project_imports(root, path.parent):
            spec.loader.exec_module(module)
    except BaseException as err:  # noqa: BLE001 - any failure of user code is the user's
        raise user_error(err, root, f"importing {ref.path} failed") from None
    finally:
        sys.modules.pop(name, None)
    fn = getattr(module, ref.function, None)
    if not callable(fn):
        raise UserCodeError(f"{ref.path} defines no function '{ref.function}'", "python")
    return fn


@contextmanager
def project_imports(root: Path, folder: Path):
    """The project (and the file's folder) importable while the block runs; the project's modules
    imported meanwhile are forgotten after (their functions keep them alive)."""
    before = set(sys.modules)
    added = [str(p) for p in dict.fromkeys((folder, root))]
    sys.path[:0] = added
    try:
        yield
    finally:
        for p in added:
            if p in sys.path:
                sys.path.remove(p)
        for name in set(sys.modules) - before:
            if _under(root, getattr(sys.modules[name], "__file__", None)):
                del sys.modules[name]


def _under(root: Path, file: str | None) -> bool:
    if not file:
        return False
    try:
        Path(file).resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def call(fn: Callable, kwargs: dict, root: Path, timeout: timedelta | None, on_timeout=None) -> Any:
    """Call ``fn(**kwargs)``; user exceptions become UserCodeError, a timeout too (after
    ``on_timeout``, which stops the DuckDB query the function may be running)."""
    if timeout is None:
        try:
            return fn(**kwargs)
        except Exception as err:  # KeyboardInterrupt stops the run, it is not the step's
            raise user_error(err, root, f"{getattr(fn, '__name__', 'the function')} raised") from None
    box: dict = {}

    def target():
        try:
            box["value"] = fn(**kwargs)
        except BaseException as err:  # noqa: BLE001 - reported below, on the caller's thread
            box["error"] = err

    worker = threading.Thread(target=target, name="duck-python", daemon=True)
    worker.start()
    worker.join(timeout.total_seconds())
    if worker.is_alive():
        _stop(worker, on_timeout)
        raise UserCodeError(f"{fn.__name__} did not finish within its timeout "
                            f"({_seconds(timeout)}); it was stopped", "timeout")
    if "error" in box:
        raise user_error(box["error"], root, f"{fn.__name__} raised") from None
    return box.get("value")


def _stop(worker: threading.Thread, on_timeout) -> None:
    """Stop a function past its timeout: interrupt its query, raise in its thread (Python code
    stops at the next bytecode; a blocking C call when it returns; the thread is a daemon)."""
    import ctypes  # a timed-out Python function only: an SQL run never loads it

    if on_timeout is not None:
        on_timeout()
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(worker.ident),
                                               ctypes.py_object(TimeoutError))
    worker.join(1.0)


def _seconds(t: timedelta) -> str:
    s = t.total_seconds()
    return f"{s:g}s"


def user_error(err: BaseException, root: Path, what: str) -> UserCodeError:
    """The exception with only the user's frames (files in the project) of its traceback, and
    a hint when it is an optional library that is not installed."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if _under(root, f.filename)]
    for f in frames:
        f.filename = _rel(root, f.filename)
    lines = traceback.format_list(frames)
    exc = "".join(traceback.format_exception_only(type(err), err)).strip()
    text = f"{what}: {exc}"
    missing = getattr(err, "name", None) if isinstance(err, ImportError) else None
    if missing and missing.split(".")[0] in OPTIONAL:
        text += (f"\n{missing.split('.')[0]} is not installed: install duck's python extra "
                 "(pip install 'duck-cli[python]') or the library itself")
    if lines:
        text += "\nin your code (most recent call last):\n" + "".join(lines).rstrip()
    return UserCodeError(text)


def _rel(root: Path, file: str) -> str:
    return Path(file).resolve().relative_to(root.resolve()).as_posix()
