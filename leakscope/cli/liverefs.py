"""`leakscope prefs`, `oldest` and `all`: the live tracked objects of a process."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from leakscope import wire
from leakscope.cli.options import (
    Seconds,
    class_name,
    collect_option,
    connector,
    many_target_options,
    show_many,
    single_pid,
    target_options,
)
from leakscope.client.errors import ExitCode, LeakscopeError

if TYPE_CHECKING:
    from leakscope.client.reports import RetentionPath


@click.command()
@many_target_options
@click.option(
    "--ignore",
    "-i",
    multiple=True,
    metavar="CLASS",
    help="Hide this class and its subclasses (short or dotted name; repeatable), "
    "as Scrapy's prefs(ignore=...).",
)
@click.option(
    "--group-by",
    "-g",
    type=click.Choice(sorted(wire.GROUP_KEYS)),
    default=None,
    help="Split each class by owner (leakscope.owner), creation site, Scrapy spider or URL domain.",
)
@click.option(
    "--sort",
    type=click.Choice(["count", "age", "growth", "name"]),
    default="count",
    show_default=True,
    help="Row order; 'growth' needs the agent's history.",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Show at most N rows.")
@click.option(
    "--watch",
    "-w",
    type=Seconds(0.2, 3600),
    is_flag=False,
    flag_value=2.0,
    default=None,
    metavar="[SECONDS]",
    help="Redraw every SECONDS (default 2) with a sparkline per class, until Ctrl-C. "
    "With --json: one JSON document per line (JSON Lines).",
)
@collect_option
def prefs(
    pids: tuple[int, ...],
    all_agents: bool,
    timeout: float,
    as_json: bool,
    ignore: tuple[str, ...],
    group_by: str | None,
    sort: str,
    limit: int | None,
    watch: float | None,
    collect: bool,
) -> None:
    """Show the live tracked objects per class: count and age of the oldest.

    Reads leakscope's registry (object_ref subclasses, track(cls)) and, when
    Scrapy is loaded in the target, Scrapy's own trackref registry. With the
    agent's history on (the default), also the change over the last minute and
    ten minutes, and the growth rate.

    With several --pid, or --all, the table has one column per process and a
    total, and marks the process whose objects grow fastest.

    \b
    Examples:
      leakscope prefs --pid 4242                      live tracked objects per class
      leakscope prefs --ignore Spider --sort growth   hide spiders, fastest growth first
      leakscope prefs --group-by spider               which Scrapy spider owns them
      leakscope prefs --watch 5                       redraw every 5 seconds until Ctrl-C
      leakscope prefs --all                           every process with an agent
    """
    pid = single_pid(pids, all_agents)
    link = connector()
    if pid is False:
        if watch is not None:
            raise click.UsageError("--watch follows one process; give one --pid")
        from leakscope.client.fanout import ask_each, merge_prefs

        wanted = link.pids(pids, all_agents)
        result = ask_each(
            wanted,
            lambda p: link.connect(p, timeout),
            lambda c: c.prefs(ignore, group_by, collect),
        )
        merged = merge_prefs(wanted, result, group_by, collect, limit)
        show_many(merged, as_json)
        return
    assert pid is not True
    if watch is not None:
        from leakscope.cli.watch import watch_prefs

        watch_prefs(pid, ignore, group_by, sort, limit, watch, timeout, as_json, collect)
        return
    with link.connect(pid, timeout) as client:
        report = client.prefs(ignore, group_by, collect).sorted(sort, limit)
    if as_json:
        from leakscope.render.json import emit

        emit(report.to_json())
        return
    from leakscope.render.tables import prefs_table, print_table

    print_table(prefs_table(report))


def _attrs_option(func: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "--attr",
        "-a",
        "attrs",
        multiple=True,
        metavar="NAME",
        help="Also show this attribute of the object (repeatable), e.g. --attr url.",
    )(func)


@click.command()
@click.argument("cls", metavar="CLASS")
@target_options
@_attrs_option
@click.option(
    "--why",
    is_flag=True,
    help="Also show the retention path: from a root (module, thread stack) to the object.",
)
@click.option(
    "--graph",
    type=click.Path(dir_okay=False),
    default=None,
    help="With --why: write the path as a Graphviz file (and .svg next to it when `dot` exists).",
)
@click.option(
    "--dump",
    "dump_file",
    metavar="FILE",
    default=None,
    help="Read a heap dump (leakscope dump) instead of a live process: an object of CLASS "
    "and, with --why, its path (needs the analysis extra).",
)
@collect_option
def oldest(
    cls: str,
    pid: int | None,
    timeout: float,
    as_json: bool,
    attrs: tuple[str, ...],
    why: bool,
    graph: str | None,
    dump_file: str | None,
    collect: bool,
) -> None:
    """Show the oldest live object of CLASS (as Scrapy's get_oldest).

    CLASS is a short name (HtmlResponse) or a dotted one
    (scrapy.http.response.html.HtmlResponse); every live class of that name is
    searched. The object stays in the target: you see its class, id, age, a
    bounded repr and the attributes asked for with --attr.

    \b
    Examples:
      leakscope oldest HtmlResponse --attr url               the URL of the oldest response
      leakscope oldest HtmlResponse --why --graph path.dot   why it is still alive
      leakscope oldest AuditEvent --why --dump heap.dump     the same, offline, from a dump
    """
    class_name(cls)
    if graph is not None:
        if not why:
            raise click.UsageError("--graph needs --why")
        from leakscope.client.files import check_output_path

        check_output_path(graph, "graph")
    if dump_file is not None:
        if pid is not None or attrs or collect:
            raise click.UsageError("--dump reads a file: no --pid, --attr or --collect with it")
        from leakscope.client.analysis.heapgraph import HeapGraph, require
        from leakscope.client.analysis.offline import one_object
        from leakscope.client.dumps import read

        require()
        obj = one_object(HeapGraph(read(dump_file), dump_file), cls, why)
    else:
        with connector().connect(pid, timeout) as client:
            obj = client.oldest(cls, attrs, why, collect)
    if obj is None:
        raise LeakscopeError(ExitCode.UNKNOWN_CLASS, f"no live objects of class {cls!r}")
    if graph is not None and obj.why is not None:
        written = _write_graph(obj.why, graph)
        click.echo(f"retention path written to {', '.join(written)}", err=True)
    if as_json:
        from leakscope.render.json import emit

        emit(obj.to_json())
        return
    from leakscope.render.tables import object_panel, print_table

    print_table(object_panel(obj, f"Oldest live {obj.cls}"))
    if obj.note:  # an untracked class, found through the GC: no ages, and how to get them
        click.echo(f"leakscope: {obj.note}", err=True)
    if obj.why is not None:
        from leakscope.render.paths import print_path

        print_path(obj.why)


@click.command("all")
@click.argument("cls", metavar="CLASS")
@target_options
@_attrs_option
@click.option(
    "--limit",
    type=click.IntRange(1, 100_000),
    default=100,
    show_default=True,
    help="Show at most N objects (the oldest ones).",
)
@collect_option
def all_objects(
    cls: str,
    pid: int | None,
    timeout: float,
    as_json: bool,
    attrs: tuple[str, ...],
    limit: int,
    collect: bool,
) -> None:
    """List every live object of CLASS, oldest first (as Scrapy's iter_all).

    \b
    Examples:
      leakscope all HtmlResponse --attr url --limit 50   the 50 oldest responses
      leakscope all Page --json                          every Page, as JSON
    """
    class_name(cls)
    with connector().connect(pid, timeout) as client:
        report = client.all(cls, attrs, limit, collect)
    if as_json:
        from leakscope.render.json import emit

        emit(report.to_json())
        return
    from leakscope.render.tables import objects_table, print_table

    print_table(objects_table(report))
    if report.note:  # an untracked class, found through the GC: no ages, and how to get them
        click.echo(f"leakscope: {report.note}", err=True)


def _write_graph(why: RetentionPath, path: str) -> list[str]:
    """Write the path as a Graphviz file, and .svg/.png beside it when `dot` is installed."""
    from leakscope.client.files import write_output
    from leakscope.render.paths import dot_image, to_dot

    text = to_dot(why)
    write_output(path, text, "graph")
    written = [path]
    if path != "-":
        stem = path.rsplit(".", 1)[0] if "." in path.rsplit("/", 1)[-1] else path
        for fmt in ("svg", "png"):
            image = dot_image(text, fmt)
            if image is not None:
                write_output(f"{stem}.{fmt}", image, "graph")
                written.append(f"{stem}.{fmt}")
    return written
