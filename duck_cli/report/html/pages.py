"""The report's overview pages: status (with search), lineage, the runs and one run each."""

from __future__ import annotations

from html import escape

from duck_cli.report.documents import ranges
from duck_cli.report.html import charts, svg
from duck_cli.report.html.asset import link, policy_text, took, when
from duck_cli.report.html.templates import (SEARCH_JS, STATE_COLOURS, badge, json_script, legend,
                                            page, table)

STATES = ("fresh", "warn", "stale", "missing", "failed")
RANK = {"failed": 4, "missing": 3, "stale": 2, "warn": 1, "fresh": 0}
WORST = 50  # the status page lists this many assets that need attention, worst first
GRAPH_LIMIT = 300  # above this many assets, the lineage page draws each product's neighbourhood
PRODUCT_NODES = 60


def index_page(site, status: dict) -> str:
    """The status page: counts, products and their promises, the worst assets, search, runs."""
    s = status["summary"]
    cards = "".join(f'<div class="card" style="--c:{STATE_COLOURS[k]}"><b>{s[k]:,}</b>'
                    f"<span>{k}</span></div>" for k in STATES)
    body = [f"<h1>Status of {escape(site.title)}</h1>",
            f'<p class="muted">{s["assets"]:,} assets, {len(status["products"])} data products, '
            f"at {escape(status['now'])}</p>", f'<div class="cards">{cards}</div>',
            "<h2>Data products</h2>", _products(site, status["products"]),
            "<h2>Needs attention</h2>", _worst(status["assets"]),
            "<h2>All assets</h2>", search_box(status["assets"]),
            "<h2>Recent runs</h2>", runs_table(site, site.runs[:10], ""),
            '<p><a href="runs.html">All recent runs</a> · <a href="graph.html">Lineage</a></p>']
    return page(f"duck status: {site.title}", "".join(body), site.stamp)


def _products(site, products: list[dict]) -> str:
    rows = []
    for p in products:
        policy = site.state.project.products[p["name"]].freshness
        assets = ", ".join(f"{link(a, '')} {badge(st)}"
                           for a, st in zip(p["assets"], p["asset_states"]))
        rows.append([f"<b>{escape(p['name'])}</b>", escape(p["owner"] or ""), badge(p["state"]),
                     _promise(policy, p["freshness"]), assets])
    return table(["Product", "Owner", "State", "Promise", "Assets"], rows,
                 empty="No data products declared.")


def _promise(policy, result: dict | None) -> str:
    if policy is None:
        return '<span class="muted">no freshness promise</span>'
    text = f"{escape(policy_text(policy))}"
    if result is None:
        return text
    nxt = f"<br><span class=\"muted\">next deadline {escape(result['next_deadline'])}</span>" \
        if result.get("next_deadline") else ""
    return f"{text}: {badge(result['state'])}<br>{escape(result['message'])}{nxt}"


def worst_first(assets: list[dict]) -> list[dict]:
    """Assets that need attention, worst state first, then most unhealthy partitions."""
    def state(a: dict) -> str:
        return "warn" if a["state"] == "fresh" and _warns(a) else a["state"]

    bad = [a for a in assets if state(a) != "fresh"]
    return sorted(bad, key=lambda a: (-RANK[state(a)], -_unhealthy(a), a["name"]))


def _warns(a: dict) -> bool:
    return bool(a["checks"]["warned"]) or (a["freshness"] or {}).get("state") == "warn"


def _unhealthy(a: dict) -> int:
    p = a["partitions"]
    return p["stale"] + p["missing"] + p["failed"]


def _worst(assets: list[dict]) -> str:
    worst = worst_first(assets)
    rows = [[link(a["name"], ""), badge(a["state"]) + (" " + badge("warn") if _warns(a) else ""),
             escape(a["kind"]), escape(a["owner"] or ""),
             f"{_unhealthy(a):,} of {a['partitions']['total']:,}" if a["partitioned"] else "",
             escape(_why(a))] for a in worst[:WORST]]
    more = f'<p class="muted">{len(worst) - WORST:,} more: search below.</p>' \
        if len(worst) > WORST else ""
    return table(["Asset", "State", "Kind", "Owner", "Unhealthy partitions", "Why / blocked by"],
                 rows, empty="Nothing: every asset is fresh.") + more


def _why(a: dict) -> str:
    if a["blockers"]:
        b = a["blockers"][0]
        where = f"{b['asset']} {b['partition'] or ''}".strip()
        return f"blocked by {where}: {b['message']}"
    return "; ".join(r["message"] for r in a["reasons"][:2]) or "; ".join(
        f"check {c} warns" for c in a["checks"]["failing"])


def search_box(assets: list[dict]) -> str:
    """The search box, its results table, every asset as inline JSON and the filter script."""
    rows = [[a["name"], a["state"], a["kind"], a["owner"] or "", " ".join(a["tags"]),
             " ".join([a["name"], a["state"], a["kind"], a["owner"] or "", *a["tags"]]).lower()]
            for a in assets]
    return ('<p><input id="q" type="search" placeholder="Search assets: name, state, owner, kind, '
            'tag (words must all match)" autocomplete="off"></p><p id="count" class="muted"></p>'
            '<table><thead><tr><th>Asset</th><th>State</th><th>Kind</th><th>Owner</th>'
            '<th>Tags</th></tr></thead><tbody id="results"></tbody></table>'
            + json_script("asset-index", rows) + json_script("state-colours", STATE_COLOURS)
            + f"<script>{SEARCH_JS}</script>")


def graph_page(site) -> str:
    """The lineage: one drawing of every asset, or each product's neighbourhood when big."""
    g, project = site.state.graph, site.state.project
    products = {p.name: p.assets for p in project.products.values()}
    key = legend(["fresh", "stale", "missing", "failed"]) + \
        '<p class="muted">Rounded ends: sources. Dashed: data products. Click an asset.</p>'
    if len(g.order) <= GRAPH_LIMIT:
        drawing = svg.lineage(list(g.order), g.upstream, site.states, site.sources,
                              lambda n: f"assets/{n}.html", products)
        body = f'<h1>Lineage</h1>{key}<div class="scroll">{drawing}</div>'
    else:
        body = (f"<h1>Lineage</h1><p>{len(g.order):,} assets are too many for one drawing: each "
                "asset's page draws its neighbourhood; below, each data product with its nearest "
                f"upstream.</p>{key}" + "".join(_product_graph(site, p, a)
                                                 for p, a in products.items()))
    return page("duck lineage", body, site.stamp)


def _product_graph(site, product: str, assets: tuple[str, ...]) -> str:
    g = site.state.graph
    near: set[str] = set(assets)
    frontier = list(assets)
    while frontier and len(near) < PRODUCT_NODES:
        frontier = [u for n in frontier for u in g.upstream[n] if u not in near]
        near.update(frontier[:PRODUCT_NODES - len(near)])
    drawing = svg.lineage(g.ordered(near), g.upstream, site.states, site.sources,
                          lambda n: f"assets/{n}.html", {product: assets})
    return f'<h2>{escape(product)}</h2><div class="scroll">{drawing}</div>'


def runs_table(site, runs, root: str) -> str:
    """Runs, newest first, each linked to its timeline."""
    rows = [[f'<a href="{root}runs/{escape(r.run_id)}.html">{escape(r.run_id)}</a>',
             escape(r.command), badge(r.status), escape(when(r.started_at)),
             escape(took(r)),
             f"{len(site.run_steps.get(r.run_id, ())):,}", escape(r.args or ""),
             escape(r.error or "")] for r in runs]
    return table(["Run", "Command", "Status", "Started", "Took", "Steps", "Arguments", "Error"],
                 rows, empty="No runs yet.")


def runs_page(site) -> str:
    """The recent runs."""
    body = (f"<h1>Recent runs</h1><p class=\"muted\">The newest {len(site.runs)} runs, each with "
            "its timeline; <code>duck runs</code> lists them all.</p>"
            + runs_table(site, site.runs, ""))
    return page("duck runs", body, site.stamp)


def run_page(site, run) -> str:
    """One run: its timeline (a Gantt chart of its steps) and its steps."""
    steps = site.run_steps.get(run.run_id, [])
    assets = site.state.project.assets

    def label(s) -> str:
        keys = [k for k in s.partitions if k]
        defn = assets[s.asset].partitions if s.asset in assets else None
        return f"{s.asset} {', '.join(ranges(defn, keys))}".strip()

    rows = [[str(s.step), link(s.asset, "../") if s.asset in assets else escape(s.asset),
             escape(label(s)[len(s.asset):].strip()), badge(s.status), escape(when(s.started_at)),
             escape(took(s)), "" if s.row_count is None else f"{s.row_count:,}",
             escape(s.error or "")] for s in steps]
    head = (f"<h1>Run {escape(run.run_id)} {badge(run.status)}</h1><p>"
            f"<code>duck {escape(run.args or run.command)}</code> started "
            f"{escape(when(run.started_at))}, took {escape(took(run))}</p>")
    body = (head + "<h2>Timeline</h2>" + legend(["success", "failed", "skipped", "running"])
            + f'<div class="scroll">{charts.gantt(steps, label)}</div>'
            + "<h2>Steps</h2>" + table(["Step", "Asset", "Partitions", "Status", "Started",
                                        "Took", "Rows", "Error"], rows, empty="No steps."))
    return page(f"run {run.run_id}: duck", body, site.stamp, root="../")
