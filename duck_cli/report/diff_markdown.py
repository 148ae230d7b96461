"""`duck diff --github`: the diff as Markdown for the GitHub step summary or a pull-request
comment, short enough to read: a section per asset that differs, lists capped with "and N more".
"""

from __future__ import annotations

from duck_cli.report import ci
from duck_cli.report.diff import (SHOWN, STATUS_WORDS, headline, interesting, partition_table,
                                  sample_cells, sample_headers, schema_words, summary_table)


CELL = 160  # characters of a cell (a wide row's values) before it is cut with "…"


def _cell(text) -> str:
    """Text safe in a Markdown table cell: pipes escaped, one line, at most CELL characters."""
    text = str(text).replace("\n", " ")
    text = text if len(text) <= CELL else text[:CELL - 1] + "…"
    return text.replace("|", "\\|")


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return out + ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]


def _more(total: int, what: str) -> list[str]:
    return ["", f"… and {total - SHOWN} more {what}."] if total > SHOWN else []


def markdown(d: dict) -> list[str]:
    """The whole summary, as Markdown lines."""
    differ = [a for a in d["assets"] if a["status"] not in ("shared", "same")]
    lines = [f"### duck diff: `{d['env']}` against `{d['base']}`", ""]
    lines.append(f"{len(differ)} of {len(d['assets'])} asset(s) differ." if differ
                 else f"No difference in {len(d['assets'])} asset(s).")
    for a in differ:
        lines += ["", *asset_lines(a)]
    for status in ("same", "shared"):
        names = [a["asset"] for a in d["assets"] if a["status"] == status]
        if names:
            lines += ["", f"{STATUS_WORDS[status].capitalize()}: "
                      f"{', '.join(f'`{n}`' for n in names)}."]
    return lines


def asset_lines(a: dict) -> list[str]:
    """One asset: headline, partitions, column changes, statistics, a sample of rows."""
    lines = [f"#### `{a['asset']}`", "", _cell(headline(a))]
    if a["partitions"]:
        lines += ["", *_table(*partition_table(a)), *_more(len(a["partitions"]), "partition(s)")]
    if a["schema_changes"]:
        lines += ["", "Columns: " + "; ".join(f"`{w}`" for w in schema_words(a))]
    if interesting(a):
        lines += ["", *_table(*summary_table(a)), *_more(len(interesting(a)), "column(s)")]
    if a["sample"]:
        rows = [sample_cells(a, s) for s in a["sample"]]
        lines += ["", "First rows that differ:", "", *_table(sample_headers(a), rows)]
    return lines


def write(d: dict, github, stdout) -> None:
    """Append the summary to $GITHUB_STEP_SUMMARY when the job has one, else print it."""
    lines = markdown(d)
    if github is not None and github.summary:
        ci.append_summary(github, lines)
    else:
        stdout.write("\n".join(lines) + "\n")
