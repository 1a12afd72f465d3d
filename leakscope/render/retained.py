"""Tables of `leakscope retained` and `leakscope leaks` (typed reports in, text out)."""

from __future__ import annotations

import textwrap

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from leakscope.client.analysis.suspects import path_text, seconds_text
from leakscope.client.reports import LeaksReport, RetainedReport
from leakscope.render.console import Table, new_console
from leakscope.render.paths import legend
from leakscope.render.text import size


def retained_table(report: RetainedReport) -> Table:
    """The largest retainers, one row each: retained size and count, shallow size, path."""
    what = "classes" if report.by_class else "objects"
    title = (
        f"Retained memory of {report.source or f'pid {report.pid}'}, by {what}: "
        f"{report.total_count:,} objects, {size(report.total_size)}"
    )
    table = Table(title=title, title_justify="left", caption_justify="left")
    table.add_column("#", justify="right")
    table.add_column("Retained", justify="right")
    table.add_column("Objects", justify="right")
    if report.by_class:
        table.add_column("Instances", justify="right")
    table.add_column("Shallow", justify="right")
    table.add_column("Class" if report.by_class else "Type")
    if not report.by_class:
        table.add_column("Path from a root / object")
    labels: list[str] = []
    for i, row in enumerate(report.rows):
        cells: list[str | Text] = [str(i), size(row.retained_size), f"{row.retained_count:,}"]
        if report.by_class:
            cells.append(f"{row.count:,}")
        cells += [size(row.size), row.type]
        if not report.by_class:
            where = path_text(row.path) if row.path is not None else ""
            labels += [e.label for e in row.path.edges] if row.path is not None else []
            cells.append(Text.assemble(where, "\n", (row.repr, "dim")))
        table.add_row(*cells)
    notes = ["retained: what would be freed with it (the objects it dominates)"]
    if report.by_class:
        notes.append("an instance inside another of its class is counted once")
    if report.max_pause_s is not None:
        notes.append(
            f"longest pause of the target while dumping {1000 * report.max_pause_s:.0f} ms"
        )
    note = legend(labels)
    if note:
        notes.append(note)
    table.caption = "; ".join(notes)
    return table


def print_leaks(report: LeaksReport, console: Console | None = None) -> None:
    """The suspects, each with its finding, holder, path and creation sites."""
    console = console or new_console()
    console.print(
        f"[bold]Leak suspects in pid {report.pid}[/] over {seconds_text(report.interval_s)} s "
        "(new objects that only a suspect keeps alive count in it)"
    )
    if report.note:
        console.print(f"[dim]{escape(report.note)}[/]")
    if not report.suspects:
        console.print("[green]Nothing grew that new objects keep alive: no suspect.[/]")
        return
    for i, suspect in enumerate(report.suspects, 1):
        console.print()
        console.print(
            f"[bold]{i}. {escape(suspect.kind)}[/]  {suspect.count_delta:+,} "
            f"({suspect.count_before:,} → {suspect.count_after:,}), "
            f"{size(suspect.retained_size)} kept alive by the new ones"
        )
        holder = suspect.holder
        if holder is not None:
            console.print(
                f"   held by: [cyan]{escape(holder.type)}[/] at "
                f"[cyan]{escape(path_text(holder.path))}[/]"
            )
            console.print(
                f"            retains {size(holder.retained_size)} in "
                f"{holder.retained_count:,} object{'' if holder.retained_count == 1 else 's'}; "
                f"holds {holder.share:.0%} of the new ones"
            )
        for site in suspect.sites[:5]:
            where = f"{site.function}() " if site.function else ""
            console.print(f"   made in: {escape(where)}{escape(site.site)}  ({site.count:,})")
        if report.sites_asked and not suspect.sites:
            console.print("   made in: [dim]no trace (made before tracing, or not a GC object)[/]")
        # Indented as a block: a finding longer than the terminal wraps under itself.
        finding = textwrap.fill(
            suspect.finding,
            width=max(console.width - 1, 40),
            initial_indent="   ",
            subsequent_indent="   ",
            break_on_hyphens=False,
        )
        console.print(Text(finding, style="yellow"))
