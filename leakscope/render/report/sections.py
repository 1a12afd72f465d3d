"""The sections of the report: typed answers in, HTML and chart data out.

Each function renders one section from `ReportContents` (or one part of it)
and adds the data of its charts to *charts* (chart id -> plain JSON data);
the page's script turns that data into Apache ECharts charts. Nothing here
queries, judges or ranks: the order of classes by growth comes from the typed
reports themselves (`HistoryTable.growth`, `DiffReport.rows`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from leakscope import wire
from leakscope.client.report_contents import ReportContents, RetainedObject, RetainedTree
from leakscope.client.reports import (
    DiffReport,
    HeapReport,
    HistoryTable,
    LeaksReport,
    LeakSuspect,
    MemoryReport,
    PrefsReport,
    RetentionPath,
)
from leakscope.render.report.markup import (
    Column,
    cell,
    chart,
    duration,
    esc,
    nbytes,
    note,
    objects,
    per_minute,
    signed_bytes,
    signed_objects,
    table,
    when,
)

Charts = dict[str, dict[str, Any]]

#: Classes whose counts are drawn in the growth chart (the rest are in its table).
MAX_SERIES = 40
#: Classes drawn when the page opens; the others are one click away in the legend.
SHOWN_SERIES = 5
#: Points per line: an hour at the default 5 s is 720 samples; the chart is narrower than that.
MAX_POINTS = 400
#: Types drawn as bars, and rows of the heap table.
HEAP_BARS = 20
HEAP_ROWS = 300
RETAINED_ROWS = 300

_VERDICT_WORDS = {
    "live-objects": "Live objects grow: a leak",
    "allocator-held": "Memory kept by the allocators (objects were freed)",
    "native": "Growth outside Python objects (native code)",
    "no-growth": "No memory growth",
}


@dataclass(frozen=True)
class Section:
    """One section of the page: its anchor, its title in the navigation, its HTML."""

    id: str
    title: str
    body: str


# -- the header ------------------------------------------------------------------------


def header(contents: ReportContents) -> str:
    """Who the process is, and when and how this page was made."""
    snap = contents.snapshot
    hello = contents.hello
    argv = " ".join(snap.argv) or "?"
    if contents.files:
        count = len(contents.files)
        source = f"{count} file{'s' if count > 1 else ''} (snapshots, dumps)"
    else:
        source = f"the live process {snap.pid}"
    facts = [f"Python {snap.python or '?'}"]
    if hello is not None and hello.executable:
        facts.append(hello.executable)
    facts.append(f"host {snap.host or '?'}")
    if hello is not None and hello.started is not None:
        facts.append(f"started {when(hello.started)}, up {duration(snap.time - hello.started)}")
    else:
        facts.append("uptime not recorded in files")
    made = (
        f"Made {when(contents.made)} by leakscope {wire.VERSION} from {source}; "
        f"data of {when(snap.time)}"
    )
    if contents.collect_s is not None:
        made += f", collected in {duration(contents.collect_s)}"
    return (
        f'<header id="top"><h1>leakscope report: pid {snap.pid} '
        f'<span class="argv" title="command line">{esc(argv)}</span></h1>'
        f'<p class="process">{esc(" · ".join(facts))}</p>'
        f'<p class="made">{esc(made)}. Command: <code>{esc(contents.command)}</code></p>'
        "</header>"
    )


# -- at a glance -----------------------------------------------------------------------


def glance(contents: ReportContents, charts: Charts) -> Section:
    """Three cards for the first screen: the verdict, what grows most, the top suspect."""
    cards = [_verdict_card(contents.snapshot.memory), _grower_card(contents, charts)]
    cards.append(_suspect_card(contents))
    return Section("glance", "At a glance", '<div class="cards">' + "".join(cards) + "</div>")


def _verdict_card(memory: MemoryReport | None) -> str:
    if memory is None:
        return _card("Memory", "no memory figures", "", "unknown")
    v = memory.verdict
    body = (
        f"<p>RSS {esc(nbytes(memory.figures.rss))}, "
        f"Python objects {esc(nbytes(memory.figures.python_objects_bytes))}</p>"
        f'<p class="reason" title="{esc(v.reason)}">{esc(v.reason)}</p>'
        '<p><a href="#process">Memory in detail</a></p>'
    )
    if v.trim_may_help:
        body += "<p>`leakscope memory --trim` may return memory to the system.</p>"
    return _card("Memory verdict", _VERDICT_WORDS.get(v.verdict, v.verdict), body, v.verdict)


def _grower_card(contents: ReportContents, charts: Charts) -> str:
    """What grows most, with its growth chart: the top leak suspect when there is one (its
    count over the history when it is tracked, else at both ends of the interval), else the
    tracked class that grew most."""
    history, leaks = contents.history, contents.suspects
    top = leaks.suspects[0] if leaks is not None and leaks.suspects else None
    if history is not None and len(history.memory) >= 2:
        ranked = history.growth()
        name = None
        if top is not None:
            counts = history.counts.get(top.kind)
            name = top.kind if counts and counts[-1] > counts[0] else None
        elif ranked and ranked[0][1] > 0:
            name = ranked[0][0]
        if name is not None:
            counts = history.counts[name]
            keep = _thin(len(history.memory), MAX_POINTS)
            times = [history.memory[i].t for i in keep]
            what = f"in {len(history.memory):,} history samples"
            return _grower(charts, name, times, [counts[i] for i in keep], what)
    if top is not None and leaks is not None:
        end = contents.snapshot.time
        what = "by heap dumps at both ends of the interval"
        times = [end - leaks.interval_s, end]
        return _grower(charts, top.kind, times, [top.count_before, top.count_after], what)
    growth = contents.growth
    if growth is not None and growth.rows and growth.rows[0].delta > 0:
        row = growth.rows[0]
        times = [growth.before.time, growth.after.time]
        what = "at both ends of the interval"
        return _grower(charts, row.cls, times, [row.before, row.after], what)
    return _card("Grows most", "no tracked class grew", "", "no-growth")


def _grower(charts: Charts, name: str, times: list[float], counts: list[int], what: str) -> str:
    charts["grower"] = {
        "kind": "lines",
        "unit": "objects",
        "compact": True,
        "t": [round(t * 1000) for t in times],
        "series": [{"name": name, "data": counts, "shown": True}],
    }
    body = (
        chart("grower", f"Live {name} objects, counted {what}", 96)
        + f"<p>{esc(signed_objects(counts[-1] - counts[0]))} in "
        f"{esc(duration(times[-1] - times[0]))}: {esc(objects(counts[0]))} → "
        f"{esc(objects(counts[-1]))}, counted {esc(what)} "
        '(<a href="#growth">all classes</a>)</p>'
    )
    return _card("Grows most", name, body, "grows", name_class="cls")


def _suspect_card(contents: ReportContents) -> str:
    leaks = contents.suspects
    if leaks is None or not leaks.suspects:
        hint = _suspects_hint(contents)
        name = "none found" if leaks is not None else "not looked for"
        return _card("Leak suspect", name, note(hint), "")
    top = leaks.suspects[0]
    body = f"<p>{esc(signed_objects(top.count_delta))}, {esc(signed_bytes(top.size_delta))}</p>"
    holder = top.holder
    if holder is not None:
        body += (
            f'<p>held by <span class="holder">{esc(holder.type)}</span> '
            f"({esc(f'{holder.share:.0%}')} of the new ones)</p>"
            f'<p class="path-text">{esc(path_text(holder.path))}</p>'
        )
    body += '<p><a href="#suspects">Suspects in detail</a></p>'
    return _card("Leak suspect", top.kind, body, "suspect", name_class="cls")


def _card(title: str, name: str, body: str, kind: str, name_class: str = "") -> str:
    name_html = f'<p class="card-name {name_class}">{esc(name)}</p>'
    return f'<div class="card {esc(kind)}"><h3>{esc(title)}</h3>{name_html}{body}</div>'


def _suspects_hint(contents: ReportContents) -> str:
    if contents.suspects is not None:
        return "Nothing grew over the interval in a way that names a suspect."
    if contents.suspects_note:
        return contents.suspects_note
    return (
        "Run with --interval SECONDS to find leak suspects: what grows over the "
        "interval, what holds it, and where it is made (with --sites)."
    )


# -- growth ----------------------------------------------------------------------------


def growth(contents: ReportContents, charts: Charts) -> Section:
    """Counts per class and memory over time (the agent's history), and growth over the
    interval or between the files."""
    parts = []
    history, leaks = contents.history, contents.suspects
    top = leaks.suspects[0].kind if leaks is not None and leaks.suspects else None
    if top is not None and history is not None and top not in history.counts and "." in top:
        parts.append(
            note(
                f"{top} is not tracked, so the history has no count of it: `leakscope track "
                f"{top.rsplit('.', 1)[-1]} --pid {contents.snapshot.pid}` tracks it from now "
                "on (its count, ages and, with --sites, creation sites).",
                "hint",
            )
        )
    if history is not None and len(history.memory) >= 2:
        parts.append(_history_charts(history, charts))
    elif history is not None:
        parts.append(note("One sample only: growth over time needs two or more."))
    else:
        parts.append(note(contents.history_note or "No history of samples."))
    if contents.growth is not None:
        parts.append(_diff_tables(contents.growth, charts))
    return Section("growth", "Growth", "".join(parts))


def _thin(n: int, limit: int) -> list[int]:
    """At most *limit* indices of *n* samples, evenly spread, the first and last kept."""
    if n <= limit:
        return list(range(n))
    step = (n - 1) / (limit - 1)
    return sorted({round(i * step) for i in range(limit)})


def _history_charts(history: HistoryTable, charts: Charts) -> str:
    keep = _thin(len(history.memory), MAX_POINTS)
    times = [round(history.memory[i].t * 1000) for i in keep]
    memory_series = []
    for label, attr, shown_first in (
        ("RSS", "rss", True),
        ("Python objects", "python_objects_bytes", True),
        ("USS", "uss", False),
        ("pymalloc: free in arenas", "pymalloc_free", False),
        ("glibc malloc: free but held", "malloc_free_held", False),
    ):
        values = [getattr(history.memory[i], attr) for i in keep]
        if any(v is not None for v in values):
            memory_series.append({"name": label, "data": values, "shown": shown_first})
    charts["memory"] = {"kind": "lines", "unit": "bytes", "t": times, "series": memory_series}
    memory_chart = chart(
        "memory", "Process memory (RSS) against memory held by live Python objects", 300
    )
    span = history.memory[-1].t - history.memory[0].t
    intro = f"{len(history.memory):,} samples over {duration(span)}" + (
        f", one every {duration(history.interval_s)}." if history.interval_s else "."
    )
    ranked = history.growth()
    if not ranked:
        return note(f"{intro} No tracked class had live objects.") + memory_chart
    drawn = ranked[:MAX_SERIES]
    growing = [name for name, delta in drawn if delta > 0][:SHOWN_SERIES]
    shown = set(growing or [name for name, _ in drawn[:SHOWN_SERIES]])
    charts["growth"] = {
        "kind": "lines",
        "unit": "objects",
        "t": times,
        "series": [
            {
                "name": name,
                "data": [history.counts[name][i] for i in keep],
                "shown": name in shown,
            }
            for name, _ in drawn
        ],
    }
    more = len(drawn) - len(shown)
    drawn_what = "the class" if len(shown) == 1 else f"the {len(shown)} classes"
    intro += f" Drawn: {drawn_what} that grew most" + (
        f"; click a name in the legend to draw any of {more} more "
        "(every class is in the table below)."
        if more > 0
        else "."
    )
    rows = []
    for name, delta in ranked:
        counts = history.counts[name]
        rows.append(
            [
                cell(name),
                cell(objects(counts[0]), counts[0]),
                cell(objects(counts[-1]), counts[-1]),
                cell(signed_objects(delta), delta),
                cell(objects(max(counts)), max(counts)),
            ]
        )
    columns = [
        Column("Class"),
        Column("First sample (objects)", True),
        Column("Last sample (objects)", True),
        Column("Change (objects)", True),
        Column("Highest (objects)", True),
    ]
    return (
        note(intro)
        + chart("growth", "Live objects per class over time", 360)
        + memory_chart
        + "<h3>Every class over the history</h3>"
        + table("table-history", columns, rows)
    )


def _diff_tables(diff: DiffReport, charts: Charts) -> str:
    title = f"Over {duration(diff.interval_s)}: {when(diff.before.time)} → {when(diff.after.time)}"
    parts = [f"<h3>{esc(title)}</h3>"]
    parts += [note(w, "warning") for w in diff.warnings]
    if diff.rows:
        columns = [
            Column("Class"),
            Column("Before (objects)", True),
            Column("After (objects)", True),
            Column("Change (objects)", True),
        ]
        rows = [
            [
                cell(r.cls),
                cell(objects(r.before), r.before),
                cell(objects(r.after), r.after),
                cell(signed_objects(r.delta), r.delta),
            ]
            for r in diff.rows
        ]
        parts.append(table("table-diff", columns, rows, "Tracked classes"))
    changed = [r for r in diff.heap_rows if r.delta or r.size_delta]
    if changed:
        grown = sorted((r for r in changed if r.size_delta > 0), key=lambda r: -r.size_delta)
        if grown:
            charts["heap-growth"] = {
                "kind": "bars",
                "unit": "bytes",
                "rows": [
                    {"name": r.kind, "value": r.size_delta, "count": r.delta}
                    for r in grown[:HEAP_BARS]
                ],
            }
            parts.append(chart("heap-growth", "What the heap gained, by type", _bars_height(grown)))
        columns = [
            Column("Type"),
            Column("Before (objects)", True),
            Column("After (objects)", True),
            Column("Change (objects)", True),
            Column("Size change", True),
        ]
        rows = [
            [
                cell(r.kind),
                cell(objects(r.before), r.before),
                cell(objects(r.after), r.after),
                cell(signed_objects(r.delta), r.delta),
                cell(signed_bytes(r.size_delta), r.size_delta),
            ]
            for r in changed[:HEAP_ROWS]
        ]
        parts.append(table("table-heap-diff", columns, rows, "Heap by type: types that changed"))
    return "".join(parts)


def _bars_height(rows: list[Any]) -> int:
    return 60 + 24 * min(len(rows), HEAP_BARS)


# -- leak suspects ---------------------------------------------------------------------


def suspects(contents: ReportContents, charts: Charts) -> Section:
    """Each suspect: what grew, its holder and the path to it (a graph), where it is made."""
    leaks = contents.suspects
    if leaks is None or not leaks.suspects:
        return Section("suspects", "Leak suspects", note(_suspects_hint(contents), "hint"))
    return Section("suspects", "Leak suspects", suspects_body(leaks, charts))


def suspects_body(leaks: LeaksReport, charts: Charts) -> str:
    """The suspects of one `leakscope leaks` answer."""
    parts = [note(f"Over {duration(leaks.interval_s)} in process {leaks.pid}, most likely first.")]
    if leaks.note:
        parts.append(note(leaks.note, "warning"))
    for n, suspect in enumerate(leaks.suspects, 1):
        parts.append(_suspect(n, suspect, leaks.sites_asked, charts))
    return "".join(parts)


def _suspect(n: int, s: LeakSuspect, sites_asked: bool, charts: Charts) -> str:
    head = (
        f'<h3><span class="cls">{esc(s.kind)}</span> '
        f'<span class="delta">{esc(signed_objects(s.count_delta))}, '
        f"{esc(signed_bytes(s.size_delta))} "
        f"({esc(objects(s.count_before))} → {esc(objects(s.count_after))})</span></h3>"
    )
    parts = [f'<article class="suspect-detail" id="suspect-{n}">', head]
    if s.finding:
        parts.append(f'<p class="finding">{esc(s.finding)}</p>')
    holder = s.holder
    if holder is None:
        parts.append(note("No single holder keeps most of them alive."))
    else:
        facts = [
            ("Holder", f"{holder.type} at {holder.id:#x}"),
            ("Holds", f"{holder.share:.0%} of the new {s.kind} objects"),
            (
                "Retains",
                f"{nbytes(holder.retained_size)} in {objects(holder.retained_count)}",
            ),
            ("Path", path_text(holder.path)),
        ]
        parts.append(
            '<dl class="facts">'
            + "".join(
                f'<dt>{esc(k)}</dt><dd class="{"path-text" if k == "Path" else ""}">{esc(v)}</dd>'
                for k, v in facts
            )
            + "</dl>"
        )
        if holder.path is not None and holder.path.found:
            chart_id = f"path-{n}"
            charts[chart_id] = path_chart(holder.path, holder.type)
            height = 70 + 56 * len(holder.path.edges)
            parts.append(chart(chart_id, f"Path from a root to the holder of {s.kind}", height))
    if s.sites:
        columns = [Column("Creation site"), Column("Function"), Column("Live (objects)", True)]
        rows = [
            [cell(site.site), cell(site.function), cell(objects(site.count), site.count)]
            for site in s.sites
        ]
        parts.append(table(f"table-sites-{n}", columns, rows, "Where they were made"))
    elif sites_asked:
        parts.append(note("No creation site was recorded for the new ones."))
    else:
        parts.append(note("Run with --sites to record where they are made."))
    parts.append("</article>")
    return "".join(parts)


def path_text(path: RetentionPath | None) -> str:
    """A retention path in one line: ``module app → .audit → _Audit → .pending → list``."""
    if path is None or not path.found:
        return "no path from a root was found (held only by C code?)"
    steps = [path.root or "root"]
    for edge in path.edges:
        steps.append(f"{edge.label}{' (weak)' if edge.weak else ''} → {edge.to_kind}")
    return " → ".join(steps)


def path_chart(path: RetentionPath, holder: str) -> dict[str, Any]:
    """The chart data of a retention path: the root, then one node per edge."""
    nodes: list[dict[str, Any]] = [{"name": path.root or "root", "via": None, "weak": False}]
    nodes += [{"name": e.to_kind, "via": e.label, "weak": e.weak} for e in path.edges]
    return {"kind": "path", "nodes": nodes, "holder": holder}


# -- the heap --------------------------------------------------------------------------


def heap(contents: ReportContents, charts: Charts) -> Section:
    """The heap by type (bars and table), and by retained size when it was computed."""
    parts = []
    census = contents.snapshot.heap
    if census is None:
        parts.append(note("No heap census in this report (--no-heap, or a snapshot without one)."))
    else:
        parts.append(_census(census, charts))
    if contents.retained is not None:
        parts.append(retained_body(contents.retained, charts))
    return Section("heap", "Heap", "".join(parts))


def _census(census: HeapReport, charts: Charts) -> str:
    rows = sorted(census.rows, key=lambda r: (-r.size, r.kind))
    charts["heap"] = {
        "kind": "bars",
        "unit": "bytes",
        "rows": [{"name": r.kind, "value": r.size, "count": r.count} for r in rows[:HEAP_BARS]],
    }
    total = census.total_size or 1
    summary = (
        f"{objects(census.total_count)}, {nbytes(census.total_size)} (shallow sizes), "
        f"{len(census.rows):,} types; {census.backend} census in {duration(census.elapsed_s)}, "
        f"the target paused at most {1000 * census.max_pause_s:.0f} ms at a time"
    )
    if census.partial:
        summary += "; PARTIAL (cut by --max-objects)"
    if census.collected:
        summary += "; gc.collect() ran first"
    columns = [
        Column("Type"),
        Column("Count (objects)", True),
        Column("Size", True),
        Column("Share of the heap (%)", True),
        Column("Average size", True),
    ]
    table_rows = [
        [
            cell(r.kind),
            cell(objects(r.count), r.count),
            cell(nbytes(r.size), r.size),
            cell(f"{100 * r.size / total:.1f} %", r.size),
            cell(nbytes(r.size / r.count) if r.count else "-", r.size / r.count if r.count else 0),
        ]
        for r in rows[:HEAP_ROWS]
    ]
    caption = f"Heap by type (the {min(len(rows), HEAP_ROWS):,} biggest types)"
    return (
        note(summary)
        + chart("heap", "The biggest types of the heap, by size", _bars_height(rows))
        + table("table-heap", columns, table_rows, caption)
    )


def retained_body(retained: RetainedTree, charts: Charts) -> str:
    """The dominator tree's biggest objects: a treemap and a table."""
    flat: list[tuple[int, RetainedObject]] = []

    def node(n: RetainedObject, depth: int) -> dict[str, Any]:
        flat.append((depth, n))
        return {
            "name": n.type,
            "value": n.retained_size,
            "count": n.retained_count,
            "id": f"{n.id:#x}",
            "children": [node(c, depth + 1) for c in n.children],
        }

    charts["retained"] = {"kind": "treemap", "tree": [node(r, 0) for r in retained.roots]}
    columns = [
        Column("Type"),
        Column("Address"),
        Column("Depth in the tree", True),
        Column("Own size", True),
        Column("Retained size", True),
        Column("Retained (objects)", True),
    ]
    rows = [
        [
            cell(n.type),
            cell(f"{n.id:#x}"),
            cell(str(depth), depth),
            cell(nbytes(n.size), n.size),
            cell(nbytes(n.retained_size), n.retained_size),
            cell(objects(n.retained_count), n.retained_count),
        ]
        for depth, n in sorted(flat, key=lambda d: -d[1].retained_size)[:RETAINED_ROWS]
    ]
    summary = (
        f"Retained size: what an object keeps alive alone. Heap of process {retained.pid}: "
        f"{objects(retained.total_count)}, {nbytes(retained.total_size)}."
    )
    return (
        "<h3>By retained size</h3>"
        + note(summary)
        + chart("retained", "What keeps the heap alive (dominator tree)", 420)
        + table("table-retained", columns, rows, "The objects that retain the most")
    )


# -- tracked classes -------------------------------------------------------------------


def tracked(contents: ReportContents) -> Section:
    """Live tracked objects per class, and per group (owner, site, spider, domain)."""
    snap = contents.snapshot
    parts = [_prefs_table(snap.prefs, "table-tracked")]
    for key, report in snap.prefs_by.items():
        if not any(r.group for r in report.rows):
            continue  # nothing was made under an owner (or at a recorded site)
        parts.append(f"<h3>By {esc(key)}</h3>")
        parts.append(note(wire.GROUP_KEYS.get(key, key)))
        parts.append(_prefs_table(report, f"table-by-{key}"))
    return Section("tracked", "Tracked classes", "".join(parts))


def _prefs_table(report: PrefsReport, table_id: str) -> str:
    if not report.rows:
        return note(
            "No tracked class has live objects (classes derive from "
            "leakscope.trackref.object_ref, or are registered with track())."
        )
    grouped = report.group_by is not None
    columns = [Column("Class")]
    if grouped:
        columns.append(Column(str(report.group_by).capitalize()))
    columns += [Column("Live (objects)", True), Column("Oldest (age)", True)]
    with_growth = not grouped and any(r.rate_per_min is not None for r in report.rows)
    if with_growth:
        columns += [
            Column("Change over 1 min (objects)", True),
            Column("Change over 10 min (objects)", True),
            Column("Rate", True),
        ]
    columns.append(Column("Source"))
    rows = []
    for r in sorted(report.rows, key=lambda r: (-r.count, r.cls)):
        row = [cell(r.cls)]
        if grouped:
            row.append(cell(r.group or "-"))
        row += [
            cell(objects(r.count), r.count),
            cell(duration(r.oldest_age_s), r.oldest_age_s if r.oldest_age_s is not None else -1),
        ]
        if with_growth:
            row += [
                cell(signed_objects(r.change_1m), r.change_1m),
                cell(signed_objects(r.change_10m), r.change_10m),
                cell(per_minute(r.rate_per_min), r.rate_per_min),
            ]
        row.append(cell(r.source))
        rows.append(row)
    return table(table_id, columns, rows)


# -- the process -----------------------------------------------------------------------


def process(contents: ReportContents) -> Section:
    """The memory picture of the process, figure by figure, with the verdict."""
    memory = contents.snapshot.memory
    if memory is None:
        return Section("process", "Memory", note("No memory figures in this report."))
    f = memory.figures
    figures: list[tuple[str, str, str]] = [
        ("Process RSS", nbytes(f.rss), "resident memory"),
        ("Process USS", nbytes(f.uss), "memory only this process uses"),
        ("Swap", nbytes(f.swap), ""),
        ("Python objects", nbytes(f.python_objects_bytes), f.python_objects_source or ""),
        (
            "Allocated blocks",
            objects(f.allocated_blocks).replace("object", "block"),
            "sys.getallocatedblocks()",
        ),
    ]
    if f.traced_current is not None:
        figures.append(
            ("tracemalloc, traced now", nbytes(f.traced_current), f"peak {nbytes(f.traced_peak)}")
        )
    if f.pymalloc is not None:
        pm = f.pymalloc
        figures += [
            (
                "pymalloc arenas",
                nbytes(pm.arena_bytes),
                f"{pm.arenas_in_use:,} arenas, {100 * pm.utilisation:.0f} % used",
            ),
            ("pymalloc: free in arenas", nbytes(pm.free_bytes_in_arenas), ""),
        ]
    if f.malloc is not None:
        ml = f.malloc
        figures += [
            ("glibc malloc: in use", nbytes(ml.in_use), ""),
            ("glibc malloc: free but held", nbytes(ml.free_held), "mallinfo2 fordblks"),
            ("glibc malloc: releasable by malloc_trim", nbytes(ml.releasable), ""),
        ]
    v = memory.verdict
    verdict = (
        f'<div class="verdict {esc(v.verdict)}"><strong>{esc(v.verdict)}</strong>: '
        f"{esc(v.reason)}</div>"
    )
    rows = "".join(
        f'<tr><th scope="row">{esc(a)}</th><td class="n">{esc(b)}</td><td>{esc(c)}</td></tr>'
        for a, b, c in figures
    )
    return Section(
        "process",
        "Memory",
        verdict + f'<table class="figures"><tbody>{rows}</tbody></table>',
    )


# -- how it was made -------------------------------------------------------------------


def about(contents: ReportContents) -> Section:
    """How the page was made: the command, the sources, what ran in the target."""
    items = [f"Command: <code>{esc(contents.command)}</code>"]
    if contents.files:
        files = ", ".join(os.path.basename(f) for f in contents.files)
        items.append(f"Read from files: {esc(files)}")
    else:
        items.append(f"Asked the agent of process {contents.snapshot.pid} over its Unix socket.")
    if contents.snapshot.collected:
        items.append("gc.collect() ran in the target before the census (--collect).")
    else:
        items.append("No garbage collection was forced in the target.")
    items.append(
        "Charts drawn by Apache ECharts 6.1.0 (Apache-2.0), embedded in this page; "
        "the page makes no network request."
    )
    body = "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"
    return Section("about", "How this was made", body)
