"""`duck diff` for people and machines: the `diff` document, then tables drawn from it.

The document is the one picture (`run.diff.DiffReport` made plain); the terminal tables and the
Markdown summary (`report/diff_markdown.py`) both read it, so they never disagree.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from duck_cli.report import documents as docs
from duck_cli.report import tables
from duck_cli.report.style import _esc
from duck_cli.report.tables import NAME, WRAP, Column
from duck_cli.run.diff import AssetDiff, ColumnSummary, DiffReport, SampleRow, SideStats

SHOWN = 10  # partitions and columns listed per asset before "and N more"
COLUMNS = {"Partition": Column("Partition", NAME), "Added": Column("Added", justify="right"),
           "Removed": Column("Removed", justify="right"),
           "Changed": Column("Changed", justify="right"),
           "Base rows": Column("Base rows", justify="right", drop=1),
           "Env rows": Column("Env rows", justify="right", drop=1),
           "Column": Column("Column", NAME), "Nulls": Column("Nulls", NAME),
           "Sum": Column("Sum", NAME, drop=1), "Min": Column("Min", NAME, drop=3),
           "Max": Column("Max", NAME, drop=2)}
SAMPLE_COLUMNS = {"Change": Column("Change"), "Partition": Column("Partition", NAME, drop=1),
                  "Key": Column("Key", NAME), "Values": Column("Values", WRAP)}
STATUS_WORDS = {"shared": "not built in the environment (reads the base's table)",
                "same": "no difference", "differs": "differs",
                "only_env": "only in the environment", "only_base": "only in the base"}

# -- the document --------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """A value from DuckDB as JSON has it: numbers stay numbers, dates and the rest are text.

    >>> import datetime
    >>> plain(Decimal('1.50')), plain(3), plain(datetime.date(2026, 3, 2)), plain(float('nan'))
    (1.5, 3, '2026-03-02', 'nan')
    """
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN or infinity
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Decimal):
        return float(value)
    return str(value)


def diff_doc(report: DiffReport) -> dict:
    """The `diff --json` document."""
    assets = [asset_entry(a) for a in report.assets]
    count = {s: sum(a["status"] == s for a in assets) for s in STATUS_WORDS}
    rows = {w: sum(a["rows"][w] for a in assets) for w in ("added", "removed", "changed")}
    return docs.doc("diff", env=report.env, base=report.base, differs=report.differs,
                    summary={"assets": len(assets), **count, "rows": rows}, assets=assets)


def asset_entry(a: AssetDiff) -> dict:
    """One asset of the document."""
    return {"asset": a.asset, "status": a.status,
            "base": a.base.label if a.base else None, "env": a.env.label if a.env else None,
            "key": list(a.key), "note": a.note, "partition_column": a.partition_column,
            "rows": {w: a.total(w) for w in ("added", "removed", "changed")},
            "partitions_compared": a.partitions_compared,
            "partitions": [{"partition": p.partition, "added": p.added, "removed": p.removed,
                            "changed": p.changed, "base_rows": p.base_rows,
                            "env_rows": p.env_rows} for p in a.partitions],
            "schema_changes": [{"column": c.column, "change": c.change, "base_type": c.base_type,
                                "env_type": c.env_type} for c in a.columns],
            "columns": [_column(c) for c in a.summaries],
            "sample": [_sample(s) for s in a.sample]}


def _column(c: ColumnSummary) -> dict:
    return {"column": c.column, "type": c.type, "differs": c.differs, "changed": c.changed,
            "base": _stats(c.base), "env": _stats(c.env)}


def _stats(s: SideStats | None) -> dict | None:
    if s is None:
        return None
    return {"nulls": s.nulls, "sum": plain(s.sum), "min": plain(s.min), "max": plain(s.max)}


def _sample(s: SampleRow) -> dict:
    def side(values):
        return None if values is None else {k: plain(v) for k, v in values}

    return {"change": s.change, "partition": s.partition,
            "key": {k: plain(v) for k, v in s.key}, "base": side(s.base), "env": side(s.env)}

# -- words shared by the tables and the Markdown -------------------------------------------


def number(value: Any) -> str:
    """A statistic for people: at most four decimals, no trailing zeros.

    >>> number(2738.1199999999994), number(90104.33), number(7), number(None)
    ('2738.12', '90104.33', '7', '-')
    """
    if value is None:
        return "-"
    if isinstance(value, float):
        return format(round(value, 4), "f").rstrip("0").rstrip(".") or "0"
    return str(value)


def pair(base: Any, env: Any) -> str:
    """'a → b', or just 'a' when both sides agree.

    >>> pair(1, 2), pair(3, 3)
    ('1 → 2', '3')
    """
    b, e = number(base), number(env)
    return b if b == e else f"{b} → {e}"


def headline(a: dict) -> str:
    """One line for an asset: what differs, where, matched how."""
    if a["status"] in ("shared", "same"):
        return STATUS_WORDS[a["status"]]
    r = a["rows"]
    if a["partitions"]:
        words = f"{r['added']} added, {r['removed']} removed"
        words += f", {r['changed']} changed" if a["key"] else ""
        words += f" row(s) in {len(a['partitions'])} of {a['partitions_compared']} " \
            "partition(s)" if a["partition_column"] else " row(s)"
    else:
        words = "no row differs, the columns do"
    match = f"key {', '.join(a['key'])}" if a["key"] else "whole rows, no key"
    extra = f"; {a['note']}" if a["note"] else ""
    where = {"only_env": "; only in the environment", "only_base": "; only in the base"}
    return f"{words} ({match}{extra}){where.get(a['status'], '')}"


def schema_words(a: dict) -> list[str]:
    """The column changes, one phrase each ('+ tip BIGINT', '- fare', '~ trips HUGEINT → BIGINT')."""
    signs = {"added": "+", "removed": "-", "retyped": "~"}
    return [f"{signs[c['change']]} {c['column']} " + (
        c["env_type"] if c["change"] == "added" else c["base_type"] if c["change"] == "removed"
        else f"{c['base_type']} → {c['env_type']}") for c in a["schema_changes"]]


def partition_table(a: dict) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the first SHOWN partitions that differ (Changed only with a key)."""
    fields = ["added", "removed", *(["changed"] if a["key"] else []), "base_rows", "env_rows"]
    headers = ["Partition", *(f.replace("_", " ").capitalize() for f in fields)]
    return headers, [[p["partition"] or "(all rows)", *(str(p[f]) for f in fields)]
                     for p in a["partitions"][:SHOWN]]


def summary_table(a: dict) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the first SHOWN columns that differ: values changed (only with a
    key), then nulls, sum, min and max, each 'base → env' where the sides differ."""
    keyed = bool(a["key"])
    rows = []
    for c in interesting(a)[:SHOWN]:
        b, e = c["base"] or {}, c["env"] or {}
        changed = ["-" if c["changed"] is None else str(c["changed"])] if keyed else []
        rows.append([c["column"], *changed,
                     *(pair(b.get(k), e.get(k)) for k in ("nulls", "sum", "min", "max"))])
    return ["Column", *(["Changed"] if keyed else []), "Nulls", "Sum", "Min", "Max"], rows


def sample_headers(a: dict) -> list[str]:
    """The sample's headers: the partition and the key only when the asset has them."""
    return ["Change", *(["Partition"] if a["partition_column"] else []),
            *(["Key"] if a["key"] else []), "Values"]


def sample_cells(a: dict, s: dict) -> list[str]:
    """A sample row under `sample_headers` ('col: base → env' for a changed one)."""
    if s["change"] == "changed":
        values = "; ".join(f"{k}: {pair(v, s['env'][k])}" for k, v in s["base"].items())
    else:
        values = "; ".join(f"{k}: {number(v)}" for k, v in (s["env"] or s["base"]).items())
    key = ", ".join(f"{k}={number(v)}" for k, v in s["key"].items())
    return [s["change"], *([s["partition"] or "-"] if a["partition_column"] else []),
            *([key] if a["key"] else []), values]


def interesting(a: dict) -> list[dict]:
    """The columns worth a line: some value changed, or a statistic differs between sides."""
    return [c for c in a["columns"] if c["differs"]]

# -- the terminal ------------------------------------------------------------------------


def show(screen, d: dict) -> None:
    """Per asset that differs: its headline, partitions, column changes, statistics, a sample;
    then one line for the assets without a difference."""
    out = screen.out
    out.print(f"[bold]duck diff[/]: {_esc(d['env'])} against {_esc(d['base'])}")
    for a in (a for a in d["assets"] if a["status"] not in ("shared", "same")):
        _asset(screen, a)
    quiet = [a for a in d["assets"] if a["status"] in ("shared", "same")]
    for status in ("same", "shared"):
        names = [a["asset"] for a in quiet if a["status"] == status]
        if names:
            out.print(f"{STATUS_WORDS[status].capitalize()}: {_esc(', '.join(names))}.")
    if not d["assets"]:
        out.print("No selected asset is built on either side.")


def _asset(screen, a: dict) -> None:
    out, width = screen.out, screen.width
    out.print("")
    out.print(f"[bold]{_esc(a['asset'])}[/]: {_esc(headline(a))}")
    if a["partitions"]:
        _show(out, None, *partition_table(a), width)
        _more(out, len(a["partitions"]), "partition(s)")
    if a["schema_changes"]:
        out.print("Columns: " + _esc("; ".join(schema_words(a))))
    if interesting(a):
        _show(out, "Columns (base → env)", *summary_table(a), width)
        _more(out, len(interesting(a)), "column(s)")
    if a["sample"]:
        _show(out, "First rows that differ", sample_headers(a),
              [sample_cells(a, s) for s in a["sample"]], width, SAMPLE_COLUMNS)


def _show(out, title: str | None, headers: list[str], rows: list[list[str]], width: int,
          kinds: dict[str, Column] = COLUMNS) -> None:
    columns = [kinds[h] for h in headers]
    tables.show(out, tables.fit(title, columns, [list(map(_esc, r)) for r in rows], width),
                "duck diff")


def _more(out, total: int, what: str) -> None:
    if total > SHOWN:
        out.print(f"... and {total - SHOWN} more {what} (`duck diff --json` lists them all).")
