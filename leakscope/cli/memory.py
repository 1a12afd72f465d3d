"""`leakscope memory`: is it a leak, or memory the allocators keep?"""

from __future__ import annotations

import click

from leakscope.cli.options import many_target_options, single_pid
from leakscope.snapshot import MemoryReport


def fetch_memory(pid: int | None, trim: bool, timeout: float) -> MemoryReport:
    """Ask the agent for the memory picture (and trim first when asked)."""
    from leakscope import client

    with client.connect(pid, timeout) as c:
        return MemoryReport.from_json(c.call("memory", trim))


@click.command()
@many_target_options
@click.option(
    "--trim",
    is_flag=True,
    help="Ask glibc to return free memory to the OS (malloc_trim(0)); shows RSS before and after.",
)
def memory(
    pids: tuple[int, ...], all_agents: bool, timeout: float, as_json: bool, trim: bool
) -> None:
    """Show the memory picture of the target and a verdict in plain words.

    RSS, USS and swap with their trend; bytes held by live Python objects; the
    pymalloc arenas and glibc malloc's free-but-kept memory. The verdict tells
    a real leak (live-objects) from memory the allocators hold after the
    objects were freed (allocator-held: "leaks without leaks"), from growth
    outside Python objects (native), or no-growth.
    """
    pid = single_pid(pids, all_agents)
    if pid is False:
        _memory_many(pids, all_agents, trim, timeout, as_json)
        return
    assert pid is not True
    report = fetch_memory(pid, trim, timeout)
    if as_json:
        from leakscope.render.json import emit

        emit(report.to_json())
        return
    from rich.console import Console

    from leakscope.render.memory import memory_view

    Console().print(memory_view(report))


def _memory_many(
    pids: tuple[int, ...], all_agents: bool, trim: bool, timeout: float, as_json: bool
) -> None:
    from leakscope import multi
    from leakscope.cli.options import finish_many

    wanted = multi.target_pids(pids, all_agents)
    result = multi.fan_out(wanted, lambda c: c.call("memory", trim), timeout)
    rows = []
    for pid in wanted:
        if pid not in result.answers:
            continue
        rep = MemoryReport.from_json(result.answers[pid])
        rows.append(
            {
                "pid": pid,
                "rss": rep.figures.get("rss"),
                "uss": rep.figures.get("uss"),
                "python_objects_bytes": rep.figures.get("python_objects_bytes"),
                "verdict": rep.verdict.get("verdict"),
                "reason": rep.verdict.get("reason"),
            }
        )
    data = {
        "pids": [r["pid"] for r in rows],
        "gone": {str(p): m for p, m in result.gone.items()},
        "rows": rows,
    }
    if as_json:
        from leakscope.render.json import emit

        emit(data)
    else:
        from leakscope.render.multi import multi_memory_table
        from leakscope.render.tables import print_table

        print_table(multi_memory_table(data))
    finish_many(result.gone)
