"""Summaries for people: what `status` and `plan` print when the rows would not fit a screen.

Output scales with the reader, not the graph: counts by state and by reason, the worst rows
first, the oldest freshness breaches, and how to see everything (`--all`, a selection,
`--json`). The JSON documents stay complete; only the drawing is summarised here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from duck_cli.health.state import Promise, State
from duck_cli.report.documents import ts
from duck_cli.report.style import _esc, _table as _wrapping_table, styled

if TYPE_CHECKING:  # annotations only: rendering a run imports no status module
    from duck_cli.health.status import AssetStatus, StatusReport

SCREENFUL = 40  # rows that fit a screen when the terminal does not say (piped, CI logs)
TOP = 10  # worst rows a summary lists
BREACHES = 5  # oldest freshness breaches a summary lists
_RANK = {State.FAILED: 0, State.MISSING: 1, State.STALE: 2, State.FRESH: 3}


def fits(rows: int, height: int) -> bool:
    """Whether ``rows`` table rows fit a screen of ``height`` lines (at least `SCREENFUL`).

    >>> fits(40, 24), fits(41, 24), fits(60, 80)
    (True, False, True)
    """
    return rows <= max(SCREENFUL, height)


def worst_assets(assets: Iterable[AssetStatus]) -> list[AssetStatus]:
    """Assets that need attention, worst first: by state (failed, missing, stale, a warning),
    root causes before what they block, then most unhealthy partitions; ties in graph order."""
    found = [(i, a) for i, a in enumerate(assets)
             if a.state != State.FRESH or a.checks.failed or a.warn]
    found.sort(key=lambda ia: (_RANK.get(ia[1].state, 3), bool(ia[1].blockers),
                               -len(ia[1].health.unhealthy()), ia[0]))
    return [a for _i, a in found]


def reason_counts(assets: Iterable[AssetStatus]) -> list[tuple[str, str, int, int]]:
    """(code, a sample message, assets, partitions) per staleness reason, most assets first."""
    counts: dict[str, list] = {}
    for a in assets:
        for g in a.reasons:
            entry = counts.setdefault(g.code, [g.message, 0, 0])
            entry[1] += 1
            entry[2] += len(g.keys)
    return sorted(((code, m, n, k) for code, (m, n, k) in counts.items()),
                  key=lambda row: (-row[2], row[0]))


def oldest_breaches(assets: Iterable[AssetStatus]) -> list[AssetStatus]:
    """Assets whose freshness promise is breached, the longest-breached first."""
    found = [a for a in assets if a.health.promise == Promise.STALE]
    return sorted(found, key=lambda a: (a.health.freshness.due is None,
                                        a.health.freshness.due or 0, a.health.asset.name))


def _draw(out, title: str, columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """A summary table, one line per row: names and counts keep their width, the last column's
    long cells are cut with an ellipsis."""
    from rich.text import Text

    table = _wrapping_table(title, *columns)
    widths = [max(len(Text.from_markup(r[i]).plain) for r in [columns, *rows])
              for i in range(len(columns) - 1)]
    for col, width in zip(table.columns, widths):  # names and counts: never cut
        col.width, col.no_wrap = width, True
    last = table.columns[-1]
    # what is left of the screen after the other columns and the borders (3 per column)
    last.width = max(10, out.width - sum(widths) - 3 * len(columns) + 1)
    last.no_wrap, last.overflow = True, "ellipsis"
    for row in rows:
        table.add_row(*row)
    out.print(table)


def print_status_summary(out, r: StatusReport, why_cell) -> None:
    """The status summary: counts, reasons, the worst assets, the oldest breaches, products."""
    counts = r.counts()
    words = ", ".join(f"{counts[s]:,} {styled(s)}" for s in (State.FRESH, State.STALE,
                                                              State.MISSING, State.FAILED)
                      if counts[s])
    warned = r.warned()
    out.print(f"Status at {ts(r.now)}: {len(r.assets):,} assets: {words}"
              + (f" ({warned:,} with a warning)" if warned else ""))
    _reasons(out, r.assets)
    _worst(out, worst_assets(r.assets), why_cell)
    _breaches(out, oldest_breaches(r.assets))
    _products(out, r)
    out.print(f"Summary of {len(r.assets):,} assets. To see every one: `duck status --all`, "
              "a selection (`duck status NAME+`, `duck status tag:X`), or `--json`.")


def _reasons(out, assets) -> None:
    rows = reason_counts(assets)
    if not rows:
        return
    _draw(out, "By reason", ("Reason", "Assets", "Partitions", "For example"),
          [(code, f"{n:,}", f"{keys:,}", _esc(message)) for code, message, n, keys in rows])


def _worst(out, worst: list[AssetStatus], why_cell) -> None:
    if not worst:
        return
    shown = worst[:TOP]
    rows = []
    for a in shown:
        ah = a.health
        bad = len(ah.unhealthy())
        cell = f"{bad:,}/{len(ah.keys):,}" if ah.asset.partitions is not None else "-"
        rows.append((ah.asset.name, styled(a.state) + (" (warn)" if a.warn else ""), cell,
                     _esc(why_cell(a))))
    _draw(out, f"Worst first: {len(shown)} of {len(worst):,} needing attention",
          ("Asset", "State", "Unhealthy", "Why / blocked by"), rows)


def _breaches(out, breached: list[AssetStatus]) -> None:
    if not breached:
        return
    shown = breached[:BREACHES]
    rows = [(a.health.asset.name, ts(a.health.freshness.due) if a.health.freshness.due else "-",
             _esc(a.health.freshness.message)) for a in shown]
    _draw(out, f"Oldest breaches: {len(shown)} of {len(breached):,}",
          ("Asset", "Stale since", "Freshness"), rows)


def _products(out, r: StatusReport) -> None:
    if not r.products:
        return
    by_state: dict[str, list[str]] = {}
    for p in r.products:
        by_state.setdefault(p.state, []).append(p.product.name)
    parts = []
    for state, names in by_state.items():
        named = "" if state == Promise.FRESH else " (" + _esc(", ".join(names[:3])) + (
            ", ..." if len(names) > 3 else "") + ")"
        parts.append(f"{len(names):,} {styled(state)}{named}")
    out.print(f"Data products: {'; '.join(parts)}")


def print_plan_summary(out, d: dict) -> None:
    """The plan summary (from the plan document): totals, steps by asset reason, the first
    steps, what is held back by status and blocker, and how to see everything."""
    steps, est = d["steps"], d["estimate"]
    title = "plan" if d["command"] == "plan" else f"{d['command']} plan"
    out.print(f"{title}: {est['steps']:,} step(s), {est['partitions']:,} partition(s) of "
              f"{est['assets']:,} asset(s)")
    codes: dict[str, list[int]] = {}
    for s in steps:
        for code in s["reason_codes"] or ["requested"]:
            entry = codes.setdefault(code, [0, 0])
            entry[0] += 1
            entry[1] += s["partition_count"] or 1
    if codes:
        _draw(out, "Steps by reason", ("Reason", "Steps", "Partitions"),
              [(code, f"{n:,}", f"{keys:,}") for code, (n, keys)
               in sorted(codes.items(), key=lambda kv: (-kv[1][0], kv[0]))])
    if steps:
        _draw(out, f"First steps: {min(TOP, len(steps))} of {len(steps):,}",
              ("#", "Asset", "Partitions", "Why"),
              [(str(s["index"] + 1), s["asset"], _esc(_first(s["partitions"])),
                _esc("; ".join(s["reasons"]))) for s in steps[:TOP]])
    print_held_summary(out, d["held"])
    every = "`duck plan --all`, " if d["command"] == "plan" else ""
    out.print(f"Summary of {len(steps):,} step(s). To see every one: {every}a selection "
              f"(`duck {d['command']} NAME+`), or `--json`.")


def _first(ranges: list[str]) -> str:
    """A step's partitions in a summary: the first two ranges and how many more."""
    more = f" (+{len(ranges) - 2} more)" if len(ranges) > 2 else ""
    return ", ".join(ranges[:2]) + more or "-"


def print_held_summary(out, held: list[dict]) -> None:
    """What a plan holds back, counted by status and by root cause (the most held first)."""
    rows = [h for h in held if h["status"] != State.FRESH]
    if not rows:
        return
    blockers: dict[str, int] = {}
    statuses: dict[str, int] = {}
    for h in rows:
        statuses[h["status"]] = statuses.get(h["status"], 0) + 1
        b = h["blocker"]
        if b:
            where = f"{b['asset']} {b.get('partition') or ''}".strip()
            blockers[where] = blockers.get(where, 0) + 1
    out.print("Held back: " + ", ".join(f"{n:,} {styled(s)}" for s, n in statuses.items())
              + " (`--json` lists every one)")
    if blockers:
        _draw(out, "Held back by", ("Assets held", "Root cause"),
              [(f"{n:,}", _esc(where)) for where, n
               in sorted(blockers.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]])


def partition_rows(ah, height: int) -> tuple[str, ...]:
    """The partition keys a per-partition table lists: all of them when they fit the screen,
    else the unhealthy ones first (a screenful), in key order."""
    if fits(len(ah.keys), height):
        return ah.keys
    room = max(SCREENFUL, height)
    chosen = {p.key for p in ah.unhealthy()[:room]}
    for key in ah.keys[-(room - len(chosen)):] if len(chosen) < room else ():
        chosen.add(key)  # fill up with the newest partitions
    return tuple(k for k in ah.keys if k in chosen)


def print_partitions_hidden(out, ah, shown: int) -> None:
    """Say how many partitions the table left out and how to see them."""
    counts = ah.counts()
    words = ", ".join(f"{counts[s]:,} {styled(s)}" for s in (State.FRESH, State.STALE,
                                                              State.MISSING, State.FAILED)
                      if counts[s])
    out.print(f"{shown:,} of {len(ah.keys):,} partitions listed ({words}); the unhealthy first, "
              "then the newest. `--all` lists every one, `--json` gives them all as data.")


def print_preview(out, preview: dict) -> None:
    """What an environment's plan builds there, previews and reads from production."""
    built = ", ".join(preview["built"]) or "nothing"
    out.print(f"environment {preview['env']}: changed {', '.join(preview['changed']) or 'nothing'};"
              f" built here: {built}", markup=False)
    for asset, w in preview["window"].items():
        out.print(f"  previewing {asset} {w['first']}..{w['last']} ({w['partitions']} "
                  "partition(s))", markup=False)
    deferred = preview["deferred"]
    out.print(f"read from production ({len(deferred)}): {', '.join(deferred) or 'nothing'}",
              markup=False)
