"""Generate duck projects of any size for the benchmark (and the smoke test).

Four workloads, each a project folder with manifests, a ``duck.yaml`` and (where it reads one) a
source table already created in the project's warehouse file, plus a `Workload` describing the
same SQL so that raw DuckDB can run exactly the statements duck runs:

- ``dag``: N assets in L layers over an ``events`` table (1,000,000 rows by default); each asset
  aggregates or joins 1-3 assets of the layer before. Integer arithmetic only: deterministic.
- ``backfill``: one daily-partitioned incremental asset over 365 days of ``events``.
- ``wide``: many one-row tables in chains with fan-in (every 10th asset also reads the chain
  before it), over a ten-row ``seed`` table.
- ``many_partitions``: one hourly asset with N partitions and no upstream (its SQL generates a row
  per hour), so the catalog can hold N materializations after one batched ``duck materialize``.

Usage: ``python bench/generate.py dag bench/work/dag --assets 200 --layers 10 --rows 1000000``
"""

from __future__ import annotations

import argparse
import math
import shutil
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

WAREHOUSE = ".duck/warehouse.duckdb"
FIRST_DAY = date(2025, 1, 1)
FIRST_HOUR = datetime(2014, 1, 1)
NOW = "2026-06-01T00:00:00+00:00"  # DUCK_NOW for every bench command: after every partition
MANIFEST_CHUNK = 100  # assets per manifest file


@dataclass(frozen=True)
class AssetSpec:
    """One generated asset: its name, deps and the SQL both duck and raw DuckDB run."""

    name: str
    deps: tuple[str, ...]
    sql: str


@dataclass
class Workload:
    """A generated project: where it is, its assets in build order, and what it is about."""

    kind: str
    root: Path
    assets: list[AssetSpec]
    partitions: int = 0  # partitions of the partitioned asset (backfill, many_partitions)
    first_key: str = ""
    last_key: str = ""

    @property
    def warehouse(self) -> Path:
        """The project's warehouse file."""
        return self.root / WAREHOUSE

    @property
    def tables(self) -> list[str]:
        """The asset tables duck builds (what the smoke test compares)."""
        return [a.name for a in self.assets]


# -- source tables --------------------------------------------------------------------------


def events_sql(rows: int, days: int) -> str:
    """The SELECT making ``events``: ``rows`` rows over ``days`` days, in day order.

    >>> 'range(10)' in events_sql(10, 2)
    True
    """
    return (f"SELECT i AS id, DATE '{FIRST_DAY}' + CAST(i * {days} // {rows} AS INTEGER) AS day, "
            f"CAST((i * 7919) % 100000 AS INTEGER) AS user_id, CAST((i * 31) % 100 AS INTEGER) "
            f"AS cat, CAST((i * 13) % 10000 AS BIGINT) AS amount FROM range({rows}) AS t(i)")


def create_table(warehouse: Path, name: str, select: str) -> None:
    """Create a table in a (new) warehouse file, as an ingestion job would before duck runs."""
    import duckdb

    warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(warehouse))
    try:
        con.execute(f"CREATE OR REPLACE TABLE {name} AS {select}")
    finally:
        con.close()


# -- writing manifests ----------------------------------------------------------------------


def _block(sql: str, indent: int) -> str:
    pad = " " * indent
    return "|\n" + "\n".join(pad + line for line in sql.splitlines())


def asset_yaml(a: AssetSpec, strategy: str = "table", partitions: str | None = None,
               checks: str | None = None) -> str:
    """One asset entry of a manifest."""
    lines = [f"  - name: {a.name}", "    owner: team:bench"]
    if a.deps:
        lines.append(f"    deps: [{', '.join(a.deps)}]")
    if partitions:
        lines.append(f"    partitions: {partitions}")
    lines += ["    materialize:", f"      strategy: {strategy}", f"      sql: {_block(a.sql, 8)}"]
    if checks:
        lines.append(f"    checks: {checks}")
    return "\n".join(lines)


def source_yaml(name: str, table: str, partitions: str | None = None) -> str:
    """A source asset over a warehouse table."""
    lines = [f"  - name: {name}", "    kind: source", "    owner: team:ingest",
             f"    source: {{table: {table}}}"]
    if partitions:
        lines.append(f"    partitions: {partitions}")
    return "\n".join(lines)


def write_manifests(root: Path, entries: list[str], prefix: str = "assets") -> None:
    """Write entries into manifest files of at most MANIFEST_CHUNK assets each."""
    chunks = [entries[i:i + MANIFEST_CHUNK] for i in range(0, len(entries), MANIFEST_CHUNK)]
    width = len(str(len(chunks)))
    for n, chunk in enumerate(chunks):
        body = "\n\n".join(chunk)
        (root / f"{prefix}_{n:0{width}d}.yaml").write_text(f"assets:\n{body}\n")


def new_project(root: Path, settings: dict | None = None) -> None:
    """An empty project folder with a duck.yaml."""
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    lines = [f"{k}: {v}" for k, v in (settings or {}).items()]
    (root / "duck.yaml").write_text("# generated by bench/generate.py\n" + "\n".join(lines) + "\n")


# -- dag --------------------------------------------------------------------------------------


def dag_assets(assets: int, layers: int) -> list[AssetSpec]:
    """``assets`` assets in ``layers`` layers; layer 1 reads ``events``, the rest 1-3 assets."""
    widths = [assets // layers + (1 if i < assets % layers else 0) for i in range(layers)]
    out: list[AssetSpec] = []
    previous: list[str] = []
    for layer, width in enumerate(widths, start=1):
        names = [f"l{layer:02d}_a{j:03d}" for j in range(width)]
        for j, name in enumerate(names):
            if layer == 1:
                out.append(AssetSpec(name, ("events",), _layer_one_sql(j)))
            else:
                picks = [previous[(j + d) % len(previous)] for d in (0, 1, 3)]
                deps = tuple(dict.fromkeys(picks[:1 + (j + layer) % 3]))
                out.append(AssetSpec(name, deps, _combine_sql(deps, j)))
        previous = names
    return out


def _layer_one_sql(j: int) -> str:
    return (f"SELECT (user_id * {2 * j + 1} + {j}) % 5000 AS k, count(*) AS n, "
            f"sum(amount) AS amount\nFROM events\nWHERE cat <> {j % 100}\nGROUP BY 1")


def _combine_sql(deps: tuple[str, ...], j: int) -> str:
    if len(deps) == 1:
        return (f"SELECT (k * 7 + {j}) % 5000 AS k, sum(n) AS n, sum(amount) AS amount\n"
                f"FROM {deps[0]}\nGROUP BY 1")
    if len(deps) == 2:
        return (f"SELECT k, a.n + coalesce(b.n, 0) AS n, a.amount - coalesce(b.amount, 0) AS "
                f"amount\nFROM {deps[0]} AS a LEFT JOIN {deps[1]} AS b USING (k)")
    union = "\n  UNION ALL ".join(f"SELECT k, n, amount FROM {d}" for d in deps)
    return f"SELECT k, sum(n) AS n, max(amount) AS amount\nFROM (\n  {union})\nGROUP BY k"


def dag(root: Path, assets: int = 200, layers: int = 10, rows: int = 1_000_000) -> Workload:
    """The DAG workload: ``assets`` table assets in ``layers`` layers over ``rows`` events."""
    new_project(root)
    specs = dag_assets(assets, layers)
    entries = [source_yaml("events", "events")] + [asset_yaml(a) for a in specs]
    write_manifests(root, entries)
    create_table(root / WAREHOUSE, "events", events_sql(rows, 365))
    return Workload("dag", root, specs)


# -- backfill -------------------------------------------------------------------------------


BACKFILL_SQL = ("SELECT day, cat, count(*) AS n, sum(amount) AS amount, "
                "count(DISTINCT user_id) AS users\nFROM events\n"
                "WHERE day >= $partition_start AND day < $partition_end\nGROUP BY day, cat")


def backfill(root: Path, days: int = 365, rows: int = 1_000_000) -> Workload:
    """One daily incremental asset (``daily_cat``) over ``days`` days of ``rows`` events."""
    new_project(root)
    last = FIRST_DAY + timedelta(days=days - 1)
    daily = f'{{daily: {{start: "{FIRST_DAY}", end: "{last}", column: day}}}}'
    spec = AssetSpec("daily_cat", ("events",), BACKFILL_SQL)
    entries = [source_yaml("events", "events", daily),
               asset_yaml(spec, "incremental", daily)]
    write_manifests(root, entries)
    create_table(root / WAREHOUSE, "events", events_sql(rows, days))
    return Workload("backfill", root, [spec], partitions=days,
                    first_key=str(FIRST_DAY), last_key=str(last))


# -- wide -----------------------------------------------------------------------------------


def wide_assets(assets: int) -> list[AssetSpec]:
    """Chains of about sqrt(N) one-row tables; every 10th link also reads the chain before."""
    length = max(10, round(math.sqrt(assets)))
    out: list[AssetSpec] = []
    for i in range(assets):
        chain, link = divmod(i, length)
        name = f"w{chain:03d}_{link:03d}"
        if link == 0:
            out.append(AssetSpec(name, ("seed",), f"SELECT max(x) + {chain} AS x FROM seed"))
            continue
        prev = f"w{chain:03d}_{link - 1:03d}"
        if link % 10 == 0 and chain > 0:
            other = f"w{chain - 1:03d}_{link - 1:03d}"
            out.append(AssetSpec(name, (prev, other), "SELECT greatest(a.x, b.x) + 1 AS x "
                                 f"FROM {prev} AS a, {other} AS b"))
        else:
            out.append(AssetSpec(name, (prev,), f"SELECT x + 1 AS x FROM {prev}"))
    return out


def wide(root: Path, assets: int = 10_000) -> Workload:
    """The wide workload: ``assets`` trivial table assets over a ten-row ``seed`` table."""
    new_project(root)
    specs = wide_assets(assets)
    entries = [source_yaml("seed", "seed")] + [asset_yaml(a) for a in specs]
    write_manifests(root, entries)
    create_table(root / WAREHOUSE, "seed", "SELECT range AS x FROM range(10)")
    return Workload("wide", root, specs)


# -- many partitions -----------------------------------------------------------------------


HOURLY_SQL = ("SELECT ts, CAST(hour(ts) AS INTEGER) AS h\n"
              "FROM range($partition_start, $partition_end, INTERVAL 1 HOUR) AS t(ts)")


def many_partitions(root: Path, partitions: int = 100_000) -> Workload:
    """One hourly asset (``hourly``) with ``partitions`` partitions, built in one batch."""
    new_project(root, {"batch_size": partitions})
    last = FIRST_HOUR + timedelta(hours=partitions - 1)
    hourly = (f'{{hourly: {{start: "{FIRST_HOUR:%Y-%m-%dT%H:%M}", '
              f'end: "{last:%Y-%m-%dT%H:%M}", column: ts}}}}')
    spec = AssetSpec("hourly", (), HOURLY_SQL)
    write_manifests(root, [asset_yaml(spec, "incremental", hourly,
                                      "[{name: ts_present, not_null: [ts]}]")])
    return Workload("many_partitions", root, [spec], partitions=partitions,
                    first_key=f"{FIRST_HOUR:%Y-%m-%dT%H}", last_key=f"{last:%Y-%m-%dT%H}")


GENERATORS = {"dag": dag, "backfill": backfill, "wide": wide, "many_partitions": many_partitions}


def main(argv: list[str] | None = None) -> None:
    """Command line: generate one workload's project into a folder."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("kind", choices=sorted(GENERATORS))
    ap.add_argument("folder", type=Path)
    ap.add_argument("--assets", type=int, help="dag, wide: number of assets")
    ap.add_argument("--layers", type=int, help="dag: number of layers")
    ap.add_argument("--rows", type=int, help="dag, backfill: rows of the events table")
    ap.add_argument("--days", type=int, help="backfill: number of daily partitions")
    ap.add_argument("--partitions", type=int, help="many_partitions: number of hourly partitions")
    args = ap.parse_args(argv)
    allowed = {"dag": ("assets", "layers", "rows"), "backfill": ("days", "rows"),
               "wide": ("assets",), "many_partitions": ("partitions",)}[args.kind]
    kwargs = {k: getattr(args, k) for k in allowed if getattr(args, k) is not None}
    w = GENERATORS[args.kind](args.folder, **kwargs)
    print(f"{w.kind}: {len(w.assets)} asset(s) in {w.root}")


if __name__ == "__main__":
    main()
