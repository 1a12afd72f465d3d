"""Tables of a diff: live-ref rows and heap rows, biggest growth first."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table

from leakscope.render.text import signed, size


def diff_view(result: dict[str, Any], limit: int) -> Group:
    """The live-ref table, and the heap table when both sides had a census."""
    grouped = result.get("group_by") is not None
    t = Table(
        title=f"Live references: pid {result['before']['pid']} → pid {result['after']['pid']}, "
        f"{result['interval_s']:g} s apart",
        title_justify="left",
    )
    t.add_column("Class", style="bold", overflow="fold", min_width=20)
    if grouped:
        t.add_column(str(result["group_by"]).capitalize())
    for name in ("Before", "After", "Δ"):
        t.add_column(name, justify="right")
    for row in result["rows"][:limit]:
        cells = [row["class"]]
        if grouped:
            cells.append(str(row.get("group", "-")))
        style = "red" if row["delta"] > 0 else ("green" if row["delta"] < 0 else "")
        cells += [
            f"{row['before']:,}",
            f"{row['after']:,}",
            f"[{style}]{signed(row['delta'])}[/]" if style else "0",
        ]
        t.add_row(*cells)
    parts: list[Any] = [t]
    if result.get("heap_rows"):
        h = Table(title="Heap by type", title_justify="left")
        h.add_column("Type", style="bold")
        for name in ("Before", "After", "Δ count", "Δ size"):
            h.add_column(name, justify="right")
        for row in result["heap_rows"][:limit]:
            h.add_row(
                row["kind"],
                f"{row['before']:,}",
                f"{row['after']:,}",
                signed(row["delta"]),
                ("+" if row["size_delta"] > 0 else "") + size(row["size_delta"]),
            )
        parts.append(h)
    if result.get("collected"):
        parts.append("[dim]gc.collect() ran before a census (--collect)[/]")
    return Group(*parts)
