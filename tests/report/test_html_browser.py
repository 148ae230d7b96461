"""The HTML report in a real browser: headless Chromium (Debian's `chromium` package) loads the
status, asset, lineage and run pages with the network cut off, and the pages log nothing to the
console (no script error, nothing they failed to fetch). The search box is driven through the
URL (`index.html#q=...`) and read back from the DOM after the script ran. A screenshot of the
status page is kept in the test's tmp folder and in .artifacts/ (git-ignored).

Without a browser these tests skip, naming the install line; `.ci/run` sets
DUCK_REQUIRE_BROWSER=1, which turns that skip into a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT
from htmlsite import Elements, troubled_example

INSTALL = "apt-get update && apt-get install -y --no-install-recommends chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--enable-logging=stderr", "--v=0",
         "--host-resolver-rules=MAP * ~NOTFOUND"]  # no network: anything fetched would fail


class Browser:
    """One headless Chromium executable; every load gets its own fresh profile."""

    def __init__(self, exe: str, tmp: Path):
        self.exe, self.tmp, self.loads = exe, tmp, 0

    def load(self, url: str, *flags: str) -> tuple[str, list[str]]:
        """(stdout, the page's console messages) of loading ``url`` with ``flags``."""
        self.loads += 1
        profile = self.tmp / f"profile{self.loads}"
        done = subprocess.run([self.exe, *FLAGS, f"--user-data-dir={profile}", *flags, url],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout, [line for line in done.stderr.splitlines() if ":CONSOLE" in line]

    def dom(self, url: str) -> tuple[str, list[str]]:
        """The DOM after the page's scripts ran, and its console messages."""
        return self.load(url, "--dump-dom")


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Browser:
    exe = _chromium()
    if exe is None:
        reason = f"headless Chromium is not installed; install it with: {INSTALL}"
        if os.environ.get("DUCK_REQUIRE_BROWSER"):
            pytest.fail(f"{reason} (DUCK_REQUIRE_BROWSER is set: the browser tests must run)")
        pytest.skip(reason)
    return Browser(exe, tmp_path_factory.mktemp("chromium"))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    base = tmp_path_factory.mktemp("browsed")
    duck = troubled_example(base / "project")
    duck("report", "--html", str(base / "site"))
    return duck, base / "site"


def test_a_script_error_shows_up_as_a_console_message(browser, tmp_path):
    """The detector the other tests rely on: a page with a broken script is caught."""
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><p>hi</p><script>notDefined();</script>")
    _dom, console = browser.dom(page.as_uri())
    assert any("Uncaught ReferenceError: notDefined is not defined" in line for line in console)


def test_the_status_page_loads_cleanly_and_its_screenshot_is_kept(browser, site, tmp_path):
    _duck, out = site
    shot = tmp_path / "report-status.png"
    _stdout, console = browser.load((out / "index.html").as_uri(), f"--screenshot={shot}",
                                    "--window-size=1280,1300")
    assert console == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    artifacts = ROOT / ".artifacts"
    artifacts.mkdir(exist_ok=True)
    shutil.copy(shot, artifacts / "report-status.png")


def _results(dom: str) -> tuple[list[str], str]:
    body = dom.split('id="results">', 1)[1].split("</tbody>", 1)[0]
    count = re.search(r'id="count"[^>]*>([^<]*)<', dom).group(1)
    return re.findall(r'<a href="assets/(\w+)\.html">', body), count


def test_the_search_box_filters_assets_in_the_browser(browser, site):
    duck, out = site
    status = duck.json("status", expect=None)["assets"]
    index = (out / "index.html").as_uri()
    dom, console = browser.dom(f"{index}#q=finance")
    assert console == []
    names, count = _results(dom)
    assert names == [a["name"] for a in status if a["owner"] == "team:finance"]
    assert count == f"{len(names)} of {len(status)} assets match"
    dom, _console = browser.dom(f"{index}#q=mobility%20failed")
    assert _results(dom)[0] == ["stg_trips"]
    dom, _console = browser.dom(f"{index}#q=nothing_is_called_this")
    assert _results(dom) == ([], f"0 of {len(status)} assets match")
    dom, _console = browser.dom(index)
    assert _results(dom)[0] == [a["name"] for a in status]


def test_an_asset_page_and_the_lineage_load_cleanly(browser, site):
    duck, out = site
    for page, name in (("assets/stg_trips.html", "stg_trips"), ("graph.html", None),
                       ("runs/r00002.html", None)):
        dom, console = browser.dom((out / page).as_uri())
        assert console == [], page
        nodes = Elements(dom).find("a", **{"class": "node"})
        if page == "graph.html":
            assert len(nodes) == len(duck.json("status", expect=None)["assets"])
        elif name:
            assert {"data-state": "failed", "href": f"{name}.html", "class": "node"} in nodes
        else:
            assert len(Elements(dom).find("g", **{"class": "bar"})) == 11


def test_the_search_box_keeps_up_with_10000_assets(browser, tmp_path):
    """The status page's search over an index of 10,000 assets (status entries as the report
    inlines them), filtered in the browser; only the first 100 matches are drawn."""
    from duck_cli.report.html.pages import search_box
    from duck_cli.report.html.templates import page

    owners = ("team:finance", "team:ingest", "team:mobility")
    assets = [{"name": f"asset_{i:05d}", "state": ("fresh", "stale", "failed")[i % 3],
               "kind": "table", "owner": owners[i % 7 % 3], "tags": [f"t{i % 10}"]}
              for i in range(10_000)]
    index = tmp_path / "index.html"
    index.write_text(page("search", search_box(assets), "now"))
    (tmp_path / "style.css").write_text("")
    dom, console = browser.dom(f"{index.as_uri()}#q=failed%20finance%20t4")
    assert console == []
    names, count = _results(dom)
    expected = [a["name"] for a in assets if a["state"] == "failed"
                and a["owner"] == "team:finance" and "t4" in a["tags"]]
    assert names == expected[:100] and count.startswith(f"{len(expected)} of 10000 assets match")
    dom, _console = browser.dom(f"{index.as_uri()}#q=asset_0")
    names, count = _results(dom)
    assert len(names) == 100 and count == "10000 of 10000 assets match (first 100 shown)"


def test_without_a_browser_the_tests_skip_unless_a_browser_is_required(tmp_path):
    """Skipped with the install line; with DUCK_REQUIRE_BROWSER=1 (as .ci/run sets) a failure."""
    import sys

    here = Path(__file__)
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path)}  # no chromium on this PATH
    args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", "-q", str(here),
            "-k", "script_error", "-o", "addopts=", f"--rootdir={ROOT}"]
    skipped = subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT)
    assert skipped.returncode == 0 and "1 skipped" in skipped.stdout, skipped.stdout
    assert INSTALL in skipped.stdout
    failed = subprocess.run(args, capture_output=True, text=True, cwd=ROOT,
                            env={**env, "DUCK_REQUIRE_BROWSER": "1"})
    assert failed.returncode == 1 and "DUCK_REQUIRE_BROWSER is set" in failed.stdout
