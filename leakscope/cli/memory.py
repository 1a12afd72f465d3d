"""`leakscope memory`: is it a leak, or memory the allocators keep?"""

from __future__ import annotations

import click

from leakscope.cli.options import target_options
from leakscope.snapshot import MemoryReport


def fetch_memory(pid: int | None, trim: bool, timeout: float) -> MemoryReport:
    """Ask the agent for the memory picture (and trim first when asked)."""
    from leakscope import client

    with client.connect(pid, timeout) as c:
        return MemoryReport.from_json(c.call("memory", trim))


@click.command()
@target_options
@click.option(
    "--trim",
    is_flag=True,
    help="Ask glibc to return free memory to the OS (malloc_trim(0)); shows RSS before and after.",
)
def memory(pid: int | None, timeout: float, as_json: bool, trim: bool) -> None:
    """Show the memory picture of the target and a verdict in plain words.

    RSS, USS and swap with their trend; bytes held by live Python objects; the
    pymalloc arenas and glibc malloc's free-but-kept memory. The verdict tells
    a real leak (live-objects) from memory the allocators hold after the
    objects were freed (allocator-held: "leaks without leaks"), from growth
    outside Python objects (native), or no-growth.
    """
    report = fetch_memory(pid, trim, timeout)
    if as_json:
        from leakscope.render.json import emit

        emit(report.to_json())
        return
    from rich.console import Console

    from leakscope.render.memory import memory_view

    Console().print(memory_view(report))
