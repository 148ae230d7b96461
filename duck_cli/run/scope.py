"""Check scope on staged data: which relation each check of a step sees.

A check scoped to the partition (or any check of a `table`/`view` step) sees the staged rows.
A whole-table check (``scope: table``, the default for unique, relationships and sql) sees the
table the publish would leave behind, as one SELECT in DuckDB: for an incremental step the
staged slice with the published rows of every partition it does not replace; for append the
table with the rows it would insert; for merge the table with the staged keys upserted.
"""

from __future__ import annotations

from duck_cli.graph import partitions as parts
from duck_cli.run import reads, checks, python_checks, strategies


def audit_staged(b, relation: str) -> list:
    """The results of builder ``b``'s checks, in declared order."""
    specs = b.asset.checks
    if not specs:
        return []
    ref = None
    if b.asset.partitions is not None and b.asset.partitions.kind != "static":
        ref = min(b.s.clock(), parts.bounds(b.asset.partitions, b.keys[-1])[1])
    whole, params = resulting_table(b, relation)
    wide = [c for c in specs if c.table_scoped] if whole != relation else []
    done = {}
    for group, rel, bound in (([c for c in specs if c not in wide], relation, None),
                              (wide, whole, params)):
        results = checks.run_checks(b.wh.con, group, rel, params=bound, now=b.s.clock(),
                                    reference_time=ref, table_of=reads.table_of(b.s.project, b.wh),
                                    python=python_checks.checker(b.s, b.asset,
                                                                python_checks.context_of(b)))
        done.update(zip((c.name for c in group), results))
    return [done[c.name] for c in specs]


def resulting_table(b, relation: str) -> tuple[str, dict]:
    """The table as it would be after the publish (a relation and its parameters); the staged
    relation itself when nothing else is published (first build, full refresh, table, view)."""
    name, strategy = b.asset.relation, b.asset.materialize.strategy
    table = b.wh.relation(name)
    if b.wh.table_kind(name) != "BASE TABLE" or b.full_refresh:
        return relation, {}
    if strategy == "append":
        return (f"(SELECT * FROM ({strategies.appended(b.asset, relation, table)}) "
                f"UNION ALL BY NAME SELECT * FROM {table})"), {}
    if strategy == "merge":
        return strategies.merged(b.asset, relation, table), {}
    if strategy != "incremental":
        return relation, {}
    pred, params = b.predicate()
    # BY NAME: the staged columns may have evolved from the published ones
    return (f"(SELECT * FROM {relation} UNION ALL BY NAME SELECT * FROM {table} "
            f"WHERE NOT coalesce({pred}, false))"), params
