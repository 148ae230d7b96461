"""Raw DuckDB: run a list of statements on one warehouse file, in one Python process.

The bench's baseline. ``python bench/raw.py STATEMENTS.json`` is the whole cost of doing the work
by hand in a script (interpreter, ``import duckdb``, opening the file, the SQL), timed like the
`duck` command; `execute` runs the same statements inside the bench's own process (SQL only).
The JSON file is ``{"db": PATH, "statements": [[SQL, PARAMS], ...]}``; dates in PARAMS are
``{"date": "YYYY-MM-DD"}`` and timestamps ``{"datetime": ISO}``.
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime


def execute(db, statements) -> None:
    """Run ``[(sql, params or None), ...]`` in order on one connection to ``db``."""
    import duckdb

    con = duckdb.connect(str(db))
    try:
        con.execute("SET TimeZone = 'UTC'")
        for sql, params in statements:
            if params:
                con.execute(sql, params)
            else:
                con.execute(sql)
    finally:
        con.close()


def encode(value):
    """Statement parameters as JSON values."""
    if isinstance(value, datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    return value


def decode(value):
    """The inverse of `encode`."""
    if isinstance(value, dict):
        if set(value) == {"date"}:
            return date.fromisoformat(value["date"])
        if set(value) == {"datetime"}:
            return datetime.fromisoformat(value["datetime"])
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def write(path, db, statements) -> None:
    """Save statements for `main`."""
    with open(path, "w") as f:
        json.dump({"db": str(db), "statements": [[s, encode(p)] for s, p in statements]}, f)


def main(argv: list[str]) -> int:
    with open(argv[0]) as f:
        spec = json.load(f)
    execute(spec["db"], [(s, decode(p)) for s, p in spec["statements"]])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
