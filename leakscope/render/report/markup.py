"""Small HTML pieces of the report: escaped text, numbers with their units, sortable tables.

Every string from the target (class names, command lines, reprs, paths) is
escaped here before it reaches the page: a report is opened in a browser, and
a hostile process must not be able to put markup or script into it.
"""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from dataclasses import dataclass

from leakscope.render.text import age, size


def esc(value: object) -> str:
    """*value* as HTML text (quotes escaped too, so it is safe in attributes)."""
    return html.escape(str(value), quote=True)


def objects(n: int | None) -> str:
    """``"1,234 objects"`` (``"1 object"``), or ``"-"``."""
    if n is None:
        return "-"
    return f"{n:,} object" if abs(n) == 1 else f"{n:,} objects"


def signed_objects(n: int | None) -> str:
    """``"+1,234 objects"``, ``"-3 objects"``, ``"0 objects"``."""
    if n is None:
        return "-"
    return ("+" if n > 0 else "") + objects(n)


def nbytes(n: float | None) -> str:
    """Bytes in IEC units: ``"12.3 MiB"``."""
    return size(n)


def signed_bytes(n: float | None) -> str:
    """``"+12.3 MiB"``, ``"-512 B"``."""
    if n is None:
        return "-"
    return ("+" if n > 0 else "-" if n < 0 else "") + size(abs(n))


def duration(seconds: float | None) -> str:
    """``"3.2 s"``, ``"4m 05s"``, ``"2h 01m"``."""
    if seconds is None:
        return "-"
    text = age(seconds)
    return text.replace("s", " s") if seconds < 60 else text


def per_minute(rate: float | None) -> str:
    """``"+12.5 objects/min"``."""
    if rate is None:
        return "-"
    return f"{rate:+,.1f} objects/min"


def when(t: float | None) -> str:
    """A local date and time with its UTC offset: ``"2026-12-01 14:03:07 +0100"``."""
    if t is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(t))


@dataclass(frozen=True)
class Column:
    """A table column: its title (with the unit) and whether it sorts as a number."""

    title: str
    numeric: bool = False


Cell = tuple[str, object]  # (text shown, value it sorts by)


def cell(text: str, sort: object = None) -> Cell:
    """A cell that shows *text* and sorts by *sort* (the text itself by default)."""
    return (text, text if sort is None else sort)


def table(
    table_id: str,
    columns: Sequence[Column],
    rows: Sequence[Sequence[Cell]],
    caption: str | None = None,
) -> str:
    """A sortable table: click a column's title to sort by it (again to reverse)."""
    head = "".join(
        f'<th scope="col" tabindex="0" data-type="num" class="n">{esc(c.title)}</th>'
        if c.numeric
        else f'<th scope="col" tabindex="0" data-type="text">{esc(c.title)}</th>'
        for c in columns
    )
    body = []
    for row in rows:
        cells = []
        for column, (text, sort) in zip(columns, row, strict=True):
            value = "" if sort is None else sort
            klass = ' class="n"' if column.numeric else ""
            cells.append(f'<td{klass} data-v="{esc(value)}">{esc(text)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return (
        f'<div class="table-wrap"><table class="sortable" id="{esc(table_id)}">{cap}'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def chart(chart_id: str, title: str, height_px: int = 320) -> str:
    """The place of one chart; the page's script draws it from the chart data of *chart_id*."""
    return (
        f'<figure class="chart-box"><figcaption>{esc(title)}</figcaption>'
        f'<div class="chart" id="chart-{esc(chart_id)}" data-chart="{esc(chart_id)}" '
        f'style="height:{int(height_px)}px"></div></figure>'
    )


def note(text: str, kind: str = "note") -> str:
    """A paragraph of explanation (``kind``: note, warning, hint)."""
    return f'<p class="{esc(kind)}">{esc(text)}</p>'
