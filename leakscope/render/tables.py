"""Rich tables for the live-ref views: ps, prefs, oldest, all."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console

from leakscope.render.console import Table, new_console
from leakscope.render.text import age, signed, sparkline

if TYPE_CHECKING:
    from leakscope.client.reports import AgentInfo, ObjectInfo, ObjectsReport, PrefsReport, PrefsRow


def agents_table(agents: list[AgentInfo]) -> Table:
    """`leakscope ps`."""
    table = Table(
        title="Processes with a leakscope agent", title_justify="left", caption_justify="left"
    )
    table.add_column("PID", justify="right", style="bold")
    table.add_column("PPID", justify="right")
    table.add_column("Role")
    table.add_column("Name")
    table.add_column("Python")
    table.add_column("Command", overflow="fold", max_width=60)
    table.add_column("Socket", overflow="fold")
    for a in agents:
        table.add_row(
            str(a.pid),
            "" if a.ppid is None else str(a.ppid),
            a.role,
            a.name,
            a.python,
            " ".join(a.argv),
            _socket_cell(a.socket),
        )
    return table


def _socket_cell(path: str) -> str:
    """A long socket path breaks before its file name, never inside the PID."""
    head, sep, name = path.rpartition("/")
    return f"{head}/\n{name}" if sep and len(path) > 40 else path


def prefs_table(
    report: PrefsReport, spark: dict[str, list[int]] | None = None, show_growth: bool = True
) -> Table:
    """The "Live References" table of one process."""
    grouped = report.group_by is not None
    title = f"Live References — pid {report.pid}"
    if grouped:
        title += f", by {report.group_by}"
    table = Table(title=title, title_justify="left", caption_justify="left")
    table.add_column("Class", style="bold", overflow="fold", min_width=20)
    if grouped:
        table.add_column(report.group_by.capitalize() if report.group_by else "Group")
    table.add_column("Count", justify="right")
    table.add_column("Oldest", justify="right")
    growth = (
        show_growth
        and report.history
        and not grouped
        and any(r.change_1m is not None or r.rate_per_min is not None for r in report.rows)
    )
    if growth:
        table.add_column("Δ 1m", justify="right")
        table.add_column("Δ 10m", justify="right")
        table.add_column("/min", justify="right")
    if spark is not None:
        table.add_column("History")
    table.add_column("Source", style="dim")
    for r in report.rows:
        cells = [r.cls]
        if grouped:
            cells.append(r.group or "-")
        cells += [f"{r.count:,}", age(r.oldest_age_s)]
        if growth:
            cells += [signed(r.change_1m), signed(r.change_10m), signed(r.rate_per_min)]
        if spark is not None:
            cells.append(sparkline(spark.get(spark_key(r), [])))
        cells.append(r.source)
        table.add_row(*cells)
    notes = []
    if not report.rows:
        notes.append("no live tracked objects")
    if report.partial:
        notes.append("PARTIAL: the grouping ran out of time; the rest is in one group")
    if report.collected:
        notes.append("gc.collect() ran first (--collect)")
    table.caption = "; ".join(notes) or None
    return table


def spark_key(row: PrefsRow) -> str:
    """The key of a row's sparkline series: its class, and group when grouped."""
    return row.cls if row.group is None else f"{row.cls}|{row.group}"


def object_panel(obj: ObjectInfo, heading: str) -> Table:
    """One object: class, id, age, repr, attributes."""
    table = Table(title=heading, title_justify="left", caption_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row("class", obj.cls)
    table.add_row("id", f"{obj.id:#x} ({obj.id})")
    table.add_row("age", age(obj.age_s))
    table.add_row("repr", obj.repr)
    for name, value in obj.attrs.items():
        table.add_row(f".{name}", value)
    return table


def objects_table(report: ObjectsReport) -> Table:
    """`leakscope all`: one row per object, oldest first."""
    names: list[str] = []
    for o in report.objects:
        for n in o.attrs:
            if n not in names:
                names.append(n)
    shown = len(report.objects)
    table = Table(
        title=f"Live {report.cls} objects — {shown:,} of {report.total:,}, oldest first",
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("#", justify="right")
    table.add_column("Age", justify="right")
    table.add_column("Id")
    for n in names:
        table.add_column(f".{n}", overflow="fold")
    table.add_column("Repr", overflow="fold")
    for i, o in enumerate(report.objects, 1):
        table.add_row(
            str(i), age(o.age_s), f"{o.id:#x}", *[o.attrs.get(n, "") for n in names], o.repr
        )
    return table


def print_table(table: Table, console: Console | None = None) -> None:
    """Print a table on stdout."""
    (console or new_console()).print(table)
