"""What `duck env list`, `duck env drop`, `duck promote` and `duck prune`'s environments show:
a JSON document each, or a table and a sentence for people."""

from __future__ import annotations

from datetime import datetime

from duck_cli.report import documents as docs
from duck_cli.report.render import emit_json
from duck_cli.report.style import Screen, _esc, _table


def env_doc(e, now: datetime) -> dict:
    """One environment as data."""
    age = (now - e.created_at).total_seconds() if e.created_at else None
    return {"name": e.name, "slug": e.slug, "schema": e.schema,
            "created_at": docs.ts(e.created_at), "built_at": docs.ts(e.built_at),
            "age_seconds": None if age is None else round(age), "commit": e.commit,
            "tables": e.tables, "rows": e.rows}


def env_list(screen: Screen, found: list, now: datetime, as_json: bool) -> None:
    """Every environment: name, age, size, commit."""
    rows = [env_doc(e, now) for e in found]
    if as_json:
        emit_json(screen, docs.doc("env_list", now=docs.ts(now), environments=rows))
        return
    if not rows:
        screen.out.print("no environments (build one with `duck materialize --env NAME`)")
        return
    table = _table("Environments", "Name", "Schema", "Age", "Tables", "Rows", "Commit")
    for r in rows:
        table.add_row(_esc(r["name"]), r["schema"], _age(r["age_seconds"]), str(r["tables"]),
                      str(r["rows"]), (r["commit"] or "-")[:12])
    screen.out.print(table)


def _age(seconds: int | None) -> str:
    """'3d 4h', '5h 2m', '40s'.

    >>> _age(3 * 86400 + 4 * 3600), _age(5 * 3600 + 120), _age(40), _age(None)
    ('3d 4h', '5h 2m', '40s', '-')
    """
    if seconds is None:
        return "-"
    d, rest = divmod(int(seconds), 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return f"{d}d {h}h" if d else f"{h}h {m}m" if h else f"{m}m" if m else f"{s}s"


def env_dropped(screen: Screen, name: str, found: bool, as_json: bool) -> None:
    """What `duck env drop` did."""
    if as_json:
        emit_json(screen, docs.doc("env_drop", env=name, dropped=found))
        return
    screen.out.print(f"dropped environment {name}" if found else
                     f"no environment {name} to drop", markup=False)


def promoted(screen: Screen, result, as_json: bool) -> None:
    """What `duck promote` copied into production."""
    if as_json:
        emit_json(screen, docs.doc("promote", env=result.env, run_id=result.run_id,
                                   assets=[{"asset": a, "partitions": ks,
                                            "partition_count": len([k for k in ks if k])}
                                           for a, ks in result.assets.items()]))
        return
    table = _table(f"promoted from {result.env} (run {result.run_id})", "Asset", "Partitions")
    for asset, keys in result.assets.items():
        table.add_row(asset, _esc(", ".join(k for k in keys if k) or "-"))
    screen.out.print(table)
    screen.out.print("production holds the preview's data; no step ran, no check ran again")

