"""How a step names the relations it reads: the qualified reads of its SQL, and a check's
other assets (relationships' ``to``), the way the search path resolves unqualified ones."""

from __future__ import annotations

from dataclasses import replace

from duck_cli.manifest.sqlparse import requalify
from duck_cli.models import Asset


def local_reads(wh, asset: Asset, sources: list[Asset], assets) -> Asset:
    """The asset with its SQL's qualified reads pointed where the unqualified ones go through
    the search path: a source read as a temporary view (the step's files of a partitioned
    source, a lake's sources) ``marts.trips`` -> ``temp.main.trips``, and in an environment
    what it built (``marts.orders`` -> ``marts__pr.orders``; production's for the rest)."""
    m = asset.materialize
    if m is None or m.python is not None or not any("." in t for t in asset.reads):
        return asset
    steps = {(s.schema, s.name.lower()) for s in sources}
    moved = {}
    for table in asset.reads:
        parts = table.lower().split(".")
        if len(parts) < 2:
            continue
        key = (parts[-2], parts[-1])
        catalog, schema, _ = ("temp", "main", key[1]) if key in steps else wh.located(
            ".".join(key))
        if (catalog, schema) != (None, key[0]):
            moved[key] = (catalog, schema)
    return replace(asset, materialize=replace(m, sql=requalify(m.sql, moved))) if moved else asset


def table_of(project, wh):
    """How a check on ``wh`` names another asset's relation (relationships' ``to``): what a
    read of it finds (`Warehouse.reading`)."""
    return lambda name: wh.reading(
        project.assets[name].relation if name in project.assets else name)
