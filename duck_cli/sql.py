"""SQL text duck writes itself: quoted identifiers, a partition key as SQL, a slice predicate.

The one owner of quoting and of the predicate that selects partitions, so every module that
reads or replaces a slice (build, audit, checks, the warehouse) says it the same way. Values
are never pasted into SQL: they are bound as named parameters ($partition_start, ...).
"""

from __future__ import annotations

from duck_cli.models import PartitionsDef

KEY_FORMATS = {"hourly": "%Y-%m-%dT%H", "daily": "%Y-%m-%d", "weekly": "%G-W%V", "monthly": "%Y-%m"}


def quote_ident(name: str) -> str:
    """One SQL identifier in double quotes, embedded quotes doubled (dots are part of the name).

    >>> quote_ident('zone_id'), quote_ident('a"b'), quote_ident('a.b')
    ('"zone_id"', '"a""b"', '"a.b"')
    """
    return '"' + name.replace('"', '""') + '"'


def quote_table(name: str) -> str:
    """A possibly schema-qualified relation name, each dotted part quoted.

    >>> quote_table('zone_metrics'), quote_table('raw.trips'), quote_table('a"b')
    ('"zone_metrics"', '"raw"."trips"', '"a""b"')
    """
    return ".".join(quote_ident(part) for part in name.split("."))


PROD = "prod"  # the default environment: the tables every consumer reads


def env_slug(env: str) -> str:
    """An environment's name as it appears in schema names: lower case, '-' and '.' as '_'.

    >>> env_slug('PR-42'), env_slug('dev.anna')
    ('pr_42', 'dev_anna')
    """
    return "".join(c if c.isalnum() or c == "_" else "_" for c in env.lower())


def env_schema(env: str, schema: str = "main") -> str:
    """The schema holding an environment's copy of ``schema``: production's own, else
    '<schema>__<env>' (SQLMesh's convention), so environments never see each other's tables.

    >>> env_schema('prod'), env_schema('pr-42'), env_schema('dev', 'marts')
    ('main', 'main__pr_42', 'marts__dev')
    """
    return schema if env == PROD else f"{schema}__{env_slug(env)}"


def of_environment(schema: str, slug: str) -> bool:
    """Whether ``schema`` belongs to environment ``slug``: its copy of an asset schema (any
    it ever used) or its housekeeping ``_duck__<slug>``.

    >>> [of_environment(s, 'pr') for s in ('marts__pr', '_duck__pr', 'main', 'main__pr2')]
    [True, True, False, False]
    """
    bare = schema.lstrip("_")
    return "__" in bare and bare.split("__", 1)[1] == slug


def relation(name: str, schema: str = "main", env: str = PROD) -> str:
    """The one name of an asset's relation: its schema's copy in environment ``env``, quoted.

    >>> relation('orders'), relation('orders', 'marts', 'pr-42')
    ('"main"."orders"', '"marts__pr_42"."orders"')
    """
    return f"{quote_ident(env_schema(env, schema))}.{quote_ident(name)}"


def split_relation(text: str) -> tuple[str, str]:
    """(schema, name) of ``schema.name`` or of a bare name (in main).

    >>> split_relation('marts.orders'), split_relation('orders')
    (('marts', 'orders'), ('main', 'orders'))
    """
    schema, _, name = text.rpartition(".")
    return schema or "main", name


def search_path(env: str, schemas: tuple[str, ...] = ("main",)) -> str:
    """The search path of a connection building in ``env``: the environment's copies of the
    asset schemas first (an unqualified CREATE lands in its main), then production's, so an
    unqualified read of what the environment did not build falls through to production.

    >>> search_path('prod', ('main', 'marts')), search_path('pr', ('main', 'marts'))
    ('main,marts', 'main__pr,marts__pr,main,marts')
    """
    ordered = ["main"] + [s for s in schemas if s != "main"]
    mine = [env_schema(env, s) for s in ordered] if env != PROD else []
    return ",".join(mine + ordered)


def key_expr(defn: PartitionsDef, col: str | None = None) -> str:
    """SQL turning a partition column's value (or the SQL expression ``col``) into its key.

    >>> from duck_cli.models import StaticPartitions
    >>> key_expr(StaticPartitions(("eu",), column="region"))
    'CAST("region" AS VARCHAR)'
    """
    col = col or quote_ident(defn.column or "partition_key")
    if defn.kind == "static":
        return f"CAST({col} AS VARCHAR)"
    return f"strftime(CAST({col} AS TIMESTAMP), '{KEY_FORMATS[defn.kind]}')"


def slice_predicate(defn: PartitionsDef, params: dict) -> tuple[str, dict]:
    """The WHERE predicate selecting exactly the partitions of ``params`` (see
    ``graph.partitions.sql_params``), with the named parameters it binds.

    >>> from duck_cli.models import StaticPartitions
    >>> slice_predicate(StaticPartitions(("eu", "us"), column="region"),
    ...                 {"partition_keys": ["eu"]})
    ('"region" IN (SELECT unnest($partition_keys))', {'partition_keys': ['eu']})
    """
    col = quote_ident(defn.column)
    if defn.kind == "static":
        return f"{col} IN (SELECT unnest($partition_keys))", {
            "partition_keys": list(params["partition_keys"])}
    return (f"({col} >= $partition_start AND {col} < $partition_end)",
            {"partition_start": params["partition_start"], "partition_end": params["partition_end"]})
