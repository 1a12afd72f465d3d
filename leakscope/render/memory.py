"""The memory picture: process, Python objects, allocators, and the verdict."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table

from leakscope.render.text import size, sparkline
from leakscope.snapshot import MemoryReport

_VERDICT_STYLE = {
    "live-objects": "bold red",
    "allocator-held": "bold yellow",
    "native": "bold magenta",
    "no-growth": "bold green",
}


def _get(d: dict[str, Any] | None, key: str) -> Any:
    return None if d is None else d.get(key)


def memory_view(report: MemoryReport) -> Group:
    """One table of figures and a panel with the verdict."""
    f = report.figures
    table = Table(title=f"Memory of pid {report.pid}", title_justify="left", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    table.add_column("note", style="dim")
    rss_trend = [float(s["rss"]) for s in report.samples if s.get("rss") is not None]
    table.add_row("process RSS", size(f.get("rss")), sparkline(rss_trend))
    table.add_row("process USS", size(f.get("uss")), "")
    table.add_row("swap", size(f.get("swap")), "")
    table.add_row(
        "Python objects",
        size(f.get("python_objects_bytes")),
        str(f.get("python_objects_source") or ""),
    )
    table.add_row(
        "allocated blocks", f"{f.get('allocated_blocks') or 0:,}", "sys.getallocatedblocks()"
    )
    tm = f.get("tracemalloc")
    if tm:
        table.add_row(
            "tracemalloc current", size(tm.get("current")), f"peak {size(tm.get('peak'))}"
        )
    pm = f.get("pymalloc")
    if pm:
        table.add_row(
            "pymalloc arenas",
            size(_get(pm, "arena_bytes")),
            f"{_get(pm, 'arenas_in_use') or _get(pm, 'arenas_total')} arenas, "
            f"{100 * float(_get(pm, 'utilisation') or 0):.0f}% used",
        )
        table.add_row("  free in arenas", size(_get(pm, "free_bytes_in_arenas")), "")
    ml = f.get("malloc")
    if ml:
        table.add_row("glibc malloc in use", size(_get(ml, "in_use")), "")
        table.add_row("  held free", size(_get(ml, "free_held")), "mallinfo2 fordblks")
        table.add_row("  releasable by trim", size(_get(ml, "releasable")), "")
    if report.trim is not None:
        t = report.trim
        table.add_row(
            "malloc_trim(0)",
            f"{size(t.get('rss_before'))} → {size(t.get('rss_after'))}",
            ("released memory" if t.get("trimmed") else "nothing to release")
            if t.get("supported", True)
            else "malloc_trim is not available here",
        )
    verdict = str(report.verdict.get("verdict", "?"))
    body = (
        f"[{_VERDICT_STYLE.get(verdict, 'bold')}]{verdict}[/]: {report.verdict.get('reason', '')}"
    )
    if report.verdict.get("trim_may_help") and report.trim is None:
        body += "\n[dim]`leakscope memory --trim` may return memory to the OS.[/]"
    return Group(table, Panel(body, title="verdict", title_align="left"))
