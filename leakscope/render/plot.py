"""A terminal plot of one class's count over time."""

from __future__ import annotations

import time

from rich.console import Group
from rich.text import Text

from leakscope.client.reports import HistoryReport
from leakscope.render.text import sparkline

_BLOCKS = " ▁▂▃▄▅▆▇█"


def history_plot(report: HistoryReport, tall: bool = False) -> Group:
    """A sparkline (or, with *tall*, a 10-line bar chart) of the samples."""
    counts = [count for _, count in report.samples]
    name = report.cls
    if not counts:
        return Group(Text(f"{name}: no samples yet", style="yellow"))
    first, last = report.samples[0][0], report.samples[-1][0]
    span = f"{time.strftime('%H:%M:%S', time.localtime(first))} → " + time.strftime(
        "%H:%M:%S", time.localtime(last)
    )
    head = Text(
        f"{name}: {counts[-1]:,} live now, min {min(counts):,}, max {max(counts):,}, "
        f"{len(counts)} samples, {span}",
        style="bold",
    )
    if not tall:
        return Group(head, Text(sparkline(counts, width=80)))
    width = 72
    step = max(1, len(counts) // width)
    points = [max(counts[i : i + step]) for i in range(0, len(counts), step)][-width:]
    low, high = min(points), max(points)
    rows = 10
    lines = []
    for level in range(rows, 0, -1):
        line = []
        for v in points:
            height = 0.0 if high == low else (v - low) / (high - low) * rows
            if height >= level:
                line.append("█")
            elif height > level - 1:
                line.append(_BLOCKS[int((height - (level - 1)) * 8)])
            else:
                line.append(" ")
        label = " " * 11 + "│"
        if level == rows:
            label = f"{high:>10,.0f} ┤"
        elif level == 1:
            label = f"{low:>10,.0f} ┤"
        lines.append(Text(label + "".join(line)))
    return Group(head, *lines)
