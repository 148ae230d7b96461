"""How a step names the relations it reads: the qualified reads of its SQL, and a check's
other assets (relationships' ``to``), the way the search path resolves unqualified ones."""

from __future__ import annotations

from dataclasses import replace

from duck_cli.manifest.sqlparse import requalify
from duck_cli.models import Asset
from duck_cli.sql import PROD, env_schema, quote_ident


def local_reads(wh, asset: Asset, sources: list[Asset], assets) -> Asset:
    """The asset with its SQL's qualified reads pointed where the unqualified ones go through
    the search path: a source read as a temporary view (the step's files of a partitioned
    source, a lake's sources) ``marts.trips`` -> ``temp.main.trips``, and in an environment
    what it built (``marts.orders`` -> ``marts__pr.orders``; production's for the rest)."""
    m = asset.materialize
    if m is None or m.python is not None or not any("." in t for t in asset.reads):
        return asset
    temp = {(s.schema, s.name.lower()) for s in sources} | {
        (assets[n].schema, n.lower()) for n in assets if n.lower() in wh.temp_views()}
    moved = {}
    for table in asset.reads:
        parts = table.lower().split(".")
        key = (parts[-2], parts[-1]) if len(parts) > 1 else None
        if key in temp:
            moved[key] = ("temp", "main")
        elif key is not None and wh.env != PROD and ".".join(key) in wh.kinds:
            moved[key] = (None, env_schema(wh.env, key[0]))
    return replace(asset, materialize=replace(m, sql=requalify(m.sql, moved))) if moved else asset


def table_of(project, wh):
    """How a check on ``wh`` names another asset's relation (relationships' ``to``): this
    environment's copy when it built one, else production's."""
    temp = wh.temp_views()

    def table_of(name: str) -> str:
        if name.lower() in temp:  # a lake's source: a TEMP view, in no schema of the lake
            return f"temp.main.{quote_ident(name)}"
        return wh.reading(project.assets[name].relation if name in project.assets else name)
    return table_of
