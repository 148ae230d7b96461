"""Python references in manifests (``pipelines/forecast.py:forecast``): where the function is,
whether it exists, and the version of its code.

Validation never imports user code (that would run it): the file is parsed with ``ast``. The
version hashes the function's module and every project module it imports (followed through
their imports), so editing a helper re-plans the assets whose code uses it, and nothing else.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass
from pathlib import Path

from duck_cli.errors import did_you_mean
from duck_cli.models import PythonRef


@dataclass(frozen=True)
class RefProblem:
    """Why a reference cannot be used, and how to fix it."""

    message: str
    hint: str


def resolve(root: Path, folder: Path, text: str) -> tuple[PythonRef | None, RefProblem | None, dict[str, bytes]]:
    """The reference ``text`` (FILE.py:FUNCTION, the file relative to ``folder``), the problem
    with it, and the bytes of the files its version covers (the validation cache watches them)."""
    file_text, _, function = text.rpartition(":")
    full = (folder / file_text).resolve()
    if not _inside(root, full):
        return None, RefProblem(f"python '{text}' leaves the project folder",
                                "Keep Python files inside the project folder."), {}
    if not full.is_file():
        near = did_you_mean(file_text, [p.relative_to(folder).as_posix() for p in folder.rglob("*.py")
                                        if ".duck" not in p.parts][:200])
        return None, RefProblem(f"python file '{file_text}' does not exist",
                                near or "Create it, or fix the path (relative to the manifest's folder)."), {}
    return _function_in(root, full, function, text)


def _function_in(root: Path, full: Path, function: str, text: str):
    try:
        tree = ast.parse(full.read_bytes(), filename=str(full))
    except (SyntaxError, ValueError) as err:
        line = getattr(err, "lineno", None)
        return None, RefProblem(f"python file '{_rel(root, full)}' has a syntax error"
                                f"{f' at line {line}' if line else ''}: {getattr(err, 'msg', err)}",
                                "Fix the file; duck reads it before running it."), {}
    names = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if function not in names:
        near = did_you_mean(function, names)
        return None, RefProblem(f"python '{text}': {_rel(root, full)} defines no function '{function}'",
                                near or "Define it at the top level of the file (def NAME(context, ...))."), {}
    files = module_files(root, full)
    return PythonRef(_rel(root, full), function, version_of(files)), None, files


def module_files(root: Path, start: Path) -> dict[str, bytes]:
    """The module at ``start`` and the project modules it imports, transitively (rel -> bytes)."""
    seen: dict[str, bytes] = {}
    todo = [start]
    while todo:
        path = todo.pop()
        rel = _rel(root, path)
        if rel in seen:
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        seen[rel] = data
        todo += _imported_files(root, path, data)
    return seen


def _imported_files(root: Path, path: Path, data: bytes) -> list[Path]:
    """Project files a module imports: ``import a.b`` / ``from a import b`` / ``from . import c``,
    looked up beside the module and from the project root."""
    try:
        tree = ast.parse(data)
    except (SyntaxError, ValueError):
        return []
    found = []
    for node in ast.walk(tree):
        for dotted, bases in _imports(node, path, root):
            for base in bases:
                found += [p for p in _candidates(base, dotted) if _inside(root, p)]
    return found


def _imports(node: ast.AST, path: Path, root: Path) -> list[tuple[str, list[Path]]]:
    if isinstance(node, ast.Import):
        return [(a.name, [path.parent, root]) for a in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = path.parents[node.level - 1] if node.level <= len(path.parents) else root
        mod = node.module or ""
        return [(f"{mod}.{a.name}".strip("."), [base]) for a in node.names] + [(mod, [base])]
    mod = node.module or ""
    return [(mod, [path.parent, root])] + [(f"{mod}.{a.name}", [path.parent, root]) for a in node.names]


def _candidates(base: Path, dotted: str) -> list[Path]:
    if not dotted:
        return []
    stem = base.joinpath(*dotted.split("."))
    return [p for p in (stem.with_name(stem.name + ".py"), stem / "__init__.py") if p.is_file()]


def version_of(files: dict[str, bytes]) -> str:
    """A short hash of some files' names and bytes.

    >>> version_of({"a.py": b"x = 1"}) == version_of({"a.py": b"x = 1"})
    True
    """
    h = hashlib.sha256()
    for rel in sorted(files):
        h.update(rel.encode() + b"\0" + hashlib.sha256(files[rel]).digest())
    return h.hexdigest()[:16]


def _inside(root: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def _rel(root: Path, path: Path) -> str:
    return path.resolve().relative_to(root.resolve()).as_posix()
