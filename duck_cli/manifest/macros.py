"""Reusable SQL as DuckDB macros: ``macros/*.sql`` files of ``CREATE MACRO`` statements.

Each statement defines one scalar or table macro. duck creates them as temporary macros in
every session (``CREATE OR REPLACE TEMP MACRO``), so the warehouse file holds no copy that
could drift from the text, and records which assets call which macro: a macro's text is part
of the code version of every asset that calls it, directly or through another macro.
"""

from __future__ import annotations

import re
from pathlib import Path

from duck_cli.errors import Problem
from duck_cli.models import Macro
from duck_cli.manifest.sqlparse import SqlSyntaxError, split_statements

MACRO_DIR = "macros"
_LEADING = re.compile(r"\A(?:\s+|--[^\n]*|/\*.*?\*/)*", re.DOTALL)  # space and comments
_HEAD = re.compile(r"^\s*create\s+(?:or\s+replace\s+)?(?:temp(?:orary)?\s+)?(?:macro|function)\s+"
                   r"(?:(?:main|temp)\.)?(\"(?:[^\"]|\"\")+\"|[A-Za-z_][A-Za-z0-9_]*)",
                   re.IGNORECASE)


def macro_files(root: Path) -> list[tuple[str, bytes]]:
    """(path relative to root, bytes) of every ``macros/*.sql`` file, sorted by path."""
    folder = root / MACRO_DIR
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob("*.sql")):
        try:
            out.append((path.relative_to(root).as_posix(), path.read_bytes()))
        except OSError:
            continue
    return out


def read_macros(files: list[tuple[str, bytes]]) -> tuple[list[Macro], list[Problem]]:
    """The macros the files define, and what is wrong with them (file:line)."""
    macros: list[Macro] = []
    problems: list[Problem] = []
    for file, data in files:
        found, problem = _macros_in(file, data)
        if problem is not None:
            problems.append(problem)
        for macro in found:
            if any(m.name.lower() == macro.name.lower() for m in macros):
                problems.append(Problem(f"macro '{macro.name}' is defined twice", file, macro.line,
                                        "Keep one definition per macro name."))
            else:
                macros.append(macro)
    return macros, problems


def _macros_in(file: str, data: bytes) -> tuple[list[Macro], Problem | None]:
    """The macros of one file, or the first problem that stops reading it."""
    try:
        text = data.decode("utf-8")
        statements = split_statements(text)
    except UnicodeDecodeError:
        return [], Problem("the macro file is not UTF-8 text", file, 1, "Save it as UTF-8.")
    except SqlSyntaxError as err:
        return [], Problem(f"SQL syntax error: {err.message}", file, 1,
                           "Fix the macro's SQL; each statement is one CREATE MACRO.")
    out, offset = [], 0
    for query in statements:
        start = text.find(query, offset)
        offset = start + len(query)
        sql = _LEADING.sub("", query)
        line = text.count("\n", 0, start + len(query) - len(sql)) + 1
        head = _HEAD.match(sql)
        if head is None:
            return out, Problem("a macro file holds only CREATE MACRO statements", file, line,
                                "For example: CREATE MACRO cents(x) AS round(x * 100);")
        out.append(Macro(_unquote(head.group(1)), sql.strip().rstrip(";").strip(), file, line))
    return out, None


def _unquote(name: str) -> str:
    """A macro name as DuckDB knows it.

    >>> _unquote('"My Macro"'), _unquote('cents')
    ('My Macro', 'cents')
    """
    return name[1:-1].replace('""', '"') if name.startswith('"') else name


def session_sql(macro: Macro) -> str:
    """The statement creating the macro for one session: a temporary macro, replaced freely.

    >>> session_sql(Macro("cents", "CREATE MACRO cents(x) AS x * 100", "macros/m.sql", 1))
    'CREATE OR REPLACE TEMP MACRO cents(x) AS x * 100'
    """
    head = _HEAD.match(macro.sql)
    name = head.group(1) if head else macro.name
    rest = macro.sql[head.end():] if head else ""
    return f"CREATE OR REPLACE TEMP MACRO {name}{rest}"


def called(sql: str, macros: list[Macro]) -> list[str]:
    """Names of the macros ``sql`` calls, directly or through other macros.

    >>> m = [Macro("cents", "CREATE MACRO cents(x) AS x * 100", "f", 1),
    ...      Macro("euros", "CREATE MACRO euros(x) AS cents(x) / 100", "f", 2)]
    >>> called("select euros(amount) from t", m)
    ['cents', 'euros']
    """
    found: set[str] = set()
    todo = [sql]
    while todo:
        text = todo.pop()
        for macro in macros:
            if macro.name not in found and _calls(text, macro.name):
                found.add(macro.name)
                todo.append(macro.sql[_body_start(macro.sql):])
    return sorted(found)


def _calls(sql: str, name: str) -> bool:
    return re.search(rf"(?<![\w.\"]){re.escape(name)}\s*\(", sql, re.IGNORECASE) is not None


def _body_start(sql: str) -> int:
    """Where a macro's body starts (after its own name, so it does not call itself)."""
    head = _HEAD.match(sql)
    return head.end() if head else 0
