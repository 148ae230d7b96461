"""How a check result reads: the check in a few words, what was observed, the message, samples.

Pure text and value helpers for `run.checks` (no database).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from duck_cli.health.wording import format_duration
from duck_cli.models import CheckSpec

UTC = timezone.utc


def label(spec: CheckSpec) -> str:
    """The check in a few words.

    >>> label(CheckSpec("u", "unique", {"columns": ["trip_date", "zone_id"]}))
    'unique(trip_date, zone_id)'
    """
    p = spec.params
    args = {"row_count": lambda: ", ".join(f"{b}={p[b]}" for b in ("min", "max")
                                           if p.get(b) is not None),
            "not_null": lambda: ", ".join(p["columns"]), "unique": lambda: ", ".join(p["columns"]),
            "relationships": lambda: f"{p['column']} -> {p['to']}.{p['field']}",
            "sql": lambda: spec.name, "python": lambda: str(p["python"]), "use": lambda: ", ".join(
                [p["definition"]] + [f"{k}={v}" for k, v in p["args"].items()])}.get(
                    spec.kind, lambda: p.get("column", ""))
    return f"{spec.kind}({args()})"


def observed_text(spec: CheckSpec, failing: int, value: Any) -> str:
    """What the check saw, in a few words."""
    if spec.kind == "row_count":
        return _plural(value["row_count"], "row")
    if spec.kind == "data_freshness":
        return f"max {_moment(value)}" if value["max_value"] is not None else "no rows"
    if spec.kind == "unique":
        return _plural(failing, "duplicate key")
    what = {"not_null": "with nulls", "accepted_values": "with other values",
            "accepted_range": "out of range", "relationships": "without a match",
            "sql": "failing", "use": "failing"}[spec.kind]
    return f"{_plural(failing, 'row')} {what}"


def message_text(spec: CheckSpec, observed: str, failing: int, sample: tuple, value: Any,
             reference: datetime | None) -> str:
    """One sentence: the check, what it saw and, when it failed, an example or the limit."""
    head = f"{label(spec)}: {observed}"
    if failing == 0:
        return head
    if spec.kind == "row_count":
        return f"{head}, expected {_bounds(spec.params)}"
    if spec.kind == "data_freshness":
        return head + _staleness(spec.params["max_age"], value, reference)
    example = _example(spec, sample[0]) if sample else None
    return f"{head}, e.g. {example}" if example else head


def _bounds(p: Mapping[str, Any]) -> str:
    """row_count bounds in words.

    >>> _bounds({"min": 1}), _bounds({"min": 1, "max": 9}), _bounds({"max": 9})
    ('at least 1', 'between 1 and 9', 'at most 9')
    """
    low, high = p.get("min"), p.get("max")
    if low is not None and high is not None:
        return f"between {low} and {high}"
    return f"at least {low}" if low is not None else f"at most {high}"


def _staleness(max_age: timedelta, value: Mapping[str, Any], reference: datetime | None) -> str:
    if value["max_epoch"] is None or reference is None:
        return ""
    age = reference - datetime.fromtimestamp(value["max_epoch"], UTC)
    return (f", {format_duration(age)} before {reference.astimezone(UTC):%Y-%m-%d %H:%M} UTC "
            f"(at most {format_duration(max_age)})")


def _example(spec: CheckSpec, row: Mapping[str, Any]) -> str | None:
    """The failing values of one sample row, as a person reads them."""
    if spec.kind == "unique":
        return "(" + ", ".join(_text(row.get(c)) for c in spec.params["columns"]) + ")"
    if spec.kind in ("accepted_values", "accepted_range", "relationships"):
        return _text(row.get(spec.params["column"]))
    return None


def _moment(value: Mapping[str, Any]) -> str:
    """data_freshness's max value: a date as is, a timestamp to the minute (in UTC if zoned)."""
    if value["max_type"] == "DATE" or value["max_epoch"] is None:
        return str(value["max_value"])
    zoned = "TIME ZONE" in value["max_type"]
    when = datetime.fromtimestamp(value["max_epoch"], UTC)
    return f"{when:%Y-%m-%d %H:%M}" + (" UTC" if zoned else "")


def _plural(n: int, noun: str) -> str:
    """A count with its noun.

    >>> _plural(1, "row"), _plural(3, "duplicate key")
    ('1 row', '3 duplicate keys')
    """
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _text(value: Any) -> str:
    return "NULL" if value is None else str(value)


def jsonable(value: Any) -> Any:
    """A parsed JSON value with NaN and infinities as text (JSON has no such numbers).

    >>> jsonable({"a": float("nan"), "b": [1, 2.5]})
    {'a': 'nan', 'b': [1, 2.5]}
    """
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


def one_line(text: str) -> str:
    """An error text on one line: DuckDB's first paragraph, whitespace collapsed.

    >>> one_line('Binder Error: no "x"\\n\\nLINE 1: SELECT x')
    'Binder Error: no "x"'
    """
    return " ".join(text.strip().split("\n\n")[0].split())
