"""One page per asset: what it is, its health and the `why` story, checks, freshness,
partitions on a calendar, its lineage neighbourhood, its SQL and its last runs."""

from __future__ import annotations

from html import escape

from duck_cli.models import Asset, FreshnessPolicy
from duck_cli.report import documents as docs
from duck_cli.health.why import why
from duck_cli.report.documents import why_doc
from duck_cli.report.html import charts, svg
from duck_cli.report.html.templates import badge, facts, legend, page, table

HEAT_STATES = ["fresh", "stale", "missing", "failed", "none"]


def asset_page(site, name: str) -> str:
    """The whole page of one asset."""
    state = site.state
    ah = state.health.assets[name]
    a = ah.asset
    story = why_doc(why(state, name, None, site.blockers["all"]))
    body = [f"<h1>{escape(name)} {badge(ah.state)}</h1>",
            f'<p>{escape(a.description or "No description.")}</p>',
            _facts(site, a, ah),
            "<h2>Why</h2>", why_story(story, "../"),
            "<h2>Freshness</h2>", _freshness(a.freshness, ah.freshness),
            "<h2>Checks</h2>", _checks(site, a),
            "<h2>Partitions</h2>", _partitions(ah),
            "<h2>Lineage</h2>", _lineage(site, name),
            "<h2>Definition</h2>", _definition(a),
            "<h2>Last runs</h2>", _runs(site, a)]
    return page(f"{name}: duck", "".join(body), site.stamp, root="../")


def link(name: str, root: str) -> str:
    """A link to an asset's page."""
    return f'<a href="{root}assets/{escape(name)}.html">{escape(name)}</a>'


def _facts(site, a: Asset, ah) -> str:
    g = site.state.graph
    counts = ah.counts()
    products = [p.name for p in site.state.project.products.values() if a.name in p.assets]
    return facts([
        ("Relation", f"<code>{escape(a.relation)}</code>"),
        ("Kind", escape(a.kind)), ("Owner", escape(a.owner or "no owner")),
        ("Tags", escape(", ".join(a.tags))),
        ("Built as", escape(a.materialize.strategy) if a.materialize else "observed source"),
        ("Partitions", escape(partitions_text(a))),
        ("Partition states", ", ".join(f"{n:,} {s}" for s, n in counts.items() if n)),
        ("Rows", f"{sum(m.row_count or 0 for m in ah.current.values()):,}"
         if not a.is_source and ah.current else ""),
        ("Upstream", ", ".join(link(u, "../") for u in g.upstream[a.name])),
        ("Downstream", ", ".join(link(d, "../") for d in g.downstream[a.name])),
        ("Data products", escape(", ".join(products))),
        ("Defined in", escape(f"{a.location.file}:{a.location.line}") if a.location else "")])


def partitions_text(a: Asset) -> str:
    """The partition definition in words."""
    d = a.partitions
    if d is None:
        return "not partitioned"
    if d.kind == "static":
        return "static: " + ", ".join(d.values)
    end = f" to {d.end:%Y-%m-%d}" if d.end else ""
    return f"{d.kind} from {d.start:%Y-%m-%d}{end} ({d.timezone})"


def why_story(r: dict, root: str) -> str:
    """The `duck why` report: its questions answered in order, root causes, the next action."""
    if not r["questions"] or r["next_action"]["action"] == "none":
        return '<p>Healthy: nothing to do.</p>'
    items = "".join(f"<li>{escape(q['question'])} <b>{escape(q['answer'])}:</b> "
                    f"{escape(q['detail'])}</li>" for q in r["questions"])
    roots = table(["Root cause", "Partition", "Reason", "Message"],
                  [[link(c["asset"], root), escape(c["partition"] or ""), escape(c["reason"]),
                    escape(c["message"])] for c in r["root_causes"]], empty="no upstream root cause")
    blockers = table(["Blocked by", "Partition", "Depth", "Message"],
                     [[link(b["asset"], root), escape(b["partition"] or ""), str(b["depth"]),
                       escape(b["message"])] for b in r["blockers"][:50]], empty="no blockers")
    nxt = r["next_action"]
    command = f"<pre>$ {escape(nxt['command'])}</pre>" if nxt.get("command") else ""
    return (f'<ol class="why">{items}</ol>{roots}{blockers}'
            f'<div class="next"><b>Next:</b> {escape(nxt["message"])}{command}</div>')


def policy_text(p: FreshnessPolicy) -> str:
    """A freshness policy in words."""
    bits = []
    if p.deadline:
        bits.append(f"current by {p.deadline} {p.timezone} every day")
    elif p.cron:
        bits.append(f"current at each `{p.cron}` ({p.timezone})")
    if p.max_lag is not None:
        bits.append(f"at most {p.max_lag} old")
    if p.warn is not None:
        bits.append(f"warn {p.warn} before")
    return "; ".join(bits)


def freshness_block(policy, result) -> str:
    """A freshness policy with its state, message and deadlines."""
    if policy is None:
        return '<p class="muted">No freshness policy.</p>'
    pairs = [("Policy", escape(policy_text(policy)))]
    if result is not None:
        pairs += [("State", badge(result["state"])), ("Message", escape(result["message"])),
                  ("Last deadline", escape(result["last_deadline"] or "")),
                  ("Next deadline", escape(result["next_deadline"] or "")),
                  ("Due", escape(result["due"] or ""))]
    return facts(pairs)


def _freshness(policy, result) -> str:
    return freshness_block(policy, result.to_json() if result is not None else None)


def _checks(site, a: Asset) -> str:
    rows = []
    for spec in a.checks:
        r = site.checks.get((a.name, spec.name))
        if r is None:
            rows.append([escape(spec.name), escape(spec.kind), escape(spec.severity),
                         badge("unknown"), "not run yet", "", ""])
            continue
        failing = docs.ranges(a.partitions, [k for k in r["failing_partitions"] or [] if k])
        result = "passed" if r["last_passed"] else ("warn" if r["severity"] == "warn" else "failed")
        rows.append([escape(spec.name), escape(spec.kind), escape(spec.severity),
                     badge(result),
                     f"{r['passed']:,} of {r['partitions']:,} partitions passed"
                     + (f"; failing: {escape(', '.join(failing[:5]))}" if failing else ""),
                     escape(r["message"] or ""), escape(r["run_id"] or "")])
    return table(["Check", "Kind", "Severity", "Last result", "Partitions", "Message", "Run"],
                 rows, empty="No checks declared.")


def _partitions(ah) -> str:
    d = ah.asset.partitions
    if d is None:
        return f'<p>Not partitioned: {badge(ah.partitions[""].state)}</p>'
    states = {k: p.state for k, p in ah.partitions.items()}
    daily = d.kind in ("daily", "hourly")
    note = "worst hour per day" if d.kind == "hourly" else "one cell per partition"
    return (f'<div class="scroll">{charts.calendar(list(ah.keys), states, daily)}</div>'
            f'{legend(HEAT_STATES)}<p class="muted">{len(ah.keys):,} partitions; {note}.</p>')


def _lineage(site, name: str) -> str:
    g = site.state.graph
    near = svg.neighbourhood(name, g.upstream, g.downstream)
    order = sorted(near, key=site.position.__getitem__)  # g.ordered() walks every asset
    products = {p.name: p.assets for p in site.state.project.products.values()}
    drawing = svg.lineage(order, g.upstream, site.states, site.sources,
                          lambda n: f"{n}.html", products, focus=name, fit=True)
    return (f'<div class="scroll">{drawing}</div><p class="muted">Up to two steps up- and '
            f'downstream, at most {svg.NEIGHBOURS} assets; <a href="../graph.html">the whole '
            "lineage</a>.</p>")


def _definition(a: Asset) -> str:
    if a.is_source:
        src = a.source
        where = f"{src.path} ({src.format})" if src.path else f"table {src.table}"
        return f"<p>Observed source, not built by duck: <code>{escape(where)}</code></p>"
    head = f"<p class=\"muted\">{escape(a.materialize.sql_file)}</p>" if a.materialize.sql_file \
        else ""
    return f"{head}<pre>{escape(a.materialize.sql.strip())}</pre>"


def _runs(site, a: Asset) -> str:
    rows = []
    for s, command in site.asset_steps.get(a.name, []):
        run = f'<a href="../runs/{escape(s.run_id)}.html">{escape(s.run_id)}</a>' \
            if s.run_id in site.run_ids else escape(s.run_id)
        rows.append([run, escape(command or ""), badge(s.status),
                     escape(", ".join(docs.ranges(a.partitions, [k for k in s.partitions if k]))),
                     escape(when(s.started_at)), escape(took(s)),
                     "" if s.row_count is None else f"{s.row_count:,}", escape(s.error or "")])
    return table(["Run", "Command", "Status", "Partitions", "Started", "Took", "Rows", "Error"],
                 rows, empty="No runs yet.")


def when(value) -> str:
    """A timestamp to the second, ISO 8601 with its offset."""
    return value.isoformat(timespec="seconds") if value is not None else ""


def took(s) -> str:
    """How long a step or a run took (anything with started_at and ended_at)."""
    if s.started_at is None or s.ended_at is None:
        return ""
    return charts.seconds((s.ended_at - s.started_at).total_seconds())
