"""`duck init`: a small working project that `duck materialize` runs at once."""

from __future__ import annotations

from pathlib import Path

from duck_cli.errors import UsageError

SCHEMA_LINE = "# yaml-language-server: $schema=manifest.schema.json"

FILES = {
    "duck.yaml": "# duck settings (all optional)\nwarehouse: .duck/warehouse.duckdb\n"
                 "catalog: .duck/catalog.duckdb\n",
    "data/orders.csv": "order_id,ordered_at,customer,amount\n"
                       "1,2026-01-05 09:12:00,alice,42.50\n2,2026-01-05 11:40:00,bob,17.00\n"
                       "3,2026-01-06 08:05:00,alice,8.25\n4,2026-01-06 15:30:00,carol,120.00\n",
    "assets.yaml": SCHEMA_LINE + """
# A source, two assets built from it, a check and a freshness policy.
assets:
  - name: orders
    kind: source
    owner: team:sales
    description: Orders as exported by the shop.
    source: {path: data/orders.csv, format: csv}

  - name: stg_orders
    kind: table
    owner: team:analytics
    description: Orders with typed columns.
    deps: [orders]
    materialize:
      strategy: table
      sql: |
        SELECT CAST(order_id AS BIGINT) AS order_id,
               CAST(ordered_at AS TIMESTAMP) AS ordered_at,
               customer, CAST(amount AS DECIMAL(10, 2)) AS amount
        FROM orders
    checks:
      - {name: one_row_per_order, unique: [order_id]}

  - name: revenue_by_customer
    kind: table
    owner: team:analytics
    description: Revenue per customer.
    deps: [stg_orders]
    materialize:
      strategy: table
      sql: SELECT customer, sum(amount) AS revenue FROM stg_orders GROUP BY customer
    checks:
      - {name: has_rows, row_count: {min: 1}}
    freshness: {max_lag: 26h}
""",
}


def init(directory: Path) -> list[Path]:
    """Write the scaffold into ``directory``; refuse to overwrite any file."""
    names = [*FILES, "manifest.schema.json"]
    clashes = [directory / name for name in names if (directory / name).exists()]
    if clashes:
        raise UsageError(f"{clashes[0]} already exists", hint="Run `duck init` in an empty "
                         "folder, or pass a new folder name: duck init my_project")
    from importlib.resources import files

    written = []
    schema = (files("duck_cli.schemas") / "manifest.schema.json").read_text()
    for name, text in {**FILES, "manifest.schema.json": schema}.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written + _gitignore(directory)


def _gitignore(directory: Path) -> list[Path]:
    """Keep the warehouse and catalog (.duck/) out of git: create or extend .gitignore."""
    path = directory / ".gitignore"
    text = path.read_text() if path.exists() else ""
    if any(line.strip() in (".duck", ".duck/", "/.duck/") for line in text.splitlines()):
        return []
    sep = "" if not text or text.endswith("\n") else "\n"
    path.write_text(f"{text}{sep}# duck's warehouse and state catalog (duck init)\n.duck/\n")
    return [path]
