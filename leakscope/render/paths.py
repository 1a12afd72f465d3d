"""Retention paths: as text in the terminal and as a Graphviz file."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.tree import Tree


def print_path(why: dict[str, Any], console: Console | None = None) -> None:
    """Print a retention path as a tree, root first, one edge per level."""
    console = console or Console()
    if not why.get("found"):
        reason = why.get("reason") or "no path from a root was found (held only by C code?)"
        console.print(f"[yellow]Retention path: {reason}[/]")
        return
    root = Tree(f"[bold]root:[/] {why.get('root', '?')}")
    node = root
    for edge in why.get("edges", []):
        weak = " [dim](weak)[/]" if edge.get("weak") else ""
        node = node.add(f"[cyan]{edge.get('label', '?')}[/] → {edge.get('to_kind', '?')}{weak}")
    elapsed = why.get("elapsed_s")
    title = "Why is it alive? (retention path"
    title += f", found in {elapsed:.2f} s)" if isinstance(elapsed, (int, float)) else ")"
    console.print(title)
    console.print(root)


def to_dot(why: dict[str, Any]) -> str:
    """Graphviz text of a retention path."""
    lines = ["digraph retention {", "  rankdir=LR;", '  node [shape=box, fontname="monospace"];']
    lines.append(f"  n0 [label={json.dumps(str(why.get('root', 'root')))}, shape=ellipse];")
    for i, edge in enumerate(why.get("edges", []), 1):
        lines.append(f"  n{i} [label={json.dumps(str(edge.get('to_kind', '?')))}];")
        style = ", style=dashed" if edge.get("weak") else ""
        lines.append(f"  n{i - 1} -> n{i} [label={json.dumps(str(edge.get('label', '')))}{style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_graph(why: dict[str, Any], path: str) -> list[str]:
    """Write the path as a .dot file, and .svg/.png beside it when `dot` is installed."""
    target = Path(path)
    target.write_text(to_dot(why))
    written = [str(target)]
    dot = shutil.which("dot")
    if dot:
        for fmt in ("svg", "png"):
            out = target.with_suffix(f".{fmt}")
            result = subprocess.run(
                [dot, f"-T{fmt}", str(target), "-o", str(out)],
                capture_output=True,
                timeout=30,
                check=False,
            )
            if result.returncode == 0:
                written.append(str(out))
    return written
