"""The package's folders are the pipeline's layers: each imports only the layers named for it.

Every import of a duck module counts, function-level ones included (read from the AST), and
outside ``cli/`` duck's own imports sit at the top of the module, so a cycle fails at import
time. The internal import graph has no cycle.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "duck_cli"
FOUNDATION = {"errors", "models", "records", "engine", "sql", "code_version", "__init__"}
ALLOWED = {
    "foundation": set(),
    "manifest": {"foundation"},
    "graph": {"foundation"},
    "health": {"foundation", "graph"},
    "plan": {"foundation", "graph", "health"},
    "state": {"foundation", "graph"},
    "run": {"foundation", "manifest", "graph", "health", "plan", "state"},
    "report": {"foundation", "manifest", "graph", "health", "plan", "state", "run"},
    "cli": {"foundation", "manifest", "graph", "health", "plan", "state", "run", "report"},
}
# Heavy modules that stay lazy like third-party ones: DuckDB's engine, the manifest schema
# compiled to Python (about 30 ms to import) and the validation stages (entries, rules, schema,
# SQL: about 20 ms); a project read from the validation cache needs neither. The lake's module
# (with its tables and configuration, about 5 ms) loads only for a project with a lake.
LAZY = {"duck_cli.engine", "duck_cli.manifest.compiled", "duck_cli.manifest.validate",
        "duck_cli.state.lake"}
PURE = {"manifest", "graph", "health", "plan"}  # may not reach the database


def _module(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer(module: str) -> str:
    """The layer of a module name such as ``duck_cli.run.build``.

    >>> layer("duck_cli.errors"), layer("duck_cli.run.build"), layer("duck_cli")
    ('foundation', 'run', 'foundation')
    """
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in FOUNDATION:
        return "foundation"
    return parts[1]


def _imports(path: Path):
    """(imported duck module, line, at top level) for every import of duck_cli in a file."""
    tree = ast.parse(path.read_text(), str(path))
    me = _module(path)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    nested = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
              for n in ast.walk(f)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            names = [mod] + [f"{mod}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name == "duck_cli" or name.startswith("duck_cli."):
                yield _resolve(name), node.lineno, id(node) not in nested


def _resolve(name: str) -> str:
    """The longest prefix of ``name`` that is a module or package file."""
    parts = name.split(".")
    while parts:
        path = PACKAGE.parent.joinpath(*parts)
        if path.with_suffix(".py").exists() or (path / "__init__.py").exists():
            return ".".join(parts)
        parts = parts[:-1]
    return name


FILES = sorted(p for p in PACKAGE.rglob("*.py"))


def test_every_module_is_in_a_layer():
    layers = {layer(_module(p)) for p in FILES}
    assert layers <= set(ALLOWED), layers - set(ALLOWED)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_layers(path):
    me = _module(path)
    mine = layer(me)
    bad = []
    for target, line, at_top in _imports(path):
        theirs = layer(target)
        if theirs != mine and theirs not in ALLOWED[mine]:
            bad.append(f"{path.name}:{line} ({mine}) imports {target} ({theirs})")
        elif mine != "cli" and not at_top and target not in LAZY:
            bad.append(f"{path.name}:{line} imports {target} inside a function")
    assert not bad, "\n".join(bad)


def test_no_import_cycle():
    graph = {}
    for path in FILES:
        me = _module(path)
        graph.setdefault(me, set())
        for target, _line, _top in _imports(path):
            if target != me and not me.startswith(target + ".") and target != "duck_cli":
                graph[me].add(target)
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as err:
        pytest.fail("import cycle: " + " -> ".join(err.args[1]))


def test_pure_layers_never_open_the_database():
    bad = [f"{p.relative_to(PACKAGE)}:{line}" for p in FILES if layer(_module(p)) in PURE
           and not p.name == "sqlparse.py"
           for target, line, _top in _imports(p) if target == "duck_cli.engine"]
    assert not bad, bad
