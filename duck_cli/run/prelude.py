"""What every warehouse connection of a command starts with: variables and macros."""

from __future__ import annotations

from duck_cli.errors import ManifestError, Problem
from duck_cli.manifest.macros import session_sql
from duck_cli.models import Project
from duck_cli.sql import quote_ident
from duck_cli.state.warehouse import Warehouse


def prepare_connection(wh: Warehouse, project: Project) -> None:
    """Bind duck.yaml's vars and --var values as DuckDB variables and create the project's
    macros, on this connection and every worker connection made from it."""
    from duck_cli.engine import duckdb

    statements = [(f"SET VARIABLE {quote_ident(name)} = $value", {"value": value})
                  for name, value in sorted(project.settings.vars.items())]
    try:
        wh.prepare(statements, [session_sql(m) for m in project.macros])
    except duckdb.Error as err:
        raise _macro_error(project, err) from None


def create_macros(con, project: Project, names: tuple[str, ...]) -> None:
    """(Re)create the macros a step calls, now that the tables they read exist."""
    for macro in project.macros:
        if macro.name in names:
            con.execute(session_sql(macro))


def _macro_error(project: Project, err: Exception) -> ManifestError:
    macro = next((m for m in project.macros if m.name.lower() in str(err).lower()), None)
    where = f" ({macro.file}:{macro.line})" if macro else ""
    return ManifestError([Problem(
        f"cannot create the session's variables and macros{where}: {str(err).splitlines()[0]}",
        macro.file if macro else None, macro.line if macro else None,
        "Fix the macro's SQL; duck creates every macro in macros/*.sql at the start of each "
        "command.")])
