"""JSON Schema validation of manifest documents, with errors turned into readable problems.

The schema (``schemas/manifest.schema.json``) may word its own errors: ``x-messages`` maps a
validator keyword (``oneOf``, ``pattern``, ...) to a message, ``x-hint`` gives the fix.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Sequence

from duck_cli.errors import Problem, did_you_mean
from duck_cli.manifest.read import line_of

try:  # the JSON Schemas ship as package data; in a source tree without an install, from schemas/
    from duck_cli import schemas
except ImportError:  # pragma: no cover
    schemas = None

SCHEMA_FILE = "manifest.schema.json"
_TYPE_NAMES = {"object": "a mapping", "array": "a list", "string": "a text", "integer": "a whole number",
               "number": "a number", "boolean": "true or false", "null": "nothing"}


def load_schema(name: str = SCHEMA_FILE) -> dict[str, Any]:
    """A schema shipped as package data (duck_cli.schemas), or from the source tree's schemas/."""
    return json.loads(schema_text(name))


def schema_text(name: str = SCHEMA_FILE) -> str:
    """The text of a schema file (package data, or the source tree's schemas/)."""
    try:
        return (Path(schemas.__file__).parent / name).read_text(encoding="utf-8")
    except (AttributeError, OSError):  # not installed: the source tree's schemas/
        return (Path(__file__).resolve().parents[2] / "schemas" / name).read_text(encoding="utf-8")


def make_validator(schema: dict[str, Any] | None = None) -> Any:
    """A Draft 2020-12 validator for manifests (jsonschema is imported here: it is slow to import)."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema or inline_refs(load_schema()))


# -- the fast path: the schema compiled to Python -------------------------------------------------
#
# jsonschema costs about 60 ms per command that validates (45 ms of it importing jsonschema,
# referencing and attrs). Most manifests are valid, so a document first goes through the schema
# compiled to plain Python by fastjsonschema (duck_cli/manifest/compiled.py, generated, checked
# in: under 1 ms to import). Only a document it does not accept goes to jsonschema, which decides
# and explains every problem with the schema's own wording. The compiled code is trusted only for
# "valid": tests check that it never accepts what jsonschema rejects.

COMPILED = "compiled.py"


def fast_valid(doc: Any) -> bool:
    """True when the compiled schema accepts ``doc`` (so jsonschema would find nothing)."""
    check = _compiled_check()
    if check is None:
        return False
    try:
        check(doc)
    except Exception:  # noqa: BLE001 - not certainly valid: jsonschema decides, and explains
        return False
    return True


@lru_cache(maxsize=1)
def _compiled_check() -> Any:
    """The compiled validator, unless it was compiled from another version of the schema.

    Imported here, like jsonschema: the generated module costs about 30 ms to import, and a
    command whose project comes from the validation cache never validates."""
    import duck_cli.manifest.compiled as compiled

    return compiled.validate if compiled.SCHEMA_SHA256 == schema_sha256() else None


def schema_sha256() -> str:
    """The SHA-256 of the manifest schema's text (the compiled validator records it)."""
    return hashlib.sha256(schema_text().encode("utf-8")).hexdigest()


_IMPORT = "from fastjsonschema import JsonSchemaValueException, JsonSchemaValuesException"
_EXCEPTIONS = '''
class JsonSchemaValueException(ValueError):
    """The document does not match the schema (jsonschema then says where and why)."""

    def __init__(self, message, value=None, name=None, definition=None, rule=None):
        super().__init__(message)
        self.rule = rule


class JsonSchemaValuesException(ValueError):
    """Several mismatches (raised by a subschema behind a $ref)."""

    def __init__(self, errors):
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors
'''


def compile_schema() -> str:
    """The text of duck_cli/manifest/compiled.py: the manifest schema compiled by fastjsonschema
    (a development dependency), standing alone (its two exception classes defined in place)."""
    import re

    import fastjsonschema

    text = schema_text()
    code = fastjsonschema.compile_to_code(json.loads(text), use_default=False, use_formats=False)
    if code.count(_IMPORT) != 1:
        raise RuntimeError(f"fastjsonschema {fastjsonschema.VERSION}: the generated code no longer "
                           "imports its exceptions as expected; update compile_schema()")
    entry = re.search(r"^def (\w+)\(", code, re.M)  # the first function validates the root
    if entry is None:
        raise RuntimeError("no validation function in the code fastjsonschema generated")
    header = (f'"""GENERATED from schemas/{SCHEMA_FILE} by fastjsonschema {fastjsonschema.VERSION}: '
              'do not edit.\n\nRegenerate after changing the schema: python -m duck_cli.manifest.schema\n'
              '(tests/manifest/test_validate.py fails until you do). See duck_cli.manifest.schema.fast_valid.\n"""\n'
              "# fmt: off\n# flake8: noqa\n\n"
              f'SCHEMA_SHA256 = "{hashlib.sha256(text.encode("utf-8")).hexdigest()}"\n')
    return (header + code.replace(_IMPORT, _EXCEPTIONS).rstrip() + "\n\n\n"
            f"validate = {entry.group(1)}\n")


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with each local ``$ref`` to ``#/$defs/...`` replaced by the definition itself:
    the same checks and messages, without a reference lookup per node (half the time).

    A reference is kept where inlining could change the meaning: a definition that refers to
    itself, or sibling keywords that the definition also has.

    >>> inline_refs({"$defs": {"n": {"type": "integer"}},
    ...              "properties": {"a": {"$ref": "#/$defs/n", "description": "A"}}})["properties"]
    {'a': {'type': 'integer', 'description': 'A'}}
    """
    defs = schema.get("$defs") or {}

    def inline(node: Any, stack: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [inline(v, stack) for v in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        rest = {k: inline(v, stack) for k, v in node.items() if k != "$ref"}
        if isinstance(ref, str) and ref.startswith("#/$defs/") and ref not in stack:
            target = defs.get(ref[len("#/$defs/"):])
            if isinstance(target, dict) and not set(rest) & set(target):
                return {**inline(target, stack + (ref,)), **rest}
        return {**rest, "$ref": ref} if ref is not None else rest

    return inline(schema, ())


def schema_problems(validator: Any, file: str, doc: Any) -> list[tuple[tuple[Any, ...], Problem]]:
    """Every schema violation in ``doc``, each with the JSON path it is at."""
    errors = [_most_specific(err) for err in validator.iter_errors(doc)]
    precise = {tuple(e.absolute_path) for e in errors if e.validator not in _UMBRELLAS}
    # an "exactly one of" error adds nothing when a more precise one sits at the same place
    errors = [e for e in errors if e.validator not in _UMBRELLAS or tuple(e.absolute_path) not in precise]
    found = {(p.line, p.message): (path, p) for err in errors for path, p in _problems(err, file, doc)}
    return sorted(found.values(), key=lambda item: (item[1].line or 0, item[1].message))


_UMBRELLAS = ("oneOf", "anyOf")


def render_path(path: Sequence[Any]) -> str:
    """A JSON path as text.

    >>> render_path(["assets", 1, "materialize"])
    'assets[1].materialize'
    >>> render_path([])
    ''
    """
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _problems(err: Any, file: str, doc: Any) -> Iterable[tuple[tuple[Any, ...], Problem]]:
    path = tuple(err.absolute_path)
    asset = _asset_name(doc, path)
    for where, message, hint in _describe(err):
        prefix = render_path(path)
        text = f"{prefix}: {message}" if prefix else f"top level: {message}"
        yield path, Problem(text, file, line_of(doc, where), hint, asset)


def _most_specific(err: Any) -> Any:
    """Descend through anyOf/oneOf into the branch that fits the value's type, if the schema has no wording."""
    while err.validator in ("anyOf", "oneOf") and err.context and not _custom(err):
        branches: dict[Any, list[Any]] = {}
        for sub in err.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        fitting = [subs for subs in branches.values() if not _type_mismatch(subs, err)]
        if len(fitting) != 1:
            return err
        err = max(fitting[0], key=lambda e: len(e.absolute_path))
    return err


def _type_mismatch(subs: list[Any], parent: Any) -> bool:
    return any(e.validator == "type" and len(e.absolute_path) == len(parent.absolute_path) for e in subs)


def _custom(err: Any) -> str | None:
    schema = err.schema if isinstance(err.schema, dict) else {}
    return (schema.get("x-messages") or {}).get(err.validator)


def _hint(err: Any) -> str | None:
    return err.schema.get("x-hint") if isinstance(err.schema, dict) else None


def _describe(err: Any) -> list[tuple[tuple[Any, ...], str, str | None]]:
    """(path for the line, message, hint) triples for one error."""
    path = tuple(err.absolute_path)
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        return _unknown_fields(err, path)
    custom = _custom(err)
    if custom:
        return [(path, custom, _hint(err))]
    describe = _DESCRIBERS.get(err.validator)
    message = describe(err) if describe else err.message
    return [(path, message, _specific_hint(err) or _hint(err))]


def _unknown_fields(err: Any, path: tuple[Any, ...]) -> list[tuple[tuple[Any, ...], str, str | None]]:
    known = list((err.schema.get("properties") or {}).keys())
    out = []
    for key in err.instance:
        if key not in known:
            hint = did_you_mean(str(key), known) or f"Known fields: {', '.join(known)}."
            out.append((path + (key,), f"unknown field '{key}'", hint))
    return out


def _specific_hint(err: Any) -> str | None:
    if err.validator == "enum":
        return did_you_mean(str(err.instance), [str(v) for v in err.validator_value])
    if err.validator == "type" and "string" in _as_list(err.validator_value):
        return "Quote the value to make it a text." if not isinstance(err.instance, (dict, list)) else None
    return None


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def describe_value(value: Any) -> str:
    """A short description of a YAML value for messages.

    >>> describe_value(7), describe_value("x"), describe_value([1]), describe_value(None)
    ('the number 7', "the text 'x'", 'a list', 'nothing (null)')
    """
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    if value is None:
        return "nothing (null)"
    return {dict: "a mapping", list: "a list"}.get(type(value).__mro__[-2], type(value).__name__)


def _type_message(err: Any) -> str:
    wanted = " or ".join(_TYPE_NAMES.get(t, t) for t in _as_list(err.validator_value))
    return f"must be {wanted}, not {describe_value(err.instance)}"


def _required_message(err: Any) -> str:
    missing = [r for r in err.validator_value if r not in err.instance]
    names = ", ".join(f"'{m}'" for m in missing)
    return f"missing required field{'s' if len(missing) > 1 else ''} {names}"


def _enum_message(err: Any) -> str:
    return f"{err.instance!r} is not one of {', '.join(str(v) for v in err.validator_value)}"


def _unique_message(err: Any) -> str:
    seen: list[Any] = []
    dupes = [v for v in err.instance if v in seen or seen.append(v)]
    return f"lists {dupes[0]!r} more than once" if dupes else "lists a value more than once"


def _one_of_message(err: Any) -> str:
    if not err.context:
        return "matches more than one of the allowed forms"
    kinds = sorted({_TYPE_NAMES.get(t, t) for e in err.context if e.validator == "type"
                    for t in _as_list(e.validator_value)})
    return f"must be {' or '.join(kinds)}, not {describe_value(err.instance)}" if kinds else err.message


_DESCRIBERS = {
    "type": _type_message,
    "required": _required_message,
    "enum": _enum_message,
    "const": lambda e: f"must be {e.validator_value!r}, not {describe_value(e.instance)}",
    "pattern": lambda e: f"{e.instance!r} does not have the expected form",
    "minLength": lambda e: "must not be empty",
    "maxLength": lambda e: f"is longer than {e.validator_value} characters",
    "minItems": lambda e: "must not be empty" if e.validator_value == 1 else f"needs {e.validator_value} items",
    "uniqueItems": _unique_message,
    "minimum": lambda e: f"must be at least {e.validator_value}, not {e.instance}",
    "oneOf": _one_of_message,
    "anyOf": _one_of_message,
}


def _asset_name(doc: Any, path: tuple[Any, ...]) -> str | None:
    if len(path) < 2 or path[0] != "assets" or not isinstance(path[1], int):
        return None
    try:
        name = doc["assets"][path[1]].get("name")
    except (AttributeError, IndexError, KeyError, TypeError):
        return None
    return name if isinstance(name, str) else None


if __name__ == "__main__":  # python -m duck_cli.manifest.schema: regenerate the compiled schema
    _target = Path(__file__).resolve().parent / COMPILED
    _target.write_text(compile_schema(), encoding="utf-8")
    print(f"wrote {_target}")
