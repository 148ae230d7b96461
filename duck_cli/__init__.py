"""duck: a command-line asset orchestrator for SQL data in DuckDB."""

__version__ = "0.1.0"  # the one place the version is written (pyproject.toml reads it)
