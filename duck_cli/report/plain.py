"""A run's summary drawn without rich, for a plain stdout (a file, a pipe, a CI log).

When every cell is plain printable text and the table fits the width, a table is only
characters: the same ones rich draws (a heavy-headed box, one space of padding, none at the
edges). Drawing them here saves a small command a quarter of its imports; anything else (a
terminal, colour, a cell that would wrap or needs escaping, a table that must drop columns)
goes to rich, so the output never depends on which path drew it.
"""

from __future__ import annotations

from typing import Sequence

from duck_cli.report.runs import RESULT_COLUMNS, after_result, result_cells, shown_steps
from duck_cli.report.style import neutral

# rich's box.HEAVY_HEAD: (left, fill, between, right) of each rule and row
_TOP, _HEAD, _RULE = ("┏", "━", "┳", "┓"), ("┃", " ", "┃", "┃"), ("┡", "━", "╇", "┩")
_ROW, _BOTTOM = ("│", " ", "│", "│"), ("└", "─", "┴", "┘")


def run_result(d: dict, result, width: int) -> str | None:
    """The text rich would print for a run with steps and nothing held back, or None when
    only rich can draw it."""
    if not result.results or any(h["status"] != "fresh" for h in d["held"]):
        return None
    steps = shown_steps(d)
    cells = [[neutral(c) for c in row] for row in result_cells(steps)]
    lines = [*after_result(d, steps, result)]
    if not all(map(_plain, lines)) or any(len(line) > width for line in lines):
        return None
    if cells:
        drawn = table(f"run {result.run_id}: {result.status}", [c.header for c in RESULT_COLUMNS],
                      [c.justify for c in RESULT_COLUMNS], cells, width)
        if drawn is None:
            return None
        lines = drawn + lines
    return "".join(line + "\n" for line in lines)


def table(title: str, headers: Sequence[str], justify: Sequence[str],
          rows: Sequence[Sequence[str]], width: int) -> list[str] | None:
    """The lines of a titled table as rich draws it, or None unless every cell is plain and
    the whole fits ``width`` without wrapping.

    >>> table("t", ["A", "N"], ["left", "right"], [["x", "10"]], 40)[1:]
    ['┏━━┳━━━┓', '┃A ┃  N┃', '┡━━╇━━━┩', '│x │ 10│', '└──┴───┘']
    """
    every = [list(headers), *map(list, rows)]
    if not all(_plain(c) for row in every for c in row) or not _plain(title):
        return None
    widths = [max(len(row[i]) for row in every) for i in range(len(headers))]
    pads = [(0 if i == 0 else 1, 0 if i == len(widths) - 1 else 1) for i in range(len(widths))]
    spans = [w + left + right for w, (left, right) in zip(widths, pads)]
    total = sum(spans) + len(spans) + 1
    if total > width or len(title) > total:
        return None
    out = [title.ljust(total), _rule(_TOP, spans), _line(_HEAD, headers, widths, pads, justify),
           _rule(_RULE, spans)]
    out += [_line(_ROW, row, widths, pads, justify) for row in rows]
    return out + [_rule(_BOTTOM, spans)]


def _plain(text: str) -> bool:
    """Text rich prints as it is: printable ASCII, no markup, no emoji code, no escapes, no
    space at either end (rich trims those when it justifies)."""
    return text.isascii() and text.isprintable() and "[" not in text and "\\" not in text \
        and text.count(":") < 2 and text == text.strip()


def _rule(box: tuple[str, str, str, str], spans: list[int]) -> str:
    left, fill, between, right = box
    return left + between.join(fill * s for s in spans) + right


def _line(box: tuple[str, str, str, str], cells: Sequence[str], widths: list[int],
          pads: list[tuple[int, int]], justify: Sequence[str]) -> str:
    left, _fill, between, right = box
    drawn = [" " * lp + (c.rjust(w) if j == "right" else c.ljust(w)) + " " * rp
             for c, w, (lp, rp), j in zip(cells, widths, pads, justify)]
    return left + between.join(drawn) + right
