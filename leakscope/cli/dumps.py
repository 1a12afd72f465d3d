"""`leakscope dump`, `retained` and `leaks`: the object graph, retained sizes, leak suspects."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from leakscope.cli.options import Seconds, connector, target_options
from leakscope.client.api import Client
from leakscope.client.dumps import DEFAULT_MAX_OBJECTS, Dump


def _max_objects_option(func: Any) -> Any:
    return click.option(
        "--max-objects",
        type=click.IntRange(min=1),
        default=DEFAULT_MAX_OBJECTS,
        show_default=True,
        help="Refuse to dump a heap of more objects than this (nothing is dumped then).",
    )(func)


@contextmanager
def _status(quiet: bool, text: str) -> Iterator[Any]:
    """A spinner on stderr (on a terminal) while the target walks; yields an updater."""
    from leakscope.render.console import new_console

    console = new_console(stderr=True)
    if quiet or not console.is_terminal:
        yield lambda _text: None
        return
    with console.status(text) as status:
        yield status.update


def _take(client: Client, max_objects: int, quiet: bool, what: str = "") -> Dump:
    from leakscope.client.dumps import take

    label = f"dumping the heap of pid {client.pid}{what}"
    with _status(quiet, label + "...") as update:
        return take(client, max_objects, lambda n: update(f"{label}: {n:,} objects"))


def _read(path: str) -> Dump:
    from leakscope.client.dumps import read

    return read(path)


@click.command()
@target_options
@click.option(
    "--output", "-o", "output", required=True, metavar="FILE", help="The dump file to write."
)
@_max_objects_option
def dump(pid: int | None, timeout: float, as_json: bool, output: str, max_objects: int) -> None:
    """Dump the target's object graph to FILE, for retained, leaks and heap later, elsewhere.

    Every object the census counts: its type, shallow size, labelled references, and the
    first 64 characters of strings, bytes and numbers. The target walks in chunks and lets
    its other threads run between them; it refuses a heap larger than --max-objects
    rather than dump half of it. The file is compact (zlib) and versioned, and readable by
    its owner only, also when it replaces a file (it holds the beginnings of the process's
    strings).

    \b
    Examples:
      leakscope dump --pid 4242 -o before.dump     the whole object graph, to a file
      leakscope retained before.dump               what keeps the most memory alive
      leakscope leaks before.dump after.dump       what grew between two dumps, and why
    """
    from leakscope.client.dumps import to_bytes
    from leakscope.client.files import check_output_path, write_output

    check_output_path(output, "dump")
    if output == "-" and as_json:
        raise click.UsageError("-o - writes the dump on stdout: it cannot also take the --json")
    with connector().connect(pid, timeout) as client:
        taken = _take(client, max_objects, as_json)
    content = to_bytes(taken)
    write_output(output, content, "dump", mode=0o600)  # it holds the process's strings
    facts = {
        "pid": taken.pid,
        "file": output,
        "objects": taken.count,
        "bytes": len(content),
        "elapsed_s": taken.summary.get("elapsed_s"),
        "max_pause_s": taken.summary.get("max_pause_s"),
    }
    if as_json:
        from leakscope.render.json import emit

        emit(facts)
        return
    if output != "-":
        pause = facts["max_pause_s"] or 0.0
        click.echo(
            f"dumped {taken.count:,} objects of pid {taken.pid} to {output} "
            f"({len(content) / 1e6:.1f} MB; longest pause of the target {1000 * pause:.0f} ms)",
            err=True,
        )


@click.command()
@click.argument("file", required=False, metavar="[FILE]")
@target_options
@click.option("--by-class", "by_class", is_flag=True, help="Sum the retained sizes per class.")
@click.option(
    "--limit", type=click.IntRange(1, 10_000), default=20, show_default=True, help="Rows to show."
)
@_max_objects_option
def retained(
    file: str | None,
    pid: int | None,
    timeout: float,
    as_json: bool,
    by_class: bool,
    limit: int,
    max_objects: int,
) -> None:
    """Show what keeps the most memory alive: retained sizes from the dominator tree.

    An object's retained size is what would be freed with it: the objects every path from
    a root to them passes through it. Rows are objects at any depth of the tree, largest
    first, each with its path from a root; --by-class sums them per class (an instance
    inside another of its class counted once). Reads a live process (--pid) or a dump
    FILE. Needs the analysis extra: pip install 'leakscope[analysis]'.

    \b
    Examples:
      leakscope retained --pid 4242               the 20 objects that retain the most
      leakscope retained --by-class --limit 10    the same, summed per class
      leakscope retained before.dump --json       from a dump file, as JSON
    """
    from leakscope.client.analysis.heapgraph import HeapGraph, require
    from leakscope.client.analysis.retained import retained as compute

    if file is not None and pid is not None:
        raise click.UsageError("give a dump FILE or --pid, not both")
    require()
    if file is not None:
        taken, source = _read(file), file
    else:
        with connector().connect(pid, timeout) as client:
            taken = _take(client, max_objects, as_json)
        source = f"pid {taken.pid}"
    started = time.perf_counter()
    with _status(as_json, "computing the dominator tree..."):
        report = compute(HeapGraph(taken, source), limit, by_class, source)
    del started
    if as_json:
        from leakscope.render.json import emit

        emit(report.to_json())
        return
    from leakscope.render.retained import retained_table
    from leakscope.render.tables import print_table

    print_table(retained_table(report))


@click.command()
@click.argument("dumps", nargs=-1, metavar="[BEFORE AFTER]")
@target_options
@click.option(
    "--interval",
    type=Seconds(0.1, 86_400),
    default=30.0,
    show_default=True,
    help="Seconds between the two dumps of a live process.",
)
@click.option(
    "--sites",
    is_flag=True,
    help="Also say where the new objects are made: tracemalloc runs in the target for the "
    "interval only (allocations are slower meanwhile), off again even if this command dies.",
)
@click.option(
    "--limit", type=click.IntRange(1, 100), default=5, show_default=True, help="Suspects to show."
)
@_max_objects_option
def leaks(
    dumps: tuple[str, ...],
    pid: int | None,
    timeout: float,
    as_json: bool,
    interval: float,
    sites: bool,
    limit: int,
    max_objects: int,
) -> None:
    """Say what is leaking, what holds it, and where it is made, in one command.

    Dumps the heap twice, --interval apart, and ranks what grew by the memory its new
    objects keep alive (the strings and dicts a leaking object carries count in it, not
    as suspects of their own). For each suspect: the holder that keeps most of its new
    objects alive, with its path from a root; with --sites, where they were made; and a
    one-line finding. Works on any class, tracked or not. Two dump files (BEFORE AFTER)
    work offline. Needs the analysis extra: pip install 'leakscope[analysis]'.

    \b
    Examples:
      leakscope leaks --pid 4242 --interval 10 --sites   what leaks, what holds it, where made
      leakscope leaks --json                             the same as JSON (one agent running)
      leakscope leaks before.dump after.dump             offline, from two dumps
    """
    from leakscope.client.analysis.heapgraph import HeapGraph, require
    from leakscope.client.analysis.suspects import dump_seconds, suspects, watch
    from leakscope.client.reports import LeaksReport

    if dumps and len(dumps) != 2:
        raise click.UsageError("give two dump files (BEFORE AFTER), or none for a live process")
    if dumps and pid is not None:
        raise click.UsageError("give two dump files or --pid, not both")
    if dumps and sites:
        raise click.UsageError("--sites needs a live process (dump files keep no creation sites)")
    if dumps:
        ctx = click.get_current_context()
        for name in ("interval", "max_objects"):
            if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT:
                option = "--" + name.replace("_", "-")
                raise click.UsageError(f"{option} is for a live process, not for dump files")
    require()
    if dumps:
        first, second = _read(dumps[0]), _read(dumps[1])
        notes = []
        if first.pid != second.pid:
            notes.append(f"the two dumps are of different processes ({first.pid}, {second.pid})")
        before, after = HeapGraph(first, dumps[0]), HeapGraph(second, dumps[1])
        seconds = dump_seconds(before, after)
        if seconds < 0:  # given newest first: what grew is what the newer one has more of
            notes.append(f"{dumps[1]} is the older dump: compared from it to {dumps[0]}")
            before, after, first, second, seconds = after, before, second, first, -seconds
        note = "; ".join(notes) or None
        with _status(as_json, "computing the dominator tree..."):
            found = suspects(before, after, seconds, limit)
        report = LeaksReport(second.pid, round(seconds, 3), found, sites_asked=False, note=note)
    else:
        from leakscope.client.dumps import take as take_dump

        with (
            connector().connect(pid, timeout) as client,
            _status(as_json, f"watching pid {client.pid}...") as update,
        ):

            def take(which: str) -> Dump:
                label = f"dumping the heap of pid {client.pid}{which}"
                update(label + "...")
                return take_dump(client, max_objects, lambda n: update(f"{label}: {n:,} objects"))

            report, _, _ = watch(client, interval, sites, limit, take, update)
    if as_json:
        from leakscope.render.json import emit

        emit(report.to_json())
        return
    from leakscope.render.retained import print_leaks

    print_leaks(report)
