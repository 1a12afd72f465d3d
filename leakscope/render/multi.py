"""Tables for several processes at once: one column per process plus a total."""

from __future__ import annotations

from leakscope.client.reports import MultiDiff, MultiHeap, MultiMemory, MultiPrefs
from leakscope.render.console import Table
from leakscope.render.text import age, duration, plural, signed, size


def _pid_header(pid: int, fastest: int | None) -> str:
    return f"▲ {pid}" if pid == fastest else str(pid)


def _gone(gone: dict[int, str]) -> str | None:
    return "gone: " + ", ".join(str(p) for p in gone) if gone else None


def multi_prefs_table(report: MultiPrefs) -> Table:
    """Live refs of several processes; the fastest-growing process is marked ▲."""
    grouped = report.group_by is not None
    table = Table(
        title=f"Live References — {plural(len(report.pids), 'process', 'processes')}",
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("Class", style="bold", overflow="fold", min_width=20)
    if grouped:
        table.add_column(str(report.group_by).capitalize())
    for pid in report.pids:
        table.add_column(_pid_header(pid, report.fastest_growing), justify="right")
    table.add_column("Total", justify="right", style="bold")
    table.add_column("Oldest", justify="right")
    for row in report.rows:
        cells = [row.cls]
        if grouped:
            cells.append(row.group or "-")
        cells += [f"{row.per_pid.get(pid, 0):,}" for pid in report.pids]
        cells += [f"{row.count:,}", age(row.oldest_age_s)]
        table.add_row(*cells)
    notes = []
    if report.fastest_growing is not None:
        notes.append(f"▲ grows fastest: pid {report.fastest_growing}")
    gone = _gone(report.gone)
    if gone:
        notes.append(gone)
    table.caption = "; ".join(notes) or None
    return table


def multi_heap_table(report: MultiHeap) -> Table:
    """Heap by type of several processes: count per process, total count and size."""
    table = Table(
        title=f"Heap by type — {plural(len(report.pids), 'process', 'processes')}",
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("Type", style="bold", overflow="fold")
    for pid in report.pids:
        table.add_column(str(pid), justify="right")
    table.add_column("Total", justify="right", style="bold")
    table.add_column("Size", justify="right")
    for row in report.rows:
        table.add_row(
            row.kind,
            *[f"{row.per_pid.get(pid, 0):,}" for pid in report.pids],
            f"{row.count:,}",
            size(row.size),
        )
    table.caption = _gone(report.gone)
    return table


def multi_memory_table(report: MultiMemory) -> Table:
    """One row per process: RSS, USS, Python objects, verdict."""
    table = Table(
        title=f"Memory — {plural(len(report.reports), 'process', 'processes')}",
        title_justify="left",
        caption_justify="left",
    )
    for name in ("PID", "RSS", "USS", "Python objects", "Verdict"):
        table.add_column(name, justify="left" if name == "Verdict" else "right")
    for r in report.reports:
        table.add_row(
            str(r.pid),
            size(r.figures.rss),
            size(r.figures.uss),
            size(r.figures.python_objects_bytes),
            r.verdict.verdict,
        )
    table.caption = _gone(report.gone)
    return table


def multi_diff_table(report: MultiDiff, limit: int) -> Table:
    """Growth per class over an interval, one column per process and a total."""
    table = Table(
        title=f"Growth over {duration(report.interval_s)} — "
        f"{plural(len(report.pids), 'process', 'processes')}",
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("Class", style="bold", overflow="fold")
    for pid in report.pids:
        table.add_column(f"Δ {pid}", justify="right")
    table.add_column("Δ total", justify="right", style="bold")
    for row in report.rows[:limit]:
        table.add_row(
            row.cls,
            *[signed(row.per_pid[pid]) if pid in row.per_pid else "-" for pid in report.pids],
            f"{row.delta:+,}",
        )
    table.caption = _gone(report.gone)
    return table


def multi_table(report: MultiPrefs | MultiHeap | MultiMemory | MultiDiff, limit: int) -> Table:
    """The table of any several-process report."""
    if isinstance(report, MultiPrefs):
        return multi_prefs_table(report)
    if isinstance(report, MultiHeap):
        return multi_heap_table(report)
    if isinstance(report, MultiMemory):
        return multi_memory_table(report)
    return multi_diff_table(report, limit)
