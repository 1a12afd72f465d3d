"""`leakscope memory`: is it a leak, or memory the allocators keep?"""

from __future__ import annotations

import click

from leakscope.cli.options import connector, many_target_options, show_many, single_pid


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
    outside Python objects (native), or no-growth. leakscope's own work (its
    modules, its heap walks) is not counted as the program's growth.

    \b
    Examples:
      leakscope memory --pid 4242           figures and verdict
      leakscope memory --pid 4242 --trim    give glibc's free pages back, RSS before/after
      leakscope memory --all                one row per process
    """
    pid = single_pid(pids, all_agents)
    link = connector()
    if pid is False:
        if trim:
            raise click.UsageError("--trim acts on one process; give one --pid")
        from leakscope.client.fanout import ask_each, merge_memory

        wanted = link.pids(pids, all_agents)
        result = ask_each(wanted, lambda p: link.connect(p, timeout), lambda c: c.memory())
        merged = merge_memory(wanted, result)
        show_many(merged, as_json)
        return
    assert pid is not True
    with link.connect(pid, timeout) as client:
        report = client.memory(trim)
    if as_json:
        from leakscope.render.json import emit

        emit(report.to_json())
        return
    from leakscope.render.console import new_console
    from leakscope.render.memory import memory_view

    new_console().print(memory_view(report))
