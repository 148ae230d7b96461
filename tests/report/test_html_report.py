"""`duck report --html DIR`: the static site, checked page by page against what `duck status`,
`duck why` and `duck runs show` say about the same project (a late source file, a failed check).
The browser tests (test_html_browser.py) load the same kind of site in headless Chromium."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest

from conftest import Duck, example_copy
from htmlsite import Elements, troubled_example


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """(duck, the report folder, the report --json document) of the troubled example."""
    base = tmp_path_factory.mktemp("report")
    duck = troubled_example(base / "project")
    out = base / "site"
    doc = duck.json("report", "--html", str(out))
    return duck, out, doc


def read(out: Path, rel: str) -> str:
    return (out / rel).read_text(encoding="utf-8")


def text_of(page: str) -> str:
    """The page's visible words, tags dropped and entities decoded."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def test_the_document_counts_what_status_counts_and_every_page_exists(site):
    duck, out, doc = site
    status = duck.json("status", expect=None)
    runs = duck.json("runs")
    assert doc["kind"] == "report" and doc["index"] == str(out / "index.html")
    assert {k: doc["counts"][k] for k in status["summary"]} == status["summary"]
    assert doc["counts"]["asset_pages"] == len(status["assets"]) == 9
    assert doc["counts"]["run_pages"] == len(runs["runs"]) == 2
    for a in status["assets"]:
        assert (out / "assets" / f"{a['name']}.html").is_file()
    for r in runs["runs"]:
        assert (out / "runs" / f"{r['run_id']}.html").is_file()
    written = sum(1 for _ in out.rglob("*.html"))
    assert written == doc["counts"]["pages"]


def test_the_human_output_says_where_to_open_it(tmp_path):
    duck = Duck(example_copy(tmp_path / "p"))
    out = duck("report", "--html", str(tmp_path / "site")).stdout
    assert "Wrote 12 pages (9 assets, 0 runs)" in out
    assert str(tmp_path / "site" / "index.html") in out


def test_the_status_page_has_counts_products_and_the_worst_assets_first(site):
    duck, out, _doc = site
    status = duck.json("status", expect=None)
    page = read(out, "index.html")
    words = text_of(page)
    for state in ("fresh", "warn", "stale", "missing", "failed"):
        assert f"{status['summary'][state]} {state}" in words
    product = status["products"][0]
    assert "revenue_dashboard" in words and "current by 07:00 Europe/Amsterdam every day" in words
    assert product["freshness"]["next_deadline"] in words
    attention = page.split("<h2>Needs attention</h2>", 1)[1].split("<h2>", 1)[0]
    listed = re.findall(r'href="assets/(\w+)\.html"', attention)
    assert listed[0] == "stg_trips"  # the failed one before the missing ones
    unhealthy = {a["name"] for a in status["assets"] if a["state"] != "fresh"}
    assert set(listed) == unhealthy and len(listed) == len(unhealthy)
    assert "blocked by raw_trips 2026-03-12: source partition 2026-03-12 has not arrived" in words


def test_an_asset_page_tells_its_definition_checks_why_and_runs(site):
    duck, out, _doc = site
    root = duck.root
    page = read(out, "assets/stg_trips.html")
    words = text_of(page)
    for fact in ("team:mobility-analytics", "Trips with typed columns and the trip date",
                 "daily from 2026-03-01 to 2026-03-14 (UTC)", "models/stg_trips.sql"):
        assert fact in words, fact
    sql = (root / "models" / "stg_trips.sql").read_text().strip()
    assert html.escape(sql, quote=False) in page
    checks = page.split("<h2>Checks</h2>", 1)[1].split("<h2>", 1)[0]
    rows = {m[0]: m[1] for m in re.findall(r"<tr><td>(\w+)</td>.*?>(passed|failed|warn)</span>",
                                           checks)}
    assert rows == {"trip_id_present": "passed", "one_row_per_trip": "failed",
                    "short_trips": "failed", "cheap_trips": "warn"}
    why = duck.json("why", "stg_trips")
    for q in why["questions"]:
        assert f"{q['question']} {q['answer']}: {q['detail']}" in words
    assert why["next_action"]["command"] in words
    runs = page.split("<h2>Last runs</h2>", 1)[1]
    assert re.findall(r'href="\.\./runs/(r\d+)\.html"', runs) == ["r00002", "r00001"]


def test_an_asset_page_shows_its_freshness_promise_and_next_deadline(site):
    duck, out, _doc = site
    entry = next(a for a in duck.json("status", expect=None)["assets"]
                 if a["name"] == "zone_metrics")
    words = text_of(read(out, "assets/zone_metrics.html"))
    assert "current by 06:00 Europe/Amsterdam every day" in words
    assert f"Next deadline {entry['freshness']['next_deadline']}" in words
    assert f"State {entry['freshness']['state']}" in words


def test_the_calendar_has_one_cell_per_day_in_its_partition_state(site):
    duck, out, _doc = site
    rows = duck.json("status", "stg_trips", "--partitions", expect=None)["assets"][0]
    expected = {p["partition"]: p["state"] for p in rows["partition_list"]}
    cells = Elements(read(out, "assets/stg_trips.html")).find("rect")
    drawn = {c["data-key"]: c["data-state"] for c in cells if "data-key" in c}
    assert drawn == expected
    assert expected["2026-03-09"] == "failed" and expected["2026-03-12"] == "missing"


def test_the_lineage_colours_every_asset_by_health_and_shows_products(site):
    duck, out, _doc = site
    graph = duck.json("graph", "--health", expect=None)
    page = read(out, "graph.html")
    nodes = {a["href"].removeprefix("assets/").removesuffix(".html"): a["data-state"]
             for a in Elements(page).find("a", **{"class": "node"})}
    assert nodes == {n["name"]: n["state"] for n in graph["nodes"]}
    arrows = page.count('marker-end="url(#arrow)"')
    product_edges = sum(len(p["assets"]) for p in graph["products"])
    assert arrows == len(graph["edges"]) + product_edges
    assert "data product revenue_dashboard" in page


def test_a_run_page_draws_a_bar_per_step_in_its_status(site):
    duck, out, _doc = site
    detail = duck.json("runs", "show", "r00002")
    bars = Elements(read(out, "runs/r00002.html")).find("g", **{"class": "bar"})
    assert [b["data-status"] for b in bars] == [s["status"] for s in detail["steps"]]
    assert "failed" in [b["data-status"] for b in bars]


def test_nothing_is_fetched_from_elsewhere(site):
    _duck, out, _doc = site
    for page in out.rglob("*.html"):
        text = page.read_text()
        links = re.findall(r'(?:src|href)="([^"]*)"', text)
        assert links and not [x for x in links if re.match(r"(?i)^([a-z]+:|//)", x)], page
        for rel in (x.split("#")[0] for x in links):
            assert rel == "" or (page.parent / rel).resolve().is_file(), (page, rel)
        assert "@import" not in text and "url(http" not in text


def test_the_report_rewrites_its_own_folder_but_no_other(tmp_path):
    duck = Duck(example_copy(tmp_path / "p"))
    out = tmp_path / "site"
    duck("report", "--html", str(out))
    (out / "assets" / "ghost.html").write_text("an asset that is gone")
    duck("report", "--html", str(out))
    assert not (out / "assets" / "ghost.html").exists()
    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_bytes(b"\xff\xd8")
    result = duck("report", "--html", str(other), expect=2)
    assert "is not empty and holds no earlier duck report" in result.output
    assert (other / "cat.jpg").exists() and not (other / "index.html").exists()
    assert "needs --html DIR" in duck("report", expect=2).output


def test_a_never_built_project_reports_every_asset_missing(tmp_path):
    duck = Duck(example_copy(tmp_path / "p"))
    doc = duck.json("report", "--html", str(tmp_path / "site"))
    assert doc["counts"]["run_pages"] == 0
    # the two sources' files are there; nothing was built
    assert (doc["counts"]["fresh"], doc["counts"]["missing"]) == (2, 7)
    assert "No runs yet." in read(tmp_path / "site", "assets/stg_trips.html")


def _wide_project(root: Path, n: int) -> None:
    """n view assets in chains of ten below one source, and a product on the last one."""
    root.mkdir(parents=True)
    (root / "seed.csv").write_text("x\n1\n")
    lines = ["assets:", "  - {name: seed, kind: source, source: {path: seed.csv}}"]
    for i in range(n):
        up = "seed" if i % 10 == 0 else f"a{i - 1:04d}"
        lines.append(f"  - {{name: a{i:04d}, deps: [{up}], materialize: {{strategy: view, "
                     f"sql: 'SELECT * FROM {up}'}}}}")
    lines += ["products:", f"  - {{name: last_chain, assets: [a{n - 1:04d}]}}"]
    (root / "assets.yaml").write_text("\n".join(lines) + "\n")


def test_a_big_graph_is_drawn_as_neighbourhoods(tmp_path):
    from duck_cli.report.html import pages, svg

    root = tmp_path / "big"
    _wide_project(root, pages.GRAPH_LIMIT + 10)
    duck = Duck(root)
    duck("report", "--html", str(tmp_path / "site"))
    graph = read(tmp_path / "site", "graph.html")
    assert f"{pages.GRAPH_LIMIT + 11:,} assets are too many for one drawing" in text_of(graph)
    assert len(Elements(graph).find("a", **{"class": "node"})) <= pages.PRODUCT_NODES
    seed = Elements(read(tmp_path / "site", "assets/seed.html")).find("a", **{"class": "node"})
    drawn = {a["href"] for a in seed}
    # 31 chains start at seed: its third of the drawing goes to the first of them
    assert drawn == {"seed.html"} | {f"a{i * 10:04d}.html" for i in range(svg.NEIGHBOURS // 3)}
    middle = Elements(read(tmp_path / "site", "assets/a0015.html")).find("a", **{"class": "node"})
    assert {a["href"] for a in middle} == {f"a00{i}.html" for i in range(13, 18)}
    shutil.rmtree(tmp_path / "site")
