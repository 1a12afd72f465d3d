"""Tables for several processes at once: one column per process plus a total."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from leakscope.render.text import age, size


def _pid_header(pid: int, fastest: int | None) -> str:
    return f"▲ {pid}" if pid == fastest else str(pid)


def multi_prefs_table(data: dict[str, Any]) -> Table:
    """Live refs of several processes; the fastest-growing process is marked ▲."""
    pids: list[int] = data["pids"]
    fastest = data.get("fastest_growing")
    grouped = data.get("group_by") is not None
    table = Table(title=f"Live References — {len(pids)} processes", title_justify="left")
    table.add_column("Class", style="bold", overflow="fold", min_width=20)
    if grouped:
        table.add_column(str(data["group_by"]).capitalize())
    for pid in pids:
        table.add_column(_pid_header(pid, fastest), justify="right")
    table.add_column("Total", justify="right", style="bold")
    table.add_column("Oldest", justify="right")
    for row in data["rows"]:
        cells = [row["class"]]
        if grouped:
            cells.append(str(row.get("group") or "-"))
        cells += [f"{row['per_pid'].get(str(pid), 0):,}" for pid in pids]
        cells += [f"{row['count']:,}", age(row.get("oldest_age_s"))]
        table.add_row(*cells)
    notes = []
    if fastest is not None:
        notes.append(f"▲ grows fastest: pid {fastest}")
    if data.get("gone"):
        notes.append("gone: " + ", ".join(str(p) for p in data["gone"]))
    table.caption = "; ".join(notes) or None
    return table


def multi_heap_table(data: dict[str, Any]) -> Table:
    """Heap by type of several processes: count per process, total count and size."""
    pids: list[int] = data["pids"]
    table = Table(title=f"Heap by type — {len(pids)} processes", title_justify="left")
    table.add_column("Type", style="bold", overflow="fold")
    for pid in pids:
        table.add_column(str(pid), justify="right")
    table.add_column("Total", justify="right", style="bold")
    table.add_column("Size", justify="right")
    for row in data["rows"]:
        table.add_row(
            row["kind"],
            *[f"{row['per_pid'].get(str(pid), 0):,}" for pid in pids],
            f"{row['count']:,}",
            size(row["size"]),
        )
    if data.get("gone"):
        table.caption = "gone: " + ", ".join(str(p) for p in data["gone"])
    return table


def multi_memory_table(data: dict[str, Any]) -> Table:
    """One row per process: RSS, USS, Python objects, allocator-held, verdict."""
    table = Table(title=f"Memory — {len(data['pids'])} processes", title_justify="left")
    for name in ("PID", "RSS", "USS", "Python objects", "Verdict"):
        table.add_column(name, justify="left" if name == "Verdict" else "right")
    for row in data["rows"]:
        table.add_row(
            str(row["pid"]),
            size(row.get("rss")),
            size(row.get("uss")),
            size(row.get("python_objects_bytes")),
            str(row.get("verdict")),
        )
    if data.get("gone"):
        table.caption = "gone: " + ", ".join(str(p) for p in data["gone"])
    return table


def multi_diff_table(data: dict[str, Any], limit: int) -> Table:
    """Growth per class over an interval, one column per process and a total."""
    pids = data["pids"]
    table = Table(title=f"Growth over {data['interval_s']:g} s — {len(pids)} processes")
    table.add_column("Class", style="bold", overflow="fold")
    for pid in pids:
        table.add_column(f"Δ {pid}", justify="right")
    table.add_column("Δ total", justify="right", style="bold")
    for row in data["rows"][:limit]:
        table.add_row(
            row["class"],
            *[f"{row['per_pid'].get(str(pid), 0):+d}" for pid in pids],
            f"{row['delta']:+d}",
        )
    return table
