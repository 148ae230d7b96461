"""Tables that fit the terminal they are given: names never wrap, less important columns drop.

A column is a name (never wraps: the width of its longest value is reserved), a short value
(one line, ellipsis if it ever must give way) or the row's wrapping columns (prose that wraps at
word boundaries and takes the rest of the width). As the terminal narrows, columns with a drop
rank leave the table, highest rank first; a dropped column marked ``fold`` carries a notable
value (say, a failed check) into the last wrapping column instead of losing it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

NAME, SHORT, WRAP = "name", "short", "wrap"
WRAP_WANT = 40  # prose gets this much room before optional columns may stay
SEPARATOR = 3  # " │ " between two columns (the box's edges add one character each side)


@dataclass(frozen=True)
class Column:
    """One column: its header, its kind, when it drops, and what of it folds when dropped."""

    header: str
    kind: str = SHORT
    drop: int = 0  # 0: always shown; higher ranks leave first as the terminal narrows
    fold: Callable[[str], bool] | None = None  # dropped: does this (plain) value move to WRAP?
    justify: str = "left"


@dataclass(frozen=True)
class Fitted:
    """A table laid out for a width, and the headers that did not fit."""

    table: object
    dropped: tuple[str, ...]


def plain_width(cell: str) -> int:
    """The widest line of a cell, in terminal cells, markup removed."""
    from rich.text import Text

    return max((Text.from_markup(line).cell_len for line in cell.split("\n")), default=0)


def _longest_word(cell: str) -> int:
    from rich.text import Text

    return max((len(w) for w in Text.from_markup(cell).plain.split()), default=0)


def _natural(col: Column, index: int, rows: Sequence[Sequence[str]]) -> int:
    cells = [r[index] for r in rows]
    widest = max([len(col.header), *map(plain_width, cells)])
    if col.kind != WRAP:
        return widest
    return min(widest, max([WRAP_WANT, *map(_longest_word, cells)]))


def _needed(widths: dict[int, int], keep: list[int]) -> int:
    return sum(widths[i] for i in keep) + SEPARATOR * (len(keep) - 1) + 2


def choose(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int) -> list[int]:
    """Indexes of the columns that fit ``width``, dropping by rank (highest first)."""
    widths = {i: _natural(c, i, rows) for i, c in enumerate(columns)}
    keep = list(range(len(columns)))
    while _needed(widths, keep) > width:
        ranked = [i for i in keep if columns[i].drop]
        if not ranked:
            break
        keep.remove(max(ranked, key=lambda i: (columns[i].drop, i)))
    return keep


def fit(title: str | None, columns: Sequence[Column], rows: Sequence[Sequence[str]],
        width: int) -> Fitted:
    """The table of ``rows`` (markup strings, one per column) laid out for ``width`` cells."""
    from rich.table import Table

    keep = choose(columns, rows, width)
    table = Table(title=title, title_justify="left", pad_edge=False)
    for i in keep:
        _add_column(table, columns[i], _natural(columns[i], i, rows))
    wrap = next((i for i in reversed(keep) if columns[i].kind == WRAP), None)
    for row in rows:
        cells = [row[i] for i in keep]
        if wrap is not None:
            cells[keep.index(wrap)] = _folded(columns, keep, row, wrap)
        table.add_row(*cells)
    return Fitted(table, tuple(c.header for i, c in enumerate(columns) if i not in keep))


def _add_column(table, col: Column, natural: int) -> None:
    if col.kind == WRAP:  # wraps at spaces; a word longer than the column folds, as a last resort
        table.add_column(col.header, overflow="fold", justify=col.justify)
    else:
        table.add_column(col.header, no_wrap=True, overflow="ellipsis", justify=col.justify,
                         min_width=natural if col.kind == NAME else None)


def _folded(columns: Sequence[Column], keep: list[int], row: Sequence[str], wrap: int) -> str:
    from rich.text import Text

    notes = [f"{columns[i].header.lower()}: {row[i]}" for i, c in enumerate(columns)
             if i not in keep and c.fold is not None and c.fold(Text.from_markup(row[i]).plain)]
    return "; ".join([t for t in (row[wrap], *notes) if t])


def show(out, fitted: Fitted, what: str) -> None:
    """Print the table, then say which columns the width left out and where to find them."""
    out.print(fitted.table)
    if fitted.dropped:
        from rich.markup import escape

        out.print(f"[dim]Not shown at this width: {escape(', '.join(fitted.dropped))} "
                  f"(a wider terminal shows them; `{escape(what)} --json` has everything).[/]")
