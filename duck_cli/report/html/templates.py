"""The page shell, the stylesheet and the search script of the HTML report.

Everything a page needs is in the report folder (style.css) or inline: nothing is fetched, so
the report opens from a file, a CI artifact or an air-gapped share alike.
"""

from __future__ import annotations

import json
from html import escape
from string import Template

STATE_COLOURS = {"fresh": "#2e7d32", "stale": "#f9a825", "missing": "#c62828",
                 "failed": "#7b1fa2", "warn": "#ef6c00", "unknown": "#9e9e9e",
                 "success": "#2e7d32", "passed": "#2e7d32", "running": "#0277bd", "skipped": "#9e9e9e",
                 "canceled": "#6d4c41", "abandoned": "#6d4c41", "pending": "#9e9e9e",
                 "none": "#e0e0e0"}

PAGE = Template("""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title><link rel="stylesheet" href="${root}style.css"></head>
<body><header><a class="brand" href="${root}index.html">duck</a>
<nav><a href="${root}index.html">Status</a><a href="${root}graph.html">Lineage</a>
<a href="${root}runs.html">Runs</a></nav><span class="now">$stamp</span></header>
<main>$body</main></body></html>
""")

CSS = """
:root { --ink: #1f2328; --muted: #57606a; --line: #d0d7de; --bg: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--ink); background: #fff; }
header { display: flex; gap: 24px; align-items: center; padding: 10px 24px;
         background: #24292f; color: #fff; }
header a { color: #fff; text-decoration: none; margin-right: 16px; }
header .brand { font-weight: 700; font-size: 18px; }
header .now { margin-left: auto; color: #c9d1d9; font-size: 12px; }
main { padding: 16px 24px 48px; max-width: 1280px; }
h1 { font-size: 22px; margin: 8px 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
a { color: #0969da; } .muted { color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin: 4px 0; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line);
         vertical-align: top; }
th { background: var(--bg); font-weight: 600; font-size: 13px; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff;
         font-size: 12px; font-weight: 600; white-space: nowrap; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; margin: 12px 0; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 16px; min-width: 120px;
        border-top: 5px solid var(--c); }
.card b { display: block; font-size: 26px; } .card span { color: var(--muted); }
pre { background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 10px;
      overflow-x: auto; font-size: 13px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 8px 0; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; }
ol.why li { margin: 4px 0; } .next { background: #fff8c5; border: 1px solid #d4a72c;
  border-radius: 6px; padding: 8px 12px; margin: 8px 0; }
input#q { width: 100%; max-width: 520px; font-size: 15px; padding: 7px 10px; border-radius: 6px;
          border: 1px solid var(--line); }
.scroll { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; padding: 6px; }
svg text { font: 12px system-ui, sans-serif; }
.legend span { display: inline-flex; align-items: center; gap: 4px; margin-right: 12px;
               font-size: 12px; }
.legend i { width: 11px; height: 11px; border-radius: 2px; display: inline-block; }
"""

SEARCH_JS = """
(function () {
  var rows = JSON.parse(document.getElementById('asset-index').textContent);
  var input = document.getElementById('q'), body = document.getElementById('results');
  var count = document.getElementById('count'), LIMIT = 100;
  var colours = JSON.parse(document.getElementById('state-colours').textContent);
  function cell(text) { var td = document.createElement('td'); td.textContent = text; return td; }
  function show(query) {
    var words = query.toLowerCase().split(/\\s+/).filter(Boolean), shown = 0, found = 0;
    var frag = document.createDocumentFragment();
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i], hay = r[5];
      if (!words.every(function (w) { return hay.indexOf(w) >= 0; })) continue;
      found++;
      if (shown >= LIMIT) continue;
      shown++;
      var tr = document.createElement('tr'), a = document.createElement('a');
      var name = document.createElement('td'), st = document.createElement('td');
      var badge = document.createElement('span');
      a.href = 'assets/' + r[0] + '.html'; a.textContent = r[0]; name.appendChild(a);
      badge.className = 'badge'; badge.textContent = r[1];
      badge.style.background = colours[r[1]] || '#9e9e9e'; st.appendChild(badge);
      tr.appendChild(name); tr.appendChild(st); tr.appendChild(cell(r[2]));
      tr.appendChild(cell(r[3])); tr.appendChild(cell(r[4]));
      frag.appendChild(tr);
    }
    body.replaceChildren(frag);
    count.textContent = found + ' of ' + rows.length + ' assets match' +
      (found > shown ? ' (first ' + shown + ' shown)' : '');
  }
  function fromHash() {
    var m = /[#&]q=([^&]*)/.exec(location.hash);
    return m ? decodeURIComponent(m[1].replace(/\\+/g, ' ')) : '';
  }
  input.value = fromHash();
  input.addEventListener('input', function () {
    history.replaceState(null, '', '#q=' + encodeURIComponent(input.value));
    show(input.value);
  });
  window.addEventListener('hashchange', function () { input.value = fromHash(); show(input.value); });
  show(input.value);
})();
"""


def page(title: str, body: str, stamp: str, root: str = "") -> str:
    """A whole page: the shell around ``body`` (``root`` leads back to the report folder)."""
    return PAGE.substitute(title=escape(title), body=body, root=root, stamp=escape(stamp))


def clip(text: str, width: int) -> str:
    """``text`` as it is up to ``width`` characters, else cut with an ellipsis (a label in a
    drawing, which a tooltip shows whole).

    >>> clip("zone_metrics", 24), clip("a_very_long_asset_name_indeed", 10)
    ('zone_metrics', 'a_very_l…')
    """
    return text if len(text) <= width else text[:width - 2] + "…"


def badge(state: str | None) -> str:
    """A coloured state word."""
    if not state:
        return ""
    colour = STATE_COLOURS.get(state, "#9e9e9e")
    return f'<span class="badge" style="background:{colour}">{escape(state)}</span>'


def json_script(element_id: str, data) -> str:
    """Data for the page's script, inline; '</' is escaped so no value can end the element."""
    text = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def table(head: list[str], rows: list[list[str]], empty: str = "none") -> str:
    """An HTML table from cells that are already HTML."""
    if not rows:
        return f'<p class="muted">{escape(empty)}</p>'
    th = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def facts(pairs: list[tuple[str, str]]) -> str:
    """A definition list of label and HTML value pairs (empty values left out)."""
    items = "".join(f"<dt>{escape(k)}</dt><dd>{v}</dd>" for k, v in pairs if v)
    return f'<dl class="facts">{items}</dl>'


def legend(states: list[str]) -> str:
    """A colour legend for the given states."""
    items = "".join(f'<span><i style="background:{STATE_COLOURS.get(s, "#9e9e9e")}"></i>'
                    f"{escape(s)}</span>" for s in states)
    return f'<p class="legend">{items}</p>'
