"""Code versions: what a version string holds and what changed between two of them.

A version is the hash of what shapes an asset's output (manifest/sql.py), then one part per
declared column (``c.NAME=TYPEHASH[!]``), variable (``v.NAME=HASH``) and macro (``m.NAME=HASH``)
it uses, so that a plan can say what changed in words and tell a breaking change from one its
downstream can ignore.
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote, unquote


def changed_parts(old: str | None, new: str) -> list[str]:
    """What changed between two code versions, in words ("variable region", "macro cents");
    [] when the SQL or settings changed (or the old version predates variables and macros).
    A version is the SQL's hash, then ``v.NAME=HASH`` per variable and ``m.NAME=HASH`` per
    macro it uses (see manifest/variables.py).

    >>> changed_parts("abc v.region=1 m.cents=2", "abc v.region=9 m.cents=2")
    ['variable region']
    >>> changed_parts("abc v.region=1", "abd v.region=1")
    []
    """
    if not old or old.split(" ")[0] != new.split(" ")[0]:
        return []
    before, after = _version_parts(old), _version_parts(new)
    keys = sorted(set(before) | set(after), key=lambda k: (k[0] != "v", k[1]))
    return [f"{_PART_LABELS[k[0]]} {k[1]}" for k in keys
            if k[0] in _PART_LABELS and before.get(k) != after.get(k)]


def contract_part(name: str, type_: str, not_null: bool) -> str:
    """A declared column's part of a code version: its name, a hash of its type, ``!`` when
    it is not_null.

    >>> contract_part("trip date", "date", True)
    'c.trip%20date=17f9a0!'
    """
    text = " ".join(type_.upper().split())
    digest = hashlib.sha256(_ALIASES.get(text, text).encode("utf-8")).hexdigest()[:6]
    return f"c.{quote(name, safe='')}={digest}{'!' if not_null else ''}"


def schema_part(schema: str) -> list[str]:
    """An asset's schema as a part of its code version: none for main (versions made before
    schemas existed stay as they were), ``s.schema=NAME`` otherwise.

    >>> schema_part("main"), schema_part("marts")
    ([], ['s.schema=marts'])
    """
    return [] if schema == "main" else [f"s.schema={schema}"]


def schema_of(version: str | None) -> str:
    """The schema an asset lived in when it was built with this code version.

    >>> schema_of("abc s.schema=marts c.id=1"), schema_of("abc"), schema_of(None)
    ('marts', 'main', 'main')
    """
    return _version_parts(version or "").get(("s", "schema"), "main")


def moved_keys(snapshot, asset) -> dict[str, set[str]]:
    """The partitions of ``asset`` recorded in a schema other than its own, by schema (from
    the code version they were built with)."""
    out: dict[str, set[str]] = {}
    for (name, key), mat in snapshot.current.items():
        if name == asset.name and mat.kind == "materialization":
            schema = schema_of(mat.code_version)
            if schema != asset.schema:
                out.setdefault(schema, set()).add(key)
    return out


def schema_change(old: str | None, new: str) -> str | None:
    """"schema changed main → marts" when the asset moved between two code versions, else None.

    >>> schema_change("abc", "abc s.schema=marts"), schema_change("abc s.schema=marts", "abd s.schema=marts")
    ('schema changed main → marts', None)
    """
    if not old:
        return None
    was, now = schema_of(old), schema_of(new)
    return None if was == now else f"schema changed {was} → {now}"


# DuckDB's names for one type (a contract that says text where it said varchar is unchanged)
_ALIASES = {"TEXT": "VARCHAR", "STRING": "VARCHAR", "CHAR": "VARCHAR", "BPCHAR": "VARCHAR",
            "INT": "INTEGER", "INT4": "INTEGER", "SIGNED": "INTEGER", "INT8": "BIGINT",
            "LONG": "BIGINT", "INT2": "SMALLINT", "SHORT": "SMALLINT", "INT1": "TINYINT",
            "FLOAT8": "DOUBLE", "FLOAT4": "FLOAT", "REAL": "FLOAT", "BOOL": "BOOLEAN",
            "LOGICAL": "BOOLEAN"}


def contract_change(old: str | None, new: str) -> tuple[list[str], bool] | None:
    """How the declared columns changed between two code versions, in words, and whether the
    change breaks what downstream reads (a column removed, its type changed, not_null added or
    dropped, a not_null column added); only nullable columns added is not breaking. None when
    the columns did not change, or the old version has none (it predates column parts).

    >>> contract_change("a c.id=1a2b3c! c.n=4d5e6f", "b c.id=1a2b3c! c.n=4d5e6f c.note=777777")
    (['column note added (nullable)'], False)
    >>> contract_change("a c.id=1a2b3c! c.n=4d5e6f", "a c.id=1a2b3c c.n=000000")
    (['column id not_null dropped', 'column n type changed'], True)
    """
    before, after = _columns(old or ""), _columns(new)
    if not before or before == after:
        return None
    words, breaking = [], False
    for name in sorted(set(before) | set(after)):
        was, now = before.get(name), after.get(name)
        if was == now:
            continue
        word = _column_change(was, now)
        words.append(f"column {unquote(name)} {word}")
        breaking = breaking or word != "added (nullable)"
    return words, breaking


def _column_change(was: str | None, now: str | None) -> str:
    if was is None:
        return "added (not_null)" if now.endswith("!") else "added (nullable)"
    if now is None:
        return "removed"
    if was.rstrip("!") != now.rstrip("!"):
        return "type changed"
    return "not_null added" if now.endswith("!") else "not_null dropped"


def _columns(version: str) -> dict[str, str]:
    return {name: digest for (kind, name), digest in _version_parts(version).items() if kind == "c"}


_PART_LABELS = {"v": "variable", "m": "macro"}


def _version_parts(version: str) -> dict[tuple[str, str], str]:
    out = {}
    for part in version.split(" ")[1:]:
        key, _, digest = part.partition("=")
        kind, _, name = key.partition(".")
        out[(kind, name)] = digest
    return out


KEPT = "kept:"  # the data_version of a rebuild its downstream may ignore: "kept:SEQ"


def kept(seq: int) -> str:
    """The data_version recorded by a rebuild that changed nothing downstream reads (only
    nullable columns added): the sequence number whose data its readers still rely on."""
    return f"{KEPT}{seq}"


def reader_seq(seq: int, data_version: str | None) -> int:
    """The sequence number a materialization shows its readers: its own, or the one a
    non-breaking rebuild kept.

    >>> reader_seq(12, None), reader_seq(12, "kept:7")
    (12, 7)
    """
    if data_version and data_version.startswith(KEPT):
        return int(data_version[len(KEPT):])
    return seq
