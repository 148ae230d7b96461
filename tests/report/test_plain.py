"""The plain run summary (no rich) prints exactly what rich prints, whenever it draws at all."""

from __future__ import annotations

import io

from hypothesis import given, settings, strategies as st

from duck_cli.report import plain, tables
from duck_cli.report.runs import RESULT_COLUMNS
from duck_cli.report.style import make_console

TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30)


def rich_lines(title: str, rows: list[list[str]], width: int) -> str:
    out = io.StringIO()
    console = make_console(out, width, None, False)
    tables.show(console, tables.fit(title, RESULT_COLUMNS, rows, width), "duck backfill")
    return out.getvalue()


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.lists(TEXT, min_size=6, max_size=6), min_size=1, max_size=4),
       width=st.integers(min_value=20, max_value=140))
def test_the_plain_table_is_the_rich_table(rows, width):
    drawn = plain.table("run r00001: success", [c.header for c in RESULT_COLUMNS],
                        [c.justify for c in RESULT_COLUMNS], rows, width)
    if drawn is not None:
        assert "".join(line + "\n" for line in drawn) == rich_lines("run r00001: success", rows,
                                                                    width)


def test_a_cell_with_markup_or_too_wide_a_table_is_left_to_rich():
    headers, justify = [c.header for c in RESULT_COLUMNS], [c.justify for c in RESULT_COLUMNS]
    row = ["a", "2026-03-01", "success", "1", "0.01", ""]
    assert plain.table("t", headers, justify, [row], 120) is not None
    assert plain.table("t", headers, justify, [row[:5] + ["[red]x[/]"]], 120) is None
    assert plain.table("t", headers, justify, [row[:5] + ["é"]], 120) is None
    assert plain.table("t", headers, justify, [row], 30) is None
