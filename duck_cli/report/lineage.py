"""Lineage for people and docs: a rich tree, Mermaid, Graphviz dot, or a JSON document."""

from __future__ import annotations

from duck_cli.health.state import State
from duck_cli.report import documents as docs
from duck_cli.report.style import _esc, styled

_COLOURS = {State.FRESH: "#2e7d32", State.STALE: "#f9a825", State.MISSING: "#c62828",
            State.FAILED: "#b71c1c"}


def _state(health, name: str) -> str | None:
    return health.assets[name].state if health is not None else None


def graph_doc(project, g, names: list[str], health) -> dict:
    """Nodes and edges of the selection (edges only between selected assets)."""
    chosen = set(names)
    nodes = [{"name": n, "relation": project.assets[n].relation, "kind": project.assets[n].kind,
              "owner": project.assets[n].owner,
              "tags": list(project.assets[n].tags), "state": _state(health, n),
              "partitions": project.assets[n].partitions.kind
              if project.assets[n].partitions else None,
              "upstream": [u for u in g.upstream[n] if u in chosen],
              "location": str(project.assets[n].location) if project.assets[n].location else None,
              "description": project.assets[n].description,
              "columns": [{"name": c.name, "type": c.type, "not_null": c.not_null,
                           "description": c.description} for c in project.assets[n].columns]}
             for n in names]
    edges = [{"from": u, "to": n} for n in names for u in g.upstream[n] if u in chosen]
    return docs.doc("graph", nodes=nodes, edges=edges,
                    products=[{"name": p.name, "assets": list(p.assets)}
                              for p in project.products.values()])


def tree(project, g, names: list[str], health):
    """A rich Tree: roots of the selection, each with what depends on it."""
    from rich.tree import Tree


    chosen = set(names)
    top = Tree(f"[bold]{len(names)} assets[/]")

    def label(n: str) -> str:
        a = project.assets[n]
        extra = f" [dim]{a.kind}, {_esc(a.owner or 'no owner')}[/]"
        st = _state(health, n)
        return n + extra + (f" {styled(st)}" if st else "")

    def add(parent, n: str, path: tuple) -> None:
        node = parent.add(label(n))
        for child in g.downstream[n]:
            if child in chosen and child not in path:
                add(node, child, path + (child,))

    for n in names:
        if not any(u in chosen for u in g.upstream[n]):
            add(top, n, (n,))
    return top


def mermaid(project, g, names: list[str], health) -> str:
    """A Mermaid flowchart (left to right), coloured by health when known."""
    chosen = set(names)
    lines = ["flowchart LR"]
    for n in names:
        shape = f"{_mid(n)}[({n})]" if project.assets[n].is_source else f"{_mid(n)}[{n}]"
        lines.append(f"    {shape}")
    for n in names:
        lines += [f"    {_mid(u)} --> {_mid(n)}" for u in g.upstream[n] if u in chosen]
    if health is not None:
        for state, colour in _COLOURS.items():
            members = [_mid(n) for n in names if _state(health, n) == state]
            if members:
                lines.append(f"    classDef {state} fill:{colour},color:#fff")
                lines.append(f"    class {','.join(members)} {state}")
    return "\n".join(lines)


_MERMAID_WORDS = {"end", "graph", "flowchart", "style", "class", "classdef", "click", "subgraph",
                  "direction", "linkstyle", "call", "href"}


def _mid(name: str) -> str:
    """A Mermaid node id: the name, unless Mermaid reads it as a keyword (then prefixed).

    >>> _mid("end"), _mid("End"), _mid("zone_metrics")
    ('asset_end', 'asset_End', 'zone_metrics')
    """
    return f"asset_{name}" if name.lower() in _MERMAID_WORDS else name


def dot(project, g, names: list[str], health) -> str:
    """A Graphviz digraph, coloured by health when known."""
    chosen = set(names)
    lines = ["digraph duck {", "  rankdir=LR;", "  node [shape=box, style=rounded];"]
    for n in names:
        attrs = [f'label="{n}\\n{project.assets[n].kind}"']
        if project.assets[n].is_source:
            attrs.append("shape=cylinder")
        st = _state(health, n)
        if st in _COLOURS:
            attrs += ['style="rounded,filled"', f'fillcolor="{_COLOURS[st]}"', 'fontcolor="white"']
        lines.append(f'  "{n}" [{", ".join(attrs)}];')
    for n in names:
        lines += [f'  "{u}" -> "{n}";' for u in g.upstream[n] if u in chosen]
    lines.append("}")
    return "\n".join(lines)
