"""What a user function returned, as the view RESULT on a connection: a DuckDB relation, an
Arrow table or reader, or a pandas or polars frame (shared by Python assets, their worker
processes and Python checks)."""

from __future__ import annotations

from duck_cli.run.python_call import UserCodeError

RESULT = "__duck_py_result"
FRAMES = ("pyarrow", "pandas", "polars")


def register(con, value, function: str) -> None:
    """Expose a returned relation, Arrow table or reader, or DataFrame as the view RESULT."""
    import duckdb

    if isinstance(value, duckdb.DuckDBPyRelation):
        try:  # a temporary view: create_view would write the warehouse's catalog, where two
            con.register(RESULT, value)  # steps on worker threads conflict over the name
            return
        except duckdb.Error:  # a relation of another connection (duckdb.sql): copy it over
            value = value.fetch_arrow_table() if hasattr(value, "fetch_arrow_table") else value.arrow()
    top = type(value).__module__.split(".")[0]
    if top not in FRAMES:
        raise UserCodeError(
            f"{function} returned {type(value).__name__}, not data. "
            "Return a DuckDB relation (e.g. daily_revenue.filter(...) or context.con.sql(...)), "
            "a pyarrow Table or RecordBatchReader, or a pandas or polars DataFrame", "python")
    try:
        con.register(RESULT, value)
    except (duckdb.Error, ImportError, TypeError, ValueError) as err:
        raise UserCodeError(f"{function} returned a {top} "
                            f"{type(value).__name__} duck cannot read: {err}. A polars frame "
                            "needs pyarrow installed (pip install 'duck-cli[python]')", "python") from None


def unregister(con) -> None:
    """Forget the view RESULT (registered or created)."""
    from duck_cli.engine import duckdb

    for drop in (lambda: con.unregister(RESULT), lambda: con.execute(f"DROP VIEW IF EXISTS {RESULT}")):
        try:
            drop()
        except duckdb.Error:
            pass
