"""The DuckDB engine module: ``from .engine import duckdb`` wherever duck needs DuckDB.

DuckDB's Python package (1.4 and later) has two layers: the compiled engine, ``_duckdb``
(connections, statements, results, errors), and a pure-Python layer on top of it (the relational
and expression builders, and ``importlib.metadata`` for its version string) that duck never
uses. Importing the engine alone costs about 12 ms instead of 50 ms, on every command that opens
a database. The public module re-exports the same engine objects (``duckdb.Error is
_duckdb.Error``), so errors and connections are interchangeable with code that imports
``duckdb``; it is the fallback for an older DuckDB, or a layout that changed.
"""

from __future__ import annotations

try:
    import _duckdb as duckdb

    if not all(hasattr(duckdb, name) for name in ("connect", "Error", "IOException")):
        raise ImportError("an unexpected _duckdb module")
except ImportError:
    import duckdb  # type: ignore[no-redef]

__all__ = ["duckdb"]


class _BindingImports:
    """Refuses DuckDB's own import of pandas or numpy when duck's code binds a parameter.

    DuckDB 1.5's Python client imports pandas (and with it numpy and pyarrow) the first time a
    connection binds any parameter value, to test whether the value is a pandas NA: about
    0.4 s of CPU and up to 1 s of wall time on every command when pandas is installed (DuckDB
    2.0 no longer does). A value duck binds is never a pandas object unless pandas is imported
    already (then this finder is not asked), so refusing that one import changes no result.
    Anything else that imports them (a user's `import pandas`, a library's import_module) is
    let through: only an import started by a C call from a frame of duck's own code is refused.
    """

    NAMES = frozenset({"pandas", "numpy"})

    def find_spec(self, name, path=None, target=None):
        """None (let the other finders answer) unless DuckDB imports pandas/numpy for duck."""
        if name not in self.NAMES or not _started_by_duckdb_for_duck():
            return None
        raise ModuleNotFoundError(f"{name} is not imported by duck's own queries", name=name)


def _started_by_duckdb_for_duck() -> bool:
    """Whether the import in progress comes from a C call (DuckDB) made by duck_cli's code,
    not from an ``import`` statement or importlib call."""
    import dis
    import sys

    frame = sys._getframe(2)
    while frame is not None and (frame.f_code.co_filename.startswith("<frozen importlib")
                                 or frame.f_globals.get("__name__") == "importlib"):
        frame = frame.f_back
    if frame is None or not str(frame.f_globals.get("__name__", "")).startswith("duck_cli."):
        return False
    return frame.f_code.co_code[frame.f_lasti] != dis.opmap["IMPORT_NAME"]


def skip_binding_imports() -> None:
    """Install `_BindingImports` for this process (once): duck's commands call this first."""
    import sys

    if sys.modules.get("pandas") is None and not any(
            isinstance(f, _BindingImports) for f in sys.meta_path):
        sys.meta_path.insert(0, _BindingImports())
