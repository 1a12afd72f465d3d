"""`leakscope heap`: partition the target's heap by type, via, referrer, module or size."""

from __future__ import annotations

import click

from leakscope import wire
from leakscope.cli.options import (
    class_name,
    collect_option,
    connector,
    many_target_options,
    show_many,
    single_pid,
)
from leakscope.client.api import Client
from leakscope.client.reports import HeapReport


def _census(client: Client, quiet: bool, **query: object) -> HeapReport:
    """One census, with a spinner on stderr while it walks (on a terminal)."""
    from leakscope.render.console import new_console

    console = new_console(stderr=True)
    if quiet or not console.is_terminal:
        return client.heap(**query)  # type: ignore[arg-type]
    with console.status(f"walking the heap of pid {client.pid}..."):
        return client.heap(**query)  # type: ignore[arg-type]


@click.command()
@click.argument("dump_file", required=False, type=click.Path(dir_okay=False), metavar="[DUMP]")
@many_target_options
@click.option("--by-type", "by_type", is_flag=True, help="Partition by type (the default).")
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
    "--by-module", "by_module", is_flag=True, help="Partition by the module of each type."
)
@click.option(
    "--by-size", "by_size", is_flag=True, help="Partition by object size (powers of two)."
)
@click.option(
    "--limit", type=click.IntRange(1, 10_000), default=20, show_default=True, help="Rows to show."
)
@click.option(
    "--backend",
    type=click.Choice(wire.BACKENDS),
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
@collect_option
def heap(
    dump_file: str | None,
    pids: tuple[int, ...],
    all_agents: bool,
    timeout: float,
    as_json: bool,
    by_type: bool,
    via: str | None,
    referrer: str | None,
    by_module: bool,
    by_size: bool,
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

    With a DUMP file (`leakscope dump`), the heap by type as it was then,
    offline: no process is asked (other partitions need the live process).

    \b
    Examples:
      leakscope heap --pid 4242 --limit 20          the 20 biggest types
      leakscope heap monday.dump                    by type, from a dump file
      leakscope heap --by-via dict                  how dicts are held: .__dict__, ['meta']...
      leakscope heap --by-referrer HtmlResponse     which types hold the responses
      leakscope heap --all                          by type, one column per process
    """
    chosen = {
        "--by-type": by_type,
        "--by-via": via is not None,
        "--by-referrer": referrer is not None,
        "--by-module": by_module,
        "--by-size": by_size,
    }
    given = [name for name, on in chosen.items() if on]
    if len(given) > 1:
        raise click.UsageError(f"choose one partition: {' and '.join(given)} conflict")
    of = via if via is not None else referrer
    if of is not None:
        class_name(of, "TYPE")
    partition = "type"
    for name, on in (
        ("via", via),
        ("referrer", referrer),
        ("module", by_module),
        ("size", by_size),
    ):
        if on is not None and on is not False:
            partition = name
    if dump_file is not None:
        _from_dump(dump_file, partition, pids, all_agents, limit, as_json)
        return
    pid = single_pid(pids, all_agents)
    link = connector()
    if pid is False:
        if partition != "type":
            raise click.UsageError("several processes at once: only --by-type")
        from leakscope.client.fanout import ask_each, merge_heap

        wanted = link.pids(pids, all_agents)
        result = ask_each(
            wanted,
            lambda p: link.connect(p, timeout),
            lambda c: c.heap(
                "type", limit=10_000, max_objects=max_objects, backend=backend, collect=collect
            ),
        )
        merged = merge_heap(wanted, result, limit)
        show_many(merged, as_json)
        return
    assert pid is not True
    with link.connect(pid, timeout) as client:
        report = _census(
            client,
            as_json,
            partition=partition,
            of=of,
            limit=limit,
            max_objects=max_objects,
            backend=backend,
            collect=collect,
        )
    if as_json:
        from leakscope.render.json import emit

        emit(report.to_json())
        return
    from leakscope.render.heap import heap_table
    from leakscope.render.tables import print_table

    print_table(heap_table(report))


def _from_dump(
    path: str, partition: str, pids: tuple[int, ...], every: bool, limit: int, as_json: bool
) -> None:
    if pids or every:
        raise click.UsageError("a dump file is read as it is: drop --pid/--all")
    if partition != "type":
        raise click.UsageError(f"from a dump file, only --by-type (not --by-{partition})")
    from leakscope.client.analysis.heapgraph import HeapGraph
    from leakscope.client.analysis.offline import heap_by_type
    from leakscope.client.dumps import read

    report = heap_by_type(HeapGraph(read(path), path), limit)
    if as_json:
        from leakscope.render.json import emit

        emit(report.to_json())
        return
    from leakscope.render.heap import heap_table
    from leakscope.render.tables import print_table

    print_table(heap_table(report))
