"""The lineage graph as plain SVG: layers by topological depth, coloured by health.

Each asset sits in the layer one past its deepest upstream; within a layer, nodes are ordered by
the mean position of their upstreams (one barycentre pass), which keeps most edges short
without a layout library. Data products sit in a last layer, fed by the assets they publish.
"""

from __future__ import annotations

from html import escape
from typing import Callable, Iterable, Mapping

from duck_cli.report.html.templates import STATE_COLOURS, clip

W, H, GAP_X, GAP_Y, PAD = 176, 30, 64, 18, 12
FIT = 1800  # a drawing up to this wide shrinks to the page; a wider one scrolls
NEIGHBOURS = 30  # an asset page draws at most this many nodes around the asset


def depths(order: Iterable[str], upstream: Mapping[str, Iterable[str]]) -> dict[str, int]:
    """Each node's layer: 0 without upstream (among the nodes), else 1 + its deepest upstream.

    >>> depths(["a", "b", "c"], {"a": [], "b": ["a"], "c": ["a", "b"]})
    {'a': 0, 'b': 1, 'c': 2}
    """
    out: dict[str, int] = {}
    for n in order:
        ups = [out[u] for u in upstream[n] if u in out]
        out[n] = 1 + max(ups) if ups else 0
    return out


def layers(order: list[str], upstream: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Nodes per layer, each layer ordered by the barycentre of its upstreams' positions.

    >>> layers(["a", "b", "x", "y"], {"a": [], "b": [], "x": ["b"], "y": ["a"]})
    [['a', 'b'], ['y', 'x']]
    """
    depth = depths(order, upstream)
    out: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for n in order:
        out[depth[n]].append(n)
    position: dict[str, float] = {}
    for i, layer in enumerate(out):
        if i:
            layer.sort(key=lambda n: (_centre(upstream[n], position), n))
        position.update((n, j) for j, n in enumerate(layer))
    return out


def _centre(ups: Iterable[str], position: Mapping[str, float]) -> float:
    placed = [position[u] for u in ups if u in position]
    return sum(placed) / len(placed) if placed else 0.0


def neighbourhood(name: str, upstream: Mapping[str, Iterable[str]],
                  downstream: Mapping[str, Iterable[str]], limit: int = NEIGHBOURS) -> set[str]:
    """The asset, its upstream and downstream up to two steps away: at most ``limit`` nodes,
    two thirds of them upstream, so the drawing stays five layers wide at most.

    >>> up = {"a": [], "b": ["a"], "c": ["b"], "d": ["c"]}
    >>> sorted(neighbourhood("d", up, {"a": ["b"], "b": ["c"], "c": ["d"], "d": []}))
    ['b', 'c', 'd']
    """
    near = _walk(name, upstream, limit * 2 // 3) | _walk(name, downstream, limit // 3)
    return near | {name}


def _walk(name: str, edges: Mapping[str, Iterable[str]], cap: int, depth: int = 2) -> set[str]:
    seen: set[str] = set()
    frontier = [name]
    for _ in range(depth):
        frontier = [m for n in frontier for m in edges[n] if m not in seen and m != name]
        for m in frontier:
            if len(seen) >= cap:
                return seen
            seen.add(m)
    return seen


def lineage(order: list[str], upstream: Mapping[str, Iterable[str]],
            states: Mapping[str, str], sources: set[str], href: Callable[[str], str],
            products: Mapping[str, tuple[str, ...]] | None = None, focus: str | None = None,
            fit: bool = False) -> str:
    """An SVG of ``order``'s assets (edges among them) and the products that publish them;
    ``fit`` shrinks it to the page whatever its width (else only up to FIT pixels)."""
    chosen = set(order)
    ups = {n: [u for u in upstream[n] if u in chosen] for n in order}
    grid = layers(order, ups)
    shown = {p: [a for a in assets if a in chosen] for p, assets in (products or {}).items()}
    shown = {p: a for p, a in shown.items() if a}
    if shown:
        grid.append(sorted(shown))
    at = {n: (PAD + i * (W + GAP_X), PAD + j * (H + GAP_Y))
          for i, layer in enumerate(grid) for j, n in enumerate(layer)}
    edges = [(u, n) for n in order for u in ups[n]] + [(a, p) for p, a_s in shown.items()
                                                       for a in a_s]
    width = PAD * 2 + len(grid) * (W + GAP_X) - GAP_X
    height = PAD * 2 + max((len(layer) for layer in grid), default=0) * (H + GAP_Y) - GAP_Y
    fit = ' style="max-width:100%;height:auto"' if fit or width <= FIT else ""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="lineage" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}"{fit} role="img" '
             'aria-label="lineage graph">', _ARROW]
    parts += [_edge(at[u], at[v]) for u, v in edges]
    parts += [_node(n, at[n], states.get(n, "unknown"), n in sources, n == focus, href(n))
              for n in order]
    parts += [_product(p, at[p]) for p in shown]
    parts.append("</svg>")
    return "".join(parts)


_ARROW = ('<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
          'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#8c959f"/>'
          '</marker></defs>')


def _edge(a: tuple[int, int], b: tuple[int, int]) -> str:
    x1, y1, x2, y2 = a[0] + W, a[1] + H // 2, b[0], b[1] + H // 2
    if x2 - x1 <= GAP_X:  # next layer: one curve
        mid = (x1 + x2) // 2
        d = f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2 - 2},{y2}"
    else:  # across layers: along the gap below the lower row, not behind the nodes between
        lane, q = max(a[1], b[1]) + H + GAP_Y // 2, GAP_X // 2
        d = (f"M{x1},{y1} C{x1 + q},{y1} {x1 + q},{lane} {x1 + GAP_X},{lane} "
             f"L{x2 - GAP_X},{lane} C{x2 - q},{lane} {x2 - q},{y2} {x2 - 2},{y2}")
    return (f'<path d="{d}" fill="none" stroke="#8c959f" stroke-width="1.2" '
            'marker-end="url(#arrow)"/>')


def _node(name: str, xy: tuple[int, int], state: str, source: bool, focus: bool,
          link: str) -> str:
    x, y = xy
    colour = STATE_COLOURS.get(state, STATE_COLOURS["unknown"])
    radius = H // 2 if source else 5
    stroke = ' stroke="#1f2328" stroke-width="3"' if focus else ""
    label = clip(name, 24)
    # asset names are identifiers (the manifest schema's name pattern): nothing to escape, and
    # skipping html.escape here saves a third of the report's time on 10,000 assets
    return (f'<a href="{link}" class="node" data-state="{state}">'
            f"<title>{name}: {state}{' (source)' if source else ''}</title>"
            f'<rect x="{x}" y="{y}" width="{W}" height="{H}" rx="{radius}" fill="{colour}"'
            f'{stroke}/><text x="{x + W // 2}" y="{y + H // 2 + 4}" fill="#fff" '
            f'text-anchor="middle">{label}</text></a>')


def _product(name: str, xy: tuple[int, int]) -> str:
    x, y = xy
    label = clip(name, 22)
    return (f'<g class="product"><title>data product {escape(name)}</title>'
            f'<rect x="{x}" y="{y}" width="{W}" height="{H}" rx="3" fill="#fff" '
            f'stroke="#6639ba" stroke-width="2" stroke-dasharray="5 3"/>'
            f'<text x="{x + W // 2}" y="{y + H // 2 + 4}" fill="#6639ba" text-anchor="middle">'
            f"&#9670; {escape(label)}</text></g>")
