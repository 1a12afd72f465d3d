"""The heap partition table: Index, Count, %, Size, %, Cumulative %, Kind."""

from __future__ import annotations

from leakscope.client.reports import HeapReport
from leakscope.render.console import Table
from leakscope.render.paths import legend
from leakscope.render.text import size

_TITLES = {
    "type": "by type",
    "via": "by referrer edge (via)",
    "referrer": "by referrer type",
    "module": "by module",
    "size": "by object size",
}


def heap_table(report: HeapReport) -> Table:
    """Guppy-style partition table of one census."""
    what = _TITLES.get(report.partition, report.partition)
    if report.of:
        what += f" of {report.of}"
    title = (
        f"Heap of pid {report.pid} {what}: {report.total_count:,} objects, "
        f"{size(report.total_size)}"
    )
    table = Table(title=title, title_justify="left", caption_justify="left")
    for name, justify in (
        ("Index", "right"),
        ("Count", "right"),
        ("%", "right"),
        ("Size", "right"),
        ("%", "right"),
        ("Cumulative %", "right"),
        ("Kind", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    total_count = report.total_count or 1
    total_size = report.total_size or 1
    cumulative = 0
    for i, row in enumerate(report.rows):
        cumulative += row.size
        table.add_row(
            str(i),
            f"{row.count:,}",
            f"{100 * row.count / total_count:.0f}",
            size(row.size),
            f"{100 * row.size / total_size:.0f}",
            f"{100 * cumulative / total_size:.0f}",
            row.kind,
        )
    notes = [
        f"{report.backend} census in {report.elapsed_s:.2f} s, "
        f"longest pause of the target {1000 * report.max_pause_s:.0f} ms"
    ]
    if report.partial:
        notes.append("PARTIAL: cut by --max-objects")
    if report.collected:
        notes.append("gc.collect() ran first (--collect)")
    if report.partition == "via":
        note = legend([row.kind for row in report.rows])
        if note:
            notes.append(note)
    table.caption = "; ".join(notes)
    return table
