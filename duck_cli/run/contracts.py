"""Column contracts: the declared columns of an asset against what its SQL produces.

``drift`` compares a contract with a DESCRIBE of a relation or query (names, DuckDB types);
``staged_problems`` adds the NOT NULL columns' NULL counts on staged data, before publish;
``validate_contracts`` describes each asset's SQL without building anything (`duck validate`):
over the warehouse as it is (read-only, if it exists), with empty stand-ins for the upstream
assets that declare their columns but are not built yet.
"""

from __future__ import annotations

from typing import Any, Sequence

from duck_cli.errors import Problem
from duck_cli.graph import partitions as parts
from duck_cli.manifest.macros import session_sql
from duck_cli.models import Asset, ColumnSpec, Project, TimePartitions
from duck_cli.manifest.sqlparse import requalify
from duck_cli.sql import KEY_FORMATS, PROD, quote_ident
from duck_cli.state.schemas import set_search_path


def describe(con, query: str, params: dict | None = None) -> list[tuple[str, str]]:
    """(name, DuckDB type) of each column ``query`` returns, without running it."""
    return [(r[0], r[1]) for r in con.execute(f"DESCRIBE {query}", params or None).fetchall()]


def canonical(con, type_text: str) -> str:
    """DuckDB's own name of a declared type (int -> INTEGER); the schema allows only type-like
    text here, so it is safe in a CAST."""
    return con.execute(f"SELECT typeof(CAST(NULL AS {type_text}))").fetchone()[0]


def drift(con, columns: Sequence[ColumnSpec], actual: list[tuple[str, str]]) -> list[str]:
    """What differs between the contract and the actual columns, one phrase each."""
    found = {name.lower(): (name, typ) for name, typ in actual}
    declared = {c.name.lower() for c in columns}
    out = []
    for col in columns:
        got = found.get(col.name.lower())
        if got is None:
            out.append(f"column '{col.name}' is missing")
        elif col.type and canonical(con, col.type) != got[1]:
            out.append(f"column '{col.name}' is {got[1]}, declared {canonical(con, col.type)}")
    out += [f"column '{name}' is not declared" for key, (name, _t) in found.items()
            if key not in declared]
    return out


def schema_text(con, columns: Sequence[ColumnSpec] | None = None,
                actual: list[tuple[str, str]] | None = None) -> str:
    """A schema as one line: ``(id BIGINT NOT NULL, amount DOUBLE)``."""
    if actual is not None:
        return "(" + ", ".join(f"{n} {t}" for n, t in actual) + ")"
    return "(" + ", ".join(
        f"{c.name} {canonical(con, c.type) if c.type else 'ANY'}"
        + (" NOT NULL" if c.not_null else "") for c in columns or ()) + ")"


def staged_problems(con, asset: Asset, relation: str) -> str | None:
    """Why the staged data breaks the asset's contract (both schemas shown), or None."""
    actual = describe(con, f"SELECT * FROM {relation}")
    found = drift(con, asset.columns, actual)
    if not found:
        found = _nulls(con, asset.columns, relation)
    if not found:
        return None
    where = f" ({asset.location})" if asset.location else ""
    return (f"the staged data does not match the column contract{where}: {'; '.join(found)}. "
            f"Declared {schema_text(con, asset.columns)}; staged {schema_text(con, actual=actual)}. "
            "Fix the SQL, or change the contract (columns:) if the change is meant")


def _nulls(con, columns: Sequence[ColumnSpec], relation: str) -> list[str]:
    required = [c for c in columns if c.not_null]
    if not required:
        return []
    counts = con.execute("SELECT " + ", ".join(
        f"count(*) FILTER (WHERE {quote_ident(c.name)} IS NULL)" for c in required)
        + f" FROM {relation}").fetchone()
    return [f"column '{c.name}' holds {n} NULL(s), declared not_null"
            for c, n in zip(required, counts) if n]


# -- duck validate: contracts against the SQL's own output schema, nothing built -------------


def validate_contracts(project: Project) -> list[Problem]:
    """Drift between each contract and its SQL's output schema, as problems at the contract."""
    declared = [a for a in project.assets.values() if a.columns and a.materialize]
    if not declared:
        return []
    con = _describing_connection(project)
    stand_ins = {(a.schema, a.name.lower()): ("temp", "main") for a in project.assets.values()
                 if _stands_in(a)}
    try:
        return [p for a in declared for p in _asset_problems(con, project, a, stand_ins)]
    finally:
        con.close()


def _describing_connection(project: Project):
    from duck_cli.engine import duckdb

    con = duckdb.connect(":memory:")
    if project.settings.warehouse.exists():
        try:
            con.execute("ATTACH ? AS __duck_wh (READ_ONLY)", [str(project.settings.warehouse)])
            con.execute("USE __duck_wh")
            set_search_path(con, PROD, project.settings.asset_schemas)
        except duckdb.Error:  # locked by a writer, or not a database: stand-ins only
            pass
    for name, value in sorted(project.settings.vars.items()):
        con.execute(f"SET VARIABLE {quote_ident(name)} = $value", {"value": value})
    for asset in project.assets.values():
        if _stands_in(asset):
            cols = ", ".join(f"{quote_ident(c.name)} {c.type}" for c in asset.columns)
            try:
                con.execute(f"CREATE TEMP TABLE {quote_ident(asset.name)} ({cols})")
            except duckdb.Error:
                pass
    for macro in project.macros:
        try:
            con.execute(session_sql(macro))
        except duckdb.Error:
            pass
    return con


def _stands_in(asset: Asset) -> bool:
    """Whether the describing connection has a TEMP stand-in for the asset (typed columns)."""
    return bool(asset.columns) and all(c.type for c in asset.columns)


def _asset_problems(con, project: Project, asset: Asset, stand_ins: dict) -> list[Problem]:
    from duck_cli.engine import duckdb

    loc = asset.location
    # a qualified read of a stand-in (marts.orders) reads it as the unqualified one does
    sql = requalify(asset.materialize.sql, stand_ins) if any(
        "." in t for t in asset.reads) else asset.materialize.sql
    try:
        actual = describe(con, sql, _sample_params(asset, sql))
    except duckdb.Error as err:
        text = str(err).splitlines()[0]
        return [Problem(f"cannot compare its column contract with the SQL: {text}", loc.file,
                        loc.line, "Build the upstream assets, or declare their columns with "
                        "types, so duck can describe this SQL.", asset.name, "warning")]
    phrases = drift(con, asset.columns, actual)
    if not phrases:
        return []
    spot = asset.columns[0].location or loc
    return [Problem(f"the SQL's columns drift from the contract: {'; '.join(phrases)}. Declared "
                    f"{schema_text(con, asset.columns)}; the SQL gives "
                    f"{schema_text(con, actual=actual)}", spot.file, spot.line,
                    "Fix the SQL, or the columns: list.", asset.name)]


def _sample_params(asset: Asset, sql: str) -> dict[str, Any]:
    """The first partition's parameters, for the ones the SQL names."""
    defn = asset.partitions
    if defn is None:
        return {}
    key = (defn.start.strftime(KEY_FORMATS[defn.kind]) if isinstance(defn, TimePartitions)
           else defn.values[0])
    return {k: v for k, v in parts.sql_params(defn, [key]).items() if f"${k}" in sql}
