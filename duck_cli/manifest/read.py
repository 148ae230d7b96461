"""Reads manifest files: YAML documents that remember the line of every key and list item.

The raw document is plain ``dict``/``list`` data (so JSON Schema validates it as is), built from
two subclasses that carry lines: ``Map`` (``.line`` of the mapping, ``.lines[key]`` of each key,
``.value_lines[key]`` of each value) and ``Seq`` (``.line``, ``.lines[i]`` of each item).
``line_of(doc, path)`` maps a JSON path such as ``["assets", 2, "checks", 0]`` to a line.

The YAML dialect is YAML 1.2's core schema: only ``true``/``false`` are booleans (so ``NO`` stays
the string Norway wrote), and dates and ``10:30`` stay strings (no timestamps, no base-60 ints).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from duck_cli.errors import Problem, did_you_mean
from duck_cli.manifest.discover import discover

TOP_LEVEL_KEYS = ("version", "assets", "products")


class Map(dict):
    """A YAML mapping that knows its line and the lines of its keys and values."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.line = 1
        self.lines: dict[Any, int] = {}
        self.value_lines: dict[Any, int] = {}


class Seq(list):
    """A YAML sequence that knows its line and the line of each item."""

    def __init__(self, *args: Any):
        super().__init__(*args)
        self.line = 1
        self.lines: list[int] = []


@dataclass(frozen=True)
class Manifest:
    """One manifest file: its path relative to the root, its bytes and its document (a Map)."""

    file: str
    path: Path
    data: bytes
    doc: Map | None


def line_of(doc: Any, path: Sequence[Any]) -> int:
    """The line of the deepest element of ``path`` that the document knows (1 at worst).

    >>> doc = loads("assets:\\n  - name: a\\n    checks:\\n      - unique: [x]\\n")
    >>> line_of(doc, ["assets", 0, "checks", 0, "unique"]), line_of(doc, ["assets", 0, "nope"])
    (4, 2)
    """
    line = getattr(doc, "line", 1)
    node = doc
    for part in path:
        if isinstance(node, Map) and _has_key(node, part):
            line, node = node.lines.get(part, line), node[part]
        elif isinstance(node, Seq) and isinstance(part, int) and 0 <= part < len(node):
            line, node = node.lines[part], node[part]
        else:
            break
    return line


def value_line(doc: Any, path: Sequence[Any]) -> int:
    """The line where the value at ``path`` starts (a block scalar's first content line).

    >>> value_line(loads("a:\\n  sql: |\\n    select 1\\n"), ["a", "sql"])
    3
    """
    parent = doc
    for part in path[:-1]:
        try:
            parent = parent[part]
        except (KeyError, IndexError, TypeError):
            return line_of(doc, path)
    if isinstance(parent, Map) and _has_key(parent, path[-1]):
        return parent.value_lines.get(path[-1], line_of(doc, path))
    return line_of(doc, path)


def _has_key(node: Map, key: Any) -> bool:
    try:
        return key in node
    except TypeError:
        return False


def loads(text: str | bytes) -> Any:
    """Parse one YAML document into Map/Seq/scalars; raises yaml.YAMLError when malformed.

    >>> loads("a: 2026-03-01\\nb: NO\\nc: 10:30\\nd: [1, true, ~]")
    {'a': '2026-03-01', 'b': 'NO', 'c': '10:30', 'd': [1, True, None]}
    """
    loader = _loader_class()(text)
    loader.duck_depth = None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if "&" in text:  # an anchor, so maybe aliases: size the document before expanding it
            _bounded(node)
        else:  # no node is shared, so no expansion: the constructors count the depth
            loader.duck_depth = 0
        return loader.construct_document(node)
    finally:
        loader.dispose()


MAX_VALUES = 200_000  # values a document may expand to, aliases followed (a "billion laughs")
MAX_DEPTH = 64  # nesting levels of lists and mappings


def _bounded(root: Any) -> None:
    """Refuse a composed document that aliases expand past MAX_VALUES values, that nests
    deeper than MAX_DEPTH or that refers to itself: each node is sized once, so this is
    linear in the text even when the expansion is not."""
    import yaml

    sizes: dict[int, int] = {}
    stack: list[tuple[Any, int, bool]] = [(root, 1, False)]
    open_nodes: set[int] = set()
    while stack:
        node, depth, done = stack.pop()
        kids = _children(node)
        if done:
            open_nodes.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(k)] for k in kids)
            if sizes[id(node)] > MAX_VALUES:
                raise yaml.constructor.ConstructorError(None, None, (
                    f"the document expands to more than {MAX_VALUES:,} values through its "
                    "aliases ('*name')"), node.start_mark)
            continue
        if id(node) in sizes:
            continue
        if depth > MAX_DEPTH or id(node) in open_nodes:
            what = (f"lists and mappings nested more than {MAX_DEPTH} levels deep"
                    if depth > MAX_DEPTH else "an alias that refers to itself")
            raise yaml.constructor.ConstructorError(None, None, f"{what}", node.start_mark)
        open_nodes.add(id(node))
        stack.append((node, depth, True))
        stack.extend((k, depth + 1, False) for k in kids if id(k) not in sizes)


def _deeper(loader: Any, node: Any, step: int) -> None:
    """Enter (``step`` 1) or leave (-1) a list or mapping, refusing one whose items would nest
    past MAX_DEPTH: `_bounded`'s depth rule for a document without anchors, where it is not
    run (each node is constructed once, on the only path to it)."""
    depth = getattr(loader, "duck_depth", None)
    if depth is None:
        return
    if step > 0 and depth + 1 >= MAX_DEPTH and node.value:
        import yaml

        first = node.value[0]
        mark = (first[0] if isinstance(first, tuple) else first).start_mark
        raise yaml.constructor.ConstructorError(
            None, None, f"lists and mappings nested more than {MAX_DEPTH} levels deep", mark)
    loader.duck_depth = depth + step


def _children(node: Any) -> list:
    value = node.value
    if isinstance(value, list):
        return [n for item in value for n in (item if isinstance(item, tuple) else (item,))]
    return []


def read_manifests(root: Path) -> tuple[list[Manifest], list[Problem]]:
    """Read and parse every manifest below ``root``: the documents, and the problems of unreadable ones."""
    manifests, problems = collect(root)
    parsed = []
    for manifest in manifests:
        doc, problem = parse_document(manifest.file, manifest.data)
        parsed.append(Manifest(manifest.file, manifest.path, manifest.data, doc))
        problems += [problem] if problem else []
    return parsed, problems


def collect(root: Path, paths: Iterable[str] = (".",),
            ignore: Iterable[str] = ()) -> tuple[list[Manifest], list[Problem]]:
    """Every manifest's bytes, not parsed yet (``doc`` is None); unreadable files are problems."""
    manifests: list[Manifest] = []
    problems: list[Problem] = []
    for path in discover(root, paths, ignore):
        file = path.relative_to(root).as_posix()
        try:
            manifests.append(Manifest(file, path, path.read_bytes(), None))
        except OSError as err:
            problems.append(Problem(f"cannot read the file: {err.strerror}", file))
    return manifests, problems


def parse_document(file: str, data: bytes, *, manifest: bool = True) -> tuple[Map | None, Problem | None]:
    """Parse a file's bytes: a Map (None for an empty file) or the problem that stops it.

    With ``manifest``, a mapping without 'assets' or 'products' is a problem too.
    """
    try:
        doc = loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        return None, Problem("the file is not UTF-8 text", file, line, "Save it as UTF-8.")
    except _yaml_error() as err:
        return None, yaml_problem(file, err, data)
    if doc is None:
        return None, None
    if not isinstance(doc, Map):
        return None, _top_level_problem(file, doc)
    problem = check_top_level(file, doc) if manifest else None
    return (None, problem) if problem else (doc, None)


def _top_level_problem(file: str, doc: Any) -> Problem:
    kind = "a list" if isinstance(doc, list) else "a single value"
    return Problem(f"the top level is {kind}, not a mapping", file, getattr(doc, "line", 1),
                   "A manifest is a mapping with the keys 'assets' and/or 'products'.")


def check_top_level(file: str, doc: Map) -> Problem | None:
    """The problem of a manifest that declares neither assets nor products (nor check
    definitions), if any."""
    if "assets" in doc or "products" in doc or "check_definitions" in doc:
        return None
    for key in doc:
        close = did_you_mean(str(key), ("assets", "products"))
        if close:
            return Problem(f"unknown top-level key '{key}'", file, doc.lines.get(key, doc.line), close)
    return Problem("the manifest has neither 'assets' nor 'products'", file, doc.line,
                   "Add 'assets:' or 'products:'; if it is not a manifest, list it under "
                   f"'ignore:' in duck.yaml (ignore: [{file}]) or set 'paths:' to the folders "
                   "that hold manifests.")


def yaml_problem(file: str, err: Exception, data: bytes = b"") -> Problem:
    """A YAML syntax error as a Problem: one sentence, the line from the mark, and a hint."""
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    if mark is not None and _at_end(mark, data) and getattr(err, "context_mark", None) is not None:
        mark = err.context_mark  # an unclosed quote or bracket: point where it was opened
    line = mark.line + 1 if mark is not None else None
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    context = getattr(err, "context", None) or ""
    text = f"{problem} ({context})" if context.startswith("while") else problem
    text = f"{context}, {problem}" if problem.startswith("but ") else text
    source_line = _source_line(data, line)
    hint = _yaml_hint(f"{context} {problem}", source_line)
    return Problem(f"YAML syntax error: {text}", file, line, hint)


def _at_end(mark: Any, data: bytes) -> bool:
    rest = data.decode("utf-8", "replace")[getattr(mark, "index", 0):]
    return rest.strip() == ""


def _source_line(data: bytes, line: int | None) -> str:
    lines = data.decode("utf-8", "replace").splitlines()
    return lines[line - 1] if line and 0 < line <= len(lines) else ""


_HINTS = (
    ("duplicate key", "Each key may appear once in a mapping: remove or rename one of them."),
    ("mapping values are not allowed", "Check the indentation, or quote a value that contains ': '."),
    ("expected ':'", "Check for a missing ':' after a key, or an unclosed quote or bracket."),
    ("expected ','", "Check for a missing ',' or an unclosed bracket."),
    ("expected key", "Check the indentation: keys of one mapping must line up."),
    ("expected node content", "Check for an unclosed bracket, or a missing value after ',' or ':'."),
    ("block end", "Check the indentation: items of one list or mapping must line up."),
    ("end of stream", "Close the quote or bracket that is still open."),
    ("single document", "A manifest holds one YAML document: remove the extra '---'."),
    ("through its aliases", "Manifests are small: write the values out rather than nesting "
     "aliases of aliases."),
    ("levels deep", "Flatten the document: manifests need only a few levels."),
    ("refers to itself", "An anchor ('&name') cannot be used inside its own value."),
    ("alias", "Define the anchor ('&name') before using it ('*name')."),
    ("constructor", "Remove the '!tag': manifests hold plain mappings, lists and scalars."),
    ("unhashable", "Keys must be plain scalars such as names."),
)


def _yaml_hint(problem: str, source_line: str) -> str:
    if "\t" in source_line or "'\\t'" in problem:
        return "YAML does not allow tabs for indentation: use spaces."
    if "flow" in problem and re.search(r"[^\s{]\{|\}[^\s},]", source_line):
        return 'Quote values that hold braces, e.g. path: "data/{date}.csv".'

    for needle, hint in _HINTS:
        if needle in problem:
            return hint
    return "Check the indentation and quoting on this line and the one above."


def _yaml_error() -> type[Exception]:
    import yaml

    return yaml.YAMLError


@functools.lru_cache(maxsize=1)
def _loader_class() -> type:
    """The loader: libyaml's parser when available, our constructors and YAML 1.2 core resolvers."""
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[misc, valid-type]
        yaml_implicit_resolvers: dict = {}

    for tag, pattern, first in _CORE_RESOLVERS:
        Loader.add_implicit_resolver(tag, re.compile(pattern, re.X), list(first))
    Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
    Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)
    return Loader


_CORE_RESOLVERS = (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    ("tag:yaml.org,2002:float",
     r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)"
     r"|\.(?:nan|NaN|NAN))$", "-+0123456789."),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:merge", r"^(?:<<)$", "<"),
)


_STR = "tag:yaml.org,2002:str"


def _construct_map(loader: Any, node: Any) -> Map:
    import yaml

    _deeper(loader, node, 1)
    own = sum(1 for key, _ in node.value if key.tag != "tag:yaml.org,2002:merge")
    loader.flatten_mapping(node)
    merged = len(node.value) - own
    result = Map()
    result.line = node.start_mark.line + 1
    own_keys: set[Any] = set()
    for index, (key_node, value_node) in enumerate(node.value):
        key = key_node.value if key_node.tag == _STR \
            else loader.construct_object(key_node, deep=True)  # a plain key is its text
        try:
            duplicate = key in own_keys
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "found an unhashable key", key_node.start_mark) from None
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key}'", key_node.start_mark)
        if index >= merged:
            own_keys.add(key)
        result[key] = loader.construct_object(value_node, deep=True)
        result.lines[key] = key_node.start_mark.line + 1
        result.value_lines[key] = _value_start(value_node)
    _deeper(loader, node, -1)
    return result


def _value_start(node: Any) -> int:
    block = getattr(node, "style", None) in ("|", ">")
    return node.start_mark.line + 1 + (1 if block else 0)


def _construct_seq(loader: Any, node: Any) -> Seq:
    _deeper(loader, node, 1)
    result = Seq(loader.construct_object(child, deep=True) for child in node.value)
    _deeper(loader, node, -1)
    result.line = node.start_mark.line + 1
    result.lines = [child.start_mark.line + 1 for child in node.value]
    return result


def plain(value: Any) -> Any:
    """YAML data as plain dicts and lists (no line-carrying subclasses).

    >>> type(plain(loads("a: [1]")))
    <class 'dict'>
    """
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
