"""The memory picture: process, Python objects, allocators, and the verdict."""

from __future__ import annotations

from rich.console import Group
from rich.markup import escape
from rich.panel import Panel

from leakscope.client.reports import MemoryReport
from leakscope.render.console import Table
from leakscope.render.text import size, sparkline

_VERDICT_STYLE = {
    "live-objects": "bold red",
    "allocator-held": "bold yellow",
    "native": "bold magenta",
    "no-growth": "bold green",
}


def memory_view(report: MemoryReport) -> Group:
    """One table of figures and a panel with the verdict."""
    f = report.figures
    table = Table(
        title=f"Memory of pid {report.pid}",
        title_justify="left",
        caption_justify="left",
        show_header=False,
    )
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    table.add_column("note", style="dim")
    rss_trend = [float(s.rss) for s in report.samples if s.rss is not None]
    table.add_row("process RSS", size(f.rss), sparkline(rss_trend))
    table.add_row("process USS", size(f.uss), "")
    table.add_row("swap", size(f.swap), "")
    table.add_row("Python objects", size(f.python_objects_bytes), f.python_objects_source or "")
    blocks = "-" if f.allocated_blocks is None else f"{f.allocated_blocks:,}"
    table.add_row("allocated blocks", blocks, "sys.getallocatedblocks()")
    if f.traced_current is not None:
        table.add_row("tracemalloc current", size(f.traced_current), f"peak {size(f.traced_peak)}")
    pm = f.pymalloc
    if pm is not None:
        table.add_row(
            "pymalloc arenas",
            size(pm.arena_bytes),
            f"{pm.arenas_in_use} arenas, {100 * pm.utilisation:.0f}% used",
        )
        table.add_row("  free in arenas", size(pm.free_bytes_in_arenas), "")
    ml = f.malloc
    if ml is not None:
        table.add_row("glibc malloc in use", size(ml.in_use), "")
        table.add_row("  held free", size(ml.free_held), "mallinfo2 fordblks")
        table.add_row("  releasable by trim", size(ml.releasable), "")
    t = report.trim
    if t is not None:
        if not t.supported:
            note = "malloc_trim is not available here"
        else:
            note = "released memory" if t.trimmed else "nothing to release"
        table.add_row("malloc_trim(0)", f"{size(t.rss_before)} → {size(t.rss_after)}", note)
    verdict = report.verdict
    style = _VERDICT_STYLE.get(verdict.verdict, "bold")
    body = f"[{style}]{verdict.verdict}[/]: {escape(verdict.reason)}"
    if verdict.trim_may_help and t is None:
        body += "\n[dim]`leakscope memory --trim` may return memory to the OS.[/]"
    return Group(table, Panel(body, title="verdict", title_align="left"))
