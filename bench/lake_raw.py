"""Raw DuckDB on a lake: ``python bench/lake_raw.py SPEC.json`` loads the extension files,
attaches the DuckLake and runs the statements, as a person would in a script (the baseline of
bench/lake.py). SPEC: ``{"attach", "data", "extensions": [FILE], "statements": [[SQL, PARAMS]]}``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.raw import decode  # noqa: E402


def main(argv: list[str]) -> int:
    # DuckDB 1.5 imports pandas to bind the first parameter (up to 1 s); duck refuses that
    # import (duck_cli/engine.py), so the baseline does too: the mode's limit, not the quirk
    sys.modules.setdefault("pandas", None)  # type: ignore[arg-type]
    import duckdb

    spec = json.loads(Path(argv[0]).read_text())
    con = duckdb.connect()
    try:
        for path in spec["extensions"]:
            con.execute(f"LOAD '{path}'")
        con.execute(f"ATTACH '{spec['attach']}' AS lake (DATA_PATH '{spec['data']}')")
        con.execute("USE lake")
        con.execute("SET TimeZone = 'UTC'")
        for sql, params in spec["statements"]:
            if params:
                con.execute(sql, decode(params))
            else:
                con.execute(sql)
    finally:
        con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
