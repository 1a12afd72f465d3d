"""Retention paths: as a tree in the terminal and as Graphviz text."""

from __future__ import annotations

import json
import shutil
import subprocess

from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

from leakscope.client.reports import PathEdge, RetentionPath
from leakscope.render.console import new_console

#: What the less obvious edge labels mean (shown under a path or a via table that has them).
LABELS = {
    "[*]": "an item of a long list (its position is not shown)",
    ".?": "an attribute whose name leakscope cannot read without changing the object",
    "<key>": "a dict key",
    "<member>": "a member of a set",
    ".__dict__": "the object's own attribute dict",
    "()": "a weak reference's target",
}


def legend(labels: list[str]) -> str | None:
    """One line explaining the special labels among *labels*, or None."""
    found = [f"{label} {LABELS[label]}" for label in LABELS if any(label in x for x in labels)]
    return "; ".join(found) if found else None


#: Paths of at most this many edges are drawn as a tree; longer ones one edge a line.
NESTED_EDGES = 12
#: Edges of a long path shown: the first and the last half of these.
SHOWN_EDGES = 40


def _edge_text(edge: PathEdge) -> str:
    weak = " [dim](weak)[/]" if edge.weak else ""
    return f"[cyan]{escape(edge.label)}[/] → {escape(edge.to_kind)}{weak}"


def print_path(why: RetentionPath, console: Console | None = None) -> None:
    """Print a retention path as a tree, root first, one edge per level."""
    console = console or new_console()
    if not why.found:
        if why.partial:
            console.print(
                "[yellow]Retention path: none found; the search stopped early (the heap "
                "changed under it, or it reached its limit): try again, or look in a dump "
                "(leakscope dump -o FILE, then --why --dump FILE)[/]"
            )
        else:
            console.print(
                "[yellow]Retention path: no path from a root was found (held only by C code?)[/]"
            )
        return
    title = "Why is it alive? (retention path"
    title += f", found in {why.elapsed_s:.2f} s)" if why.elapsed_s is not None else ")"
    console.print(title)
    if len(why.edges) <= NESTED_EDGES:
        root = Tree(f"[bold]root:[/] {escape(why.root or '?')}")
        node = root
        for edge in why.edges:
            node = node.add(_edge_text(edge))
        console.print(root)
    else:  # a long chain: one edge a line (nested, it would run off the screen)
        console.print(f"[bold]root:[/] {escape(why.root or '?')}")
        numbered = list(enumerate(why.edges, 1))
        half = SHOWN_EDGES // 2
        cut = len(numbered) > SHOWN_EDGES
        for i, edge in numbered[:half] if cut else numbered:
            console.print(f"{i:>7,}. {_edge_text(edge)}")
        if cut:
            console.print(f"[dim]{'':>9}... {len(numbered) - 2 * half:,} more edges ...[/]")
            for i, edge in numbered[-half:]:
                console.print(f"{i:>7,}. {_edge_text(edge)}")
    note = legend([e.label for e in why.edges])
    if note:
        console.print(f"[dim]{escape(note)}[/]")


def to_dot(why: RetentionPath) -> str:
    """Graphviz text of a retention path (weak edges dashed)."""
    lines = ["digraph retention {", "  rankdir=LR;", '  node [shape=box, fontname="monospace"];']
    lines.append(f"  n0 [label={json.dumps(why.root or 'root')}, shape=ellipse];")
    for i, edge in enumerate(why.edges, 1):
        lines.append(f"  n{i} [label={json.dumps(edge.to_kind)}];")
        style = ", style=dashed" if edge.weak else ""
        lines.append(f"  n{i - 1} -> n{i} [label={json.dumps(edge.label)}{style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def dot_image(dot_text: str, fmt: str) -> bytes | None:
    """*dot_text* drawn by Graphviz's ``dot`` as *fmt* ("svg", "png"); None without ``dot``."""
    dot = shutil.which("dot")
    if dot is None:
        return None
    done = subprocess.run(
        [dot, f"-T{fmt}"], input=dot_text.encode(), capture_output=True, timeout=30, check=False
    )
    return done.stdout if done.returncode == 0 else None
