"""`duck migrate`'s report: what moved where, what it replaced, and every table compared on
both sides (rows and hash), as a table for people or the ``migrate`` JSON document."""

from __future__ import annotations

from duck_cli.report.documents import doc
from duck_cli.report.render import emit_json
from duck_cli.report.style import Screen, _esc, _table


def migrate_doc(report) -> dict:
    """`duck migrate --json`: the parts moved, what was replaced, each table compared."""
    return doc("migrate", ok=report.ok, to=report.to, moves=[
        {"part": m.part, "from": {"backend": m.source.backend, "at": m.source_at},
         "to": {"backend": m.target.backend, "at": m.target_at}} for m in report.moves],
        replaced=list(report.replaced), tables=[
        {"part": c.part, "name": c.name, "kind": c.kind, "match": c.match,
         "source": {"rows": c.source_rows, "hash": c.source_hash},
         "target": {"rows": c.target_rows, "hash": c.target_hash}} for c in report.compared])


def migrated(screen: Screen, report, as_json: bool) -> None:
    """The migrate report: one line per part moved, then the table of every comparison."""
    if as_json:
        emit_json(screen, migrate_doc(report))
        return
    out = screen.out
    for m in report.moves:
        out.print(_esc(f"{m.part}: {m.source_at} -> {m.target_at}"))
    for what in report.replaced:
        out.print("[yellow]replaced[/] " + _esc(what))
    table = _table(None, "part", "table", "rows (source)", "rows (target)", "hash", "")
    for c in report.compared:
        same = c.source_hash == c.target_hash
        table.add_row(c.part, _esc(c.name), f"{c.source_rows:,}", f"{c.target_rows:,}",
                      "same" if same else "[red]differs[/]",
                      "[green]ok[/]" if c.match else "[red]MISMATCH[/]")
    out.print(table)
    if report.ok:
        out.print(f"[green]migrated[/] {len(report.compared)} table(s), every row count and "
                  "hash equal on both sides")
    else:
        bad = [c.name for c in report.compared if not c.match]
        out.print(f"[red]not verified[/]: {_esc(', '.join(bad))} differ; the target stays "
                  "marked incomplete (run duck migrate again to start over)")
