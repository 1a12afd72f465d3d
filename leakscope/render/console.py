"""The terminal: the Console and the Table every renderer and command uses.

Most of what a table shows is the target program's text, not ours: class
names, reprs, attribute values, dict keys, file names, command lines. Rich
would read ``[/b]`` in a repr as markup (and fail on it) and ``:fire:`` as an
emoji code. So the Console here replaces no emoji codes, and the Table takes
every string cell, title and caption literally; styled text of our own is a
`rich.text.Text`, or markup with the target's parts passed through
`rich.markup.escape`.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console, RenderableType
from rich.table import Table as _RichTable
from rich.text import Text


def new_console(*, stderr: bool = False) -> Console:
    """A Console for leakscope's output (no emoji codes; markup only where we write it)."""
    return Console(stderr=stderr, emoji=False)


def _literal(value: Any, style: str) -> Any:
    return Text(value, style=style) if isinstance(value, str) else value


class Table(_RichTable):
    """A Rich table whose string cells, title and caption are shown as they are."""

    def __init__(self, *headers: Any, **options: Any) -> None:
        for key in ("title", "caption"):
            if key in options:
                options[key] = _literal(options[key], f"table.{key}")
        super().__init__(*headers, **options)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("title", "caption"):
            value = _literal(value, f"table.{name}")
        super().__setattr__(name, value)

    def add_row(
        self,
        *renderables: RenderableType | None,
        style: Any = None,
        end_section: bool = False,
    ) -> None:
        """Add a row; a `str` cell is literal text (no markup, no emoji codes)."""
        cells = [Text(cell) if isinstance(cell, str) else cell for cell in renderables]
        super().add_row(*cells, style=style, end_section=end_section)
