"""`leakscope heap`: partition the target's heap by type, via, referrer, module or size."""

from __future__ import annotations

import click

from leakscope.cli.options import many_target_options, single_pid
from leakscope.snapshot import HeapReport


def fetch_heap(
    pid: int | None,
    partition: str,
    of: str | None,
    limit: int,
    max_objects: int | None,
    backend: str,
    collect: bool,
    timeout: float,
    quiet: bool = False,
) -> HeapReport:
    """Run one census in the target, with a spinner on stderr while it walks."""
    from rich.console import Console

    from leakscope import client

    with client.connect(pid, timeout) as c:
        console = Console(stderr=True)
        if quiet or not console.is_terminal:
            data = c.call("heap", partition, of, limit, max_objects, backend, collect)
        else:
            with console.status(f"walking the heap of pid {c.pid} ({backend})..."):
                data = c.call("heap", partition, of, limit, max_objects, backend, collect)
    return HeapReport.from_json(data)


@click.command()
@many_target_options
@click.option(
    "--by-type", "partition", flag_value="type", default=True, help="Partition by type (default)."
)
@click.option(
    "--by-via",
    "via",
    metavar="TYPE",
    default=None,
    help="How objects of TYPE are referred to: '.__dict__', \"['meta']\", '[2]', '.attr'...",
)
@click.option(
    "--by-referrer",
    "referrer",
    metavar="TYPE",
    default=None,
    help="The types of the objects that refer to objects of TYPE.",
)
@click.option(
    "--by-module", "partition", flag_value="module", help="Partition by the module of each type."
)
@click.option(
    "--by-size", "partition", flag_value="size", help="Partition by object size (powers of two)."
)
@click.option(
    "--limit", type=click.IntRange(1, 10_000), default=20, show_default=True, help="Rows to show."
)
@click.option(
    "--backend",
    type=click.Choice(["builtin", "guppy", "muppy"]),
    default="builtin",
    show_default=True,
    help="Census engine; guppy (guppy3) and muppy (Pympler) must be installed in the target.",
)
@click.option(
    "--max-objects",
    type=click.IntRange(min=1),
    default=None,
    help="Stop after N objects; the result is then marked partial.",
)
@click.option(
    "--collect",
    is_flag=True,
    help="Run gc.collect() in the target first (off by default: collection can hide a leak).",
)
def heap(
    pids: tuple[int, ...],
    all_agents: bool,
    timeout: float,
    as_json: bool,
    partition: str,
    via: str | None,
    referrer: str | None,
    limit: int,
    backend: str,
    max_objects: int | None,
    collect: bool,
) -> None:
    """Partition the target's whole heap, as Guppy's heap().bytype / .byvia.

    Counts every object the interpreter holds, including strings, ints and
    tuples reached only through containers. The walk is read-only (no
    gc.collect() unless --collect) and lets the target's other threads run
    between chunks; the result says how long it took and how long it paused
    the target.
    """
    if via and referrer:
        raise click.UsageError("use --by-via or --by-referrer, not both")
    of = via or referrer
    if via:
        partition = "via"
    elif referrer:
        partition = "referrer"
    pid = single_pid(pids, all_agents)
    if pid is False:
        _heap_many(
            pids, all_agents, partition, of, limit, max_objects, backend, collect, timeout, as_json
        )
        return
    assert pid is not True
    report = fetch_heap(pid, partition, of, limit, max_objects, backend, collect, timeout)
    if as_json:
        from leakscope.render.json import emit

        emit(report.to_json())
        return
    from leakscope.render.heap import heap_table
    from leakscope.render.tables import print_table

    print_table(heap_table(report))


def _heap_many(
    pids: tuple[int, ...],
    all_agents: bool,
    partition: str,
    of: str | None,
    limit: int,
    max_objects: int | None,
    backend: str,
    collect: bool,
    timeout: float,
    as_json: bool,
) -> None:
    from leakscope import multi
    from leakscope.cli.options import finish_many

    if partition != "type":
        raise click.UsageError("several processes at once: only --by-type")
    wanted = multi.target_pids(pids, all_agents)
    result = multi.fan_out(
        wanted,
        lambda c: c.call("heap", "type", of, 10_000, max_objects, backend, collect),
        timeout,
    )
    answered = [p for p in wanted if p in result.answers]
    data = {
        "pids": answered,
        "partition": "type",
        "gone": {str(p): m for p, m in result.gone.items()},
        "per_pid": {
            str(p): {
                k: result.answers[p][k]
                for k in ("total_count", "total_size", "elapsed_s", "max_pause_s", "partial")
            }
            for p in answered
        },
        "rows": multi.merge_heap(result.answers)[:limit],
    }
    if as_json:
        from leakscope.render.json import emit

        emit(data)
    else:
        from leakscope.render.multi import multi_heap_table
        from leakscope.render.tables import print_table

        print_table(multi_heap_table(data))
    finish_many(result.gone)
