"""`duck diff`: an environment's tables against a base's, per asset and partition, in DuckDB.

Environment E's copy of asset A in schema S is ``"S__<slug>"."A"`` (`sql.relation`); when E did not
build A it reads production's, so E's A *is* production's A. Two relations are compared inside
DuckDB: a FULL OUTER JOIN on the asset's row key (rows added, removed, changed) or, without a
key, EXCEPT ALL both ways (added and removed), grouped by partition (`run/diff_sql.py`). Only
aggregates and a few sample rows come back to Python.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from duck_cli.errors import StateError, UsageError
from duck_cli.models import Asset
from duck_cli.run import diff_sql as q
from duck_cli.sql import PROD, env_schema, key_expr, quote_ident
from duck_cli.state.warehouse import ledger_of

SAMPLE = 5  # differing rows fetched per asset


@dataclass(frozen=True)
class Relation:
    """A table or view in the warehouse."""

    schema: str
    name: str
    kind: str  # table | view
    within: str | None = None  # SQL limiting the rows to the partitions a preview built

    @property
    def sql(self) -> str:
        table = f"{quote_ident(self.schema)}.{quote_ident(self.name)}"
        return f"(SELECT * FROM {table} WHERE {self.within})" if self.within else table

    @property
    def label(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class ColumnChange:
    """A column only one side has, or whose type differs."""

    column: str
    change: str  # added | removed | retyped
    base_type: str | None
    env_type: str | None


@dataclass(frozen=True)
class SideStats:
    """One column on one side: its nulls and, for a number, its sum, minimum and maximum."""

    nulls: int
    sum: Any = None
    min: Any = None
    max: Any = None


@dataclass(frozen=True)
class ColumnSummary:
    """One column: how many matched rows differ in it (None: not compared), and both sides."""

    column: str
    type: str
    changed: int | None
    base: SideStats | None
    env: SideStats | None

    @property
    def differs(self) -> bool:
        return bool(self.changed) or self.base != self.env


@dataclass(frozen=True)
class PartitionDiff:
    """One partition (None: an unpartitioned asset): rows added, removed, changed; each side's rows."""

    partition: str | None
    added: int
    removed: int
    changed: int
    base_rows: int
    env_rows: int


@dataclass(frozen=True)
class SampleRow:
    """A differing row: the key, and the values of each side (only the differing ones when
    the row changed; the whole row on the one side that has it otherwise)."""

    change: str  # added | removed | changed
    partition: str | None
    key: tuple[tuple[str, Any], ...]
    base: tuple[tuple[str, Any], ...] | None
    env: tuple[tuple[str, Any], ...] | None


@dataclass(frozen=True)
class AssetDiff:
    """One asset compared: its status, relations, what it was matched on, and the differences."""

    asset: str
    status: str  # shared | same | differs | only_env | only_base
    base: Relation | None
    env: Relation | None
    key: tuple[str, ...] = ()  # the columns rows were matched on (): whole rows
    partition_column: str | None = None
    partitions: tuple[PartitionDiff, ...] = ()  # those with a difference
    partitions_compared: int = 0
    columns: tuple[ColumnChange, ...] = ()
    summaries: tuple[ColumnSummary, ...] = ()
    sample: tuple[SampleRow, ...] = ()
    note: str | None = None  # why rows were compared whole although the asset names a key

    def total(self, field: str) -> int:
        """The sum over partitions of ``added``, ``removed`` or ``changed``."""
        return sum(getattr(p, field) for p in self.partitions)


@dataclass(frozen=True)
class DiffReport:
    """Every selected asset of ``env`` compared with ``base``."""

    env: str
    base: str
    assets: tuple[AssetDiff, ...]

    @property
    def differs(self) -> bool:
        return any(a.status not in ("same", "shared") for a in self.assets)


def diff(con, assets: list[Asset], env: str, base: str = PROD,
         explicit: bool = False) -> DiffReport:
    """Compare ``env``'s tables of ``assets`` with ``base``'s on the warehouse connection
    ``con``; ``explicit``: the assets were named, so one built on neither side is an error."""
    if env == base:
        raise UsageError(f"--env and --base are both '{env}': nothing to compare",
                         hint="Name another base, e.g. --base prod.")
    # a comparison of big tables takes seconds: DuckDB's own progress bar would write to stdout
    con.execute("SET enable_progress_bar = false")
    schemas = {r[0] for r in con.execute(q.SCHEMAS).fetchall()}
    for name in dict.fromkeys((env, base)):
        _require(name, schemas)
    found = _relations(con, [env_schema(e, a.schema) for a in assets for e in (env, base, PROD)])
    out = []
    for asset in assets:
        b, e = _resolve(found, base, asset), _resolve(found, env, asset)
        if b is None and e is None:
            if explicit:
                raise UsageError(f"asset '{asset.name}' is built neither in '{env}' nor in "
                                 f"'{base}'", asset=asset.name,
                                 hint="Materialize it, or leave it out of the selection.")
            continue
        if e is not None and b is not None and e.schema == env_schema(env, asset.schema) != b.schema:
            b, e = _previewed(con, asset, env, b, e)
        out.append(_compared(con, asset, b, e))
    return DiffReport(env, base, tuple(out))


def _previewed(con, asset: Asset, env: str, base: Relation, mine: Relation
               ) -> tuple[Relation, Relation]:
    """Both sides limited to the partitions the environment published (its ledger), when it
    built a partitioned asset over a window: the partitions it left out are not 'removed'."""
    if asset.partitions is None or env == PROD:
        return base, mine
    from duck_cli.engine import duckdb

    try:
        keys = [k for (k,) in con.execute(
            f"SELECT DISTINCT partition_key FROM {ledger_of(env)} WHERE asset = $asset "
            "AND partition_key IS NOT NULL", {"asset": asset.name}).fetchall()]
    except duckdb.CatalogException:  # tables made by hand, no ledger: compare them whole
        return base, mine
    if not keys:
        return base, mine
    table = quote_ident(f"__duck_diff_window_{asset.name}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} (k VARCHAR)")
    con.executemany(f"INSERT INTO {table} VALUES (?)", [[k] for k in keys])
    column = quote_ident(asset.partitions.column or "partition_key")
    within = f"{key_expr(asset.partitions, column)} IN (SELECT k FROM {table})"
    return replace(base, within=within), replace(mine, within=within)


def _compared(con, asset: Asset, base: Relation | None, env: Relation | None) -> AssetDiff:
    """`compare`, a StateError naming the asset and both relations when DuckDB cannot (a
    view whose SQL no longer binds, types it cannot compare)."""
    from duck_cli.engine import duckdb

    try:
        return compare(con, asset, base, env)
    except duckdb.Error as err:
        sides = " and ".join(r.label for r in (base, env) if r is not None)
        raise StateError(f"cannot compare {sides}: {str(err).splitlines()[0]}",
                         asset=asset.name, hint="Check that both can be queried, e.g. "
                         f"`SELECT * FROM {(env or base).label} LIMIT 1`.") from None


def _require(env: str, schemas: set[str]) -> None:
    """A UsageError when environment ``env`` has no schema in the warehouse."""
    if env == PROD or env_schema(env) in schemas:
        return
    raise UsageError(f"environment '{env}' has no tables in the warehouse (no schema "
                     f"{env_schema(env)})", hint=f"Build it first with `duck materialize --env "
                     f"{env}`; check the name (`duck env list` lists the environments).")


def _relations(con, schemas: list[str]) -> dict[tuple[str, str], Relation]:
    """The tables and views of ``schemas``, by (schema, lower-case name)."""
    rows = con.execute(q.RELATIONS, {"schemas": list(dict.fromkeys(schemas))}).fetchall()
    return {(s, n.lower()): Relation(s, n, "view" if t == "VIEW" else "table") for s, n, t in rows}


def _resolve(found: dict, env: str, asset: Asset) -> Relation | None:
    """Environment ``env``'s relation of an asset: its own, else production's (it deferred)."""
    name = asset.name.lower()
    return found.get((env_schema(env, asset.schema), name)) or found.get((asset.schema, name))


def compare(con, asset: Asset, base: Relation | None, env: Relation | None) -> AssetDiff:
    """One asset's two relations compared (either may be missing: the other's rows are all
    added or all removed)."""
    if base == env:
        return AssetDiff(asset.name, "shared", base, env)
    if base is None or env is None:
        return _one_sided(con, asset, base, env)
    bcols, ecols = describe(con, base), describe(con, env)
    changes = column_changes(bcols, ecols)
    common = tuple((c, bcols[c], ecols[c]) for c in bcols if c in ecols)
    part = _partition(asset, bcols, ecols)
    key, note = _key(con, asset, base, env, bcols, ecols)
    shape = q.Shape(base.sql, env.sql, common, key, _part_sql(asset, part))
    found = _keyed(con, shape) if key else _by_sets(con, shape)
    partitions, changed, sample = found
    summaries = _summaries(con, base, env, bcols, ecols, changed)
    diff_ = AssetDiff(asset.name, "differs", base, env, key, part,
                      tuple(p for p in partitions if _differs(p)), len(partitions), changes,
                      summaries, sample, note)
    same = not diff_.partitions and not changes
    return replace(diff_, status="same") if same else diff_


def _differs(p: PartitionDiff) -> bool:
    return bool(p.added or p.removed or p.changed)


def describe(con, relation: Relation) -> dict[str, str]:
    """A relation's columns and their types, in order (DuckDB's DESCRIBE)."""
    rows = con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {relation.sql})").fetchall()
    return {name: column_type for name, column_type in rows}


def column_changes(base: dict[str, str], env: dict[str, str]) -> tuple[ColumnChange, ...]:
    """Columns the environment added, removed or gave another type.

    >>> [c.change for c in column_changes({'a': 'INTEGER', 'b': 'DATE'},
    ...                                    {'a': 'BIGINT', 'c': 'VARCHAR'})]
    ['retyped', 'removed', 'added']
    """
    found = [ColumnChange(c, "retyped", t, env[c]) for c, t in base.items()
             if c in env and env[c] != t]
    found += [ColumnChange(c, "removed", t, None) for c, t in base.items() if c not in env]
    found += [ColumnChange(c, "added", None, t) for c, t in env.items() if c not in base]
    return tuple(found)


def _partition(asset: Asset, *sides: dict[str, str]) -> str | None:
    """The partition column, when every side has it with the same type (else: one slice)."""
    if asset.partitions is None:
        return None
    column = asset.partitions.column or "partition_key"
    types = {side.get(column) for side in sides}
    return column if len(types) == 1 and None not in types else None


def _part_sql(asset: Asset, column: str | None) -> str:
    return key_expr(asset.partitions, quote_ident(column)) if column else "NULL"


def _key(con, asset: Asset, base: Relation, env: Relation, bcols: dict, ecols: dict
         ) -> tuple[tuple[str, ...], str | None]:
    """The key rows are matched on, or () with the reason when the asset's key cannot be used."""
    key = asset.row_key
    if not key:
        return (), None
    missing = [k for k in key if k not in bcols or k not in ecols]
    if missing:
        return (), f"key column {missing[0]} is not on both sides: rows compared whole"
    for side, rel in (("base", base), ("environment", env)):
        if con.execute(q.duplicates(rel.sql, list(key))).fetchone()[0]:
            return (), f"the key ({', '.join(key)}) repeats in the {side}: rows compared whole"
    return tuple(key), None


def _keyed(con, shape: q.Shape):
    """Partitions, changed values per column, and a sample, matching rows by key."""
    rows = con.execute(q.keyed_counts(shape)).fetchall()
    partitions = [PartitionDiff(r[0], *r[2:7]) for r in rows if not r[1]]
    total = next(r for r in rows if r[1])
    changed = {shape.columns[i][0]: n for i, n in zip(shape.values, total[7:])}
    found = con.execute(q.keyed_sample(shape, SAMPLE)).fetchall()
    return partitions, changed, tuple(_keyed_row(shape, r) for r in found)


def _keyed_row(shape: q.Shape, row) -> SampleRow:
    change, part, nkey, ncols = row[0], row[1], len(shape.key), len(shape.columns)
    key = tuple(zip(shape.key, row[2:2 + nkey]))
    pairs = row[2 + nkey:2 + nkey + 2 * ncols]
    flags = dict(zip(shape.values, row[2 + nkey + 2 * ncols:]))
    names = [c[0] for c in shape.columns]
    shown = [i for i in shape.values if flags[i]] if change == "changed" else \
        [i for i in range(ncols) if names[i] not in shape.key]
    base = tuple((names[i], pairs[2 * i]) for i in shown)
    env = tuple((names[i], pairs[2 * i + 1]) for i in shown)
    return SampleRow(change, part, key, None if change == "added" else base,
                     None if change == "removed" else env)


def _by_sets(con, shape: q.Shape):
    """Partitions and a sample, comparing whole rows (no changed rows: no key to match on)."""
    rows = con.execute(q.set_counts(shape)).fetchall()
    partitions = [PartitionDiff(p, a, r, 0, bn, en) for p, a, r, bn, en in rows]
    names = [c[0] for c in shape.columns]
    sample = tuple(SampleRow(r[0], r[1], (), None if r[0] == "added" else tuple(zip(names, r[2:])),
                             None if r[0] == "removed" else tuple(zip(names, r[2:])))
                   for r in con.execute(q.set_sample(shape, SAMPLE)).fetchall())
    return partitions, {}, sample


def _one_sided(con, asset: Asset, base: Relation | None, env: Relation | None) -> AssetDiff:
    """An asset only one side has: every row of it added (or removed)."""
    rel = env or base
    cols = describe(con, rel)
    part = _partition(asset, cols)
    psql = _part_sql(asset, part)
    adds = env is not None
    partitions = tuple(PartitionDiff(p, n if adds else 0, 0 if adds else n, 0,
                                     0 if adds else n, n if adds else 0)
                       for p, n in con.execute(q.one_side(rel.sql, psql)).fetchall())
    names = list(cols)
    sample = tuple(SampleRow("added" if adds else "removed", r[0], (),
                             None if adds else tuple(zip(names, r[1:])),
                             tuple(zip(names, r[1:])) if adds else None)
                   for r in con.execute(q.one_side_sample(rel.sql, psql, names, SAMPLE)).fetchall())
    changes = tuple(ColumnChange(c, "added" if adds else "removed", None if adds else t,
                                 t if adds else None) for c, t in cols.items())
    stats = _stats(con, rel, cols)
    summaries = tuple(ColumnSummary(c, t, None, None if adds else stats[c],
                                    stats[c] if adds else None) for c, t in cols.items())
    return AssetDiff(asset.name, "only_env" if adds else "only_base", base, env, (), part,
                     tuple(p for p in partitions if _differs(p)), len(partitions), changes,
                     summaries, sample)


def _stats(con, relation: Relation, cols: dict[str, str]) -> dict[str, SideStats]:
    """Each column's nulls (and sum, min, max for numbers) over a whole relation."""
    row = list(con.execute(q.stats(relation.sql, list(cols.items()))).fetchone())[1:]
    out = {}
    for name, column_type in cols.items():
        width = 4 if q.numeric(column_type) else 1
        values, row = row[:width], row[width:]
        out[name] = SideStats(*values)
    return out


def _summaries(con, base: Relation, env: Relation, bcols: dict, ecols: dict,
               changed: dict[str, int]) -> tuple[ColumnSummary, ...]:
    """Per column of either side: values changed in matched rows, and both sides' statistics."""
    bstats, estats = _stats(con, base, bcols), _stats(con, env, ecols)
    names = list(bcols) + [c for c in ecols if c not in bcols]
    return tuple(ColumnSummary(c, ecols.get(c) or bcols[c], changed.get(c),
                               bstats.get(c), estats.get(c)) for c in names)
