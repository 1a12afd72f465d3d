"""Tables of a diff: live-ref rows and heap rows, biggest growth first."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.text import Text

from leakscope.client.reports import DiffReport
from leakscope.render.console import Table
from leakscope.render.text import duration, size


def diff_view(report: DiffReport, limit: int) -> Group:
    """The live-ref table (when anything is tracked), the heap table when both sides
    had a census (types that changed only), and the diff's warnings."""
    parts: list[RenderableType] = [
        f"[yellow]warning: {escape(note)}[/]" for note in report.warnings
    ]
    span = f"{duration(abs(report.interval_s))} apart"
    pids = (
        f"pid {report.before.pid}"
        if report.before.pid == report.after.pid
        else f"pid {report.before.pid} → pid {report.after.pid}"
    )
    if report.tracked:
        grouped = report.group_by is not None
        t = Table(
            title=f"Live references: {pids}, {span}", title_justify="left", caption_justify="left"
        )
        t.add_column("Class", style="bold", overflow="fold", min_width=20)
        if grouped:
            t.add_column(str(report.group_by).capitalize())
        for name in ("Before", "After", "Δ"):
            t.add_column(name, justify="right")
        for row in report.rows[:limit]:
            cells: list[str | Text] = [row.cls]
            if grouped:
                cells.append(row.group or "-")
            style = "red" if row.delta > 0 else ("green" if row.delta < 0 else "")
            delta = f"{row.delta:+,}" if row.delta else "0"
            cells += [
                f"{row.before:,}",
                f"{row.after:,}",
                Text(delta, style=style),
            ]
            t.add_row(*cells)
        parts.append(t)
    else:
        parts.append(f"[dim]No tracked classes on either side ({pids}, {span}).[/]")
    changed = [r for r in report.heap_rows if r.delta or r.size_delta]
    if changed:
        h = Table(
            title=f"Heap by type (types that changed): {pids}, {span}",
            title_justify="left",
            caption_justify="left",
        )
        h.add_column("Type", style="bold")
        for name in ("Before", "After", "Δ count", "Δ size"):
            h.add_column(name, justify="right")
        for change in changed[:limit]:
            h.add_row(
                change.kind,
                f"{change.before:,}",
                f"{change.after:,}",
                f"{change.delta:+,}" if change.delta else "0",
                ("+" if change.size_delta > 0 else "") + size(change.size_delta),
            )
        parts.append(h)
    elif report.heap_rows:
        parts.append("[dim]Heap by type: no type changed.[/]")
    if report.collected:
        parts.append("[dim]gc.collect() ran before a census (--collect)[/]")
    return Group(*parts)
