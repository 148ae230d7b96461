"""A small project for the modelling tests: daily order files and one asset over them.

``write_orders`` writes one CSV per day; ``project_with`` writes duck.yaml and a manifest whose
``orders`` asset is given as YAML text, so each test states the part of the manifest it tests.
"""

from __future__ import annotations

from pathlib import Path

SOURCE = """\
  - name: raw_orders
    source: {path: "data/orders/{date}.csv", format: csv}
    partitions: {daily: {start: "2026-03-01", end: "2026-03-10"}}
"""


def write_orders(root: Path, day: str, rows: list[tuple]) -> None:
    """The day's order file: (order_id, customer, amount) rows."""
    folder = root / "data" / "orders"
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["order_id,order_date,customer,amount"]
    lines += [f"{oid},{day},{customer},{amount}" for oid, customer, amount in rows]
    (folder / f"{day}.csv").write_text("\n".join(lines) + "\n")


def project_with(root: Path, assets: str, settings: str = "") -> Path:
    """A project in ``root``: the raw_orders source and the given asset entries."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "duck.yaml").write_text(settings or "{}\n")
    (root / "orders.yaml").write_text("assets:\n" + SOURCE + assets)
    return root
