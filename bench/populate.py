"""Publish every asset of a generated project quickly, so the catalog of a large one can be filled.

A full ``duck materialize`` of 10,000 assets takes minutes (see results.md), too long for every
bench run. This builds the same state through duck's own crash-recovery path instead:

1. raw DuckDB creates every asset's table in the warehouse (the same SQL, in build order);
2. duck's own warehouse functions (``Warehouse.observe_table``, ``ledger_row``,
   ``Warehouse.append_ledger``) record, in the same transaction, the source observation and one
   materialization per asset in the warehouse ledger, exactly as a duck run that died after
   publishing would have left them;
3. the next ``duck materialize`` (run by the caller) finds the unrecorded ledger rows and copies
   them into the catalog (``execute.recover``), then finds nothing to do.

The catalog is never written here. Only unpartitioned table assets over table sources are
supported (the ``wide`` and ``dag`` workloads).
"""

from __future__ import annotations

import json
from pathlib import Path

RUN_ID = "r00000"


def publish_all(root: Path, now_text: str) -> int:
    """Create every asset's table and its ledger row; return how many assets were published."""
    from datetime import datetime

    from duck_cli.graph.dag import AssetGraph
    from duck_cli.models import UNPARTITIONED
    from duck_cli.manifest.settings import find_root
    from duck_cli.manifest.load import load_project
    from duck_cli.sql import quote_ident as quote
    from duck_cli.state.warehouse import Warehouse, ledger_row

    project = load_project(find_root(root, {}))
    now = datetime.fromisoformat(now_text)
    order = AssetGraph.build(project.assets).order
    wh = Warehouse.open(project.settings, wait=project.settings.wait_seconds)
    rows: list = []
    try:
        wh.begin()
        for name in order:
            asset = project.assets[name]
            if asset.partitions is not None:
                raise ValueError(f"{name}: populate handles unpartitioned assets only")
            seq = len(rows) + 1
            if asset.is_source:
                (key, version), = wh.observe_table(asset, [UNPARTITIONED]).items()
                rows.append(ledger_row(seq, asset, key, None, None, now, None, "observation",
                                       data_version=version))
                continue
            count = wh.con.execute(f"CREATE TABLE {quote(name)} AS "
                                   f"{asset.materialize.sql}").fetchone()[0]
            rows.append(ledger_row(seq, asset, UNPARTITIONED, RUN_ID, seq, now, count,
                                   "materialization", upstream=json.dumps({"input_seq": seq - 1})))
        wh.append_ledger(rows)
        wh.commit()
    finally:
        wh.close()
    return sum(1 for r in rows if r.kind == "materialization")
