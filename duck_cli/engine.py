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
