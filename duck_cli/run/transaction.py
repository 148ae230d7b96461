"""What every step's transaction shares, local or lake, one step or a group: committing with
the ledger rows, rolling back after an error, the error of rows outside a step's partitions,
and the parameters and error text of a step's SQL."""

from __future__ import annotations

import re
import time
from typing import Iterator

from duck_cli.graph import partitions as parts
from duck_cli.models import Asset
from duck_cli.records import LedgerRow
from duck_cli.sql import key_expr


def commit_with_ledger(s, wh, ledger: list[LedgerRow]) -> None:
    """Add the ledger rows and commit (the caller holds the session's commit lock). The rows
    count as in flight from before the commit until the runner records them, so a catalog
    flush in between keeps the unrecorded marker."""
    s.add_in_flight(len(ledger))  # first: a flush from now on keeps the marker
    try:
        s.unrecorded()
        wh.append_ledger(ledger)
        s.faults.hit("ledger")
        wh.commit()
    except BaseException:
        s.add_in_flight(-len(ledger))
        raise
    s.faults.hit("commit")


ATTEMPTS = 8  # lake publish transactions tried before giving up
PAUSE = 0.05  # seconds: the first retry's mean pause, doubled each time (at most MAX_PAUSE)
MAX_PAUSE = 2.0


def attempts() -> Iterator[int]:
    """Number ATTEMPTS tries of a lake transaction, pausing before each retry a random time
    that grows: DuckLake's own retry gives up under contention, and writers that retry in
    step would conflict again."""
    for attempt in range(ATTEMPTS):
        if attempt:
            import random  # a lake transaction's retry only: a first attempt never loads it

            time.sleep(random.uniform(0, min(MAX_PAUSE, PAUSE * 2 ** (attempt - 1)) * 2))
        yield attempt


def rollback_or_raise(wh, err: Exception) -> None:
    """Roll back after an error in a step's statements; raise KeyboardInterrupt when Ctrl-C
    stopped the query, and anything that is not a DuckDB (or slice) error as it is."""
    from duck_cli.engine import duckdb

    wh.rollback()
    if isinstance(err, duckdb.InterruptException) or (
            not isinstance(err, (duckdb.Error, SliceError)) and "interrupt" in str(err).lower()):
        raise KeyboardInterrupt from err  # Ctrl-C twice: DuckDB stopped the query
    if not isinstance(err, (duckdb.Error, SliceError)):
        raise err


def slice_counts(con, asset: Asset, keys: list[str], table: str,
                 predicate: tuple[str, dict]) -> dict[str, int]:
    """Rows per partition key in a step's slice of ``table`` (``predicate``: its SQL and
    parameters). One read of the slice serves both the check that nothing fell outside it and
    the ledger's row counts: on a lake every read is a round trip."""
    pred, params = predicate
    if len(keys) == 1:
        return {keys[0]: con.execute(f"SELECT count(*) FROM {table} WHERE {pred}",
                                     params).fetchone()[0]}
    return dict(con.execute(f"SELECT {key_expr(asset.partitions)} AS k, count(*) FROM {table} "
                            f"WHERE {pred} GROUP BY k", params).fetchall())


def staged_counts(con, stages: list[tuple[Asset, str, tuple[str, dict]]]
                  ) -> list[tuple[dict[str, int], int]]:
    """For each staged slice (asset, TEMP table, its step's predicate and parameters): its rows
    per partition key inside the step's partitions, and its rows outside them. All in one
    statement (each would cost a few ms: on a lake's connection, statements, not rows,
    dominate small slices); each stage's parameters are renamed apart."""
    selects, params = [], {}
    for i, (asset, table, (pred, bound)) in enumerate(stages):
        params.update({f"s{i}_{name}": value for name, value in bound.items()})
        pred = pred.replace("$partition_", f"$s{i}_partition_")
        selects.append(  # duck's own names: a table column "inside" would clash
            f"SELECT {i} AS __duck_i, __duck_in, CASE WHEN __duck_in THEN "
            f"{key_expr(asset.partitions)} END AS __duck_k FROM (SELECT coalesce({pred}, false) "
            f"AS __duck_in, * FROM {table})")
    rows = con.execute(
        "SELECT __duck_i, __duck_k, count(*) FILTER (WHERE __duck_in), count(*) FILTER (WHERE "
        f"NOT __duck_in) FROM ({' UNION ALL '.join(selects)}) GROUP BY ALL", params).fetchall()
    out: list[tuple[dict[str, int], int]] = [({}, 0) for _ in stages]
    for i, key, inside, outside in rows:
        counts, bad = out[i]
        if inside:
            counts[key] = inside
        out[i] = (counts, bad + outside)
    return out


class SliceError(Exception):
    """Staged rows outside the partitions being built."""


def outside_rows(asset: Asset, keys: list[str], bad: int) -> SliceError:
    """The error for ``bad`` rows that fall outside the partitions ``keys`` being built."""
    col = asset.partitions.column
    what = "the function returned" if asset.materialize.python else "the SQL produced"
    return SliceError(f"{asset.name} {parts.compact(asset.partitions, keys)}: {what} {bad} "
                      f"row(s) whose '{col}' lies outside the partition. Filter it with "
                      "$partition_start/$partition_end (or $partition_key) so each run builds "
                      "one slice")


def used_params(sql: str, params: dict) -> dict:
    """Only the parameters the SQL mentions (DuckDB refuses extra ones)."""
    names = set(re.findall(r"\$(partition_\w+)", sql))
    return {k: v for k, v in params.items() if k in names}


def sql_error(err: Exception) -> str:
    """A DuckDB error's first paragraph (without the LINE pointer)."""
    text = str(err).strip()
    return text.split("\n\nLINE")[0] if "\n\nLINE" in text else text.splitlines()[0]


def plain_step(wh, asset: Asset) -> bool:
    """Nothing to stage for: no checks or contract, SQL (not Python). In a lake a step alone
    stages anyway (`LakeBuilder`); plain steps there only share group transactions."""
    return not (asset.checks or asset.columns or asset.materialize.python is not None)


def direct_ok(s, wh, asset: Asset) -> bool:
    """Whether an incremental step replaces its slice straight from the SQL (the table exists
    and its columns fit, so far)."""
    return (asset.materialize.strategy == "incremental" and plain_step(wh, asset)
            and wh.table_kind(asset.relation) == "BASE TABLE" and s.direct.get(asset.name, True))
