"""`leakscope diff`: what grew — between two snapshot files, a file and now, or over an interval."""

from __future__ import annotations

import time

import click

from leakscope.cli.options import (
    Seconds,
    connector,
    many_target_options,
    show_many,
    single_pid,
)
from leakscope.client.api import Client


@click.command()
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False), metavar="[OLD [NEW]]")
@many_target_options
@click.option(
    "--against",
    type=click.Path(dir_okay=False),
    default=None,
    help="Compare the live process (--pid) with this snapshot file.",
)
@click.option(
    "--interval",
    type=Seconds(0, 86400),
    default=None,
    metavar="SECONDS",
    help="Snapshot the live process now and again after SECONDS, and compare.",
)
@click.option(
    "--group-by",
    type=click.Choice(["owner", "site"]),
    default=None,
    help="Compare per class and owner (or creation site).",
)
@click.option(
    "--heap/--no-heap",
    "with_heap",
    default=None,
    help="Include a by-type census of live snapshots (default: on with --interval).",
)
@click.option("--collect", is_flag=True, help="Run gc.collect() before each live census.")
@click.option(
    "--limit", type=click.IntRange(min=1), default=25, show_default=True, help="Rows to show."
)
def diff(
    files: tuple[str, ...],
    pids: tuple[int, ...],
    all_agents: bool,
    timeout: float,
    as_json: bool,
    against: str | None,
    interval: float | None,
    group_by: str | None,
    with_heap: bool | None,
    collect: bool,
    limit: int,
) -> None:
    """Show what grew, biggest growth first.

    Rows are per class (or class and group), with the count before, after, and
    the delta; with a heap census on both sides, also per type of the heap
    (types that changed). Snapshots of different processes or hosts, or given
    newest first, are compared with a warning that says so.

    \b
    Examples:
      leakscope diff OLD.json NEW.json          two snapshot files
      leakscope diff --pid P --against OLD.json a file and the live process
      leakscope diff --pid P --interval 30      the live process now and in 30 s
      leakscope diff --all --interval 60        growth per process over a minute
    """
    from leakscope.client import files as snapfiles
    from leakscope.client.analysis.diff import diff_snapshots

    modes = sum([bool(files), against is not None, interval is not None])
    if modes != 1:
        raise click.UsageError("give two snapshot files, or --against FILE, or --interval SECONDS")
    if files and len(files) != 2:
        raise click.UsageError("diff needs exactly two snapshot files: OLD NEW")
    if files and (pids or all_agents):
        raise click.UsageError("two snapshot files are compared as they are: drop --pid/--all")
    if files and (with_heap is not None or collect):
        raise click.UsageError("--heap and --collect apply to live snapshots, not to files")
    if collect and with_heap is False:
        raise click.UsageError("--collect runs before a census: it needs --heap")
    pid = single_pid(pids, all_agents)
    link = connector()
    if pid is False:
        if interval is None:
            raise click.UsageError("several processes at once: use --interval")
        _diff_many(pids, all_agents, interval, bool(with_heap), collect, timeout, as_json, limit)
        return
    assert pid is not True
    if files:
        before, after = snapfiles.read(files[0]), snapfiles.read(files[1])
    elif against is not None:
        before = snapfiles.read(against)
        heap = (before.heap is not None) if with_heap is None else with_heap
        with link.connect(pid, timeout) as client:
            after = snapfiles.take(client, heap, collect)
    else:
        assert interval is not None
        heap = True if with_heap is None else with_heap
        with link.connect(pid, timeout) as client:
            if group_by == "site" and not client.hello.sites:
                raise click.UsageError(
                    f"--group-by site: creation sites are off in process {client.pid}; turn "
                    f"them on first with `leakscope sites on --pid {client.pid}`"
                )
            before = snapfiles.take(client, heap, collect)
        if not as_json:
            click.echo(f"first snapshot taken; waiting {interval:g} s...", err=True)
        time.sleep(interval)
        with link.connect(before.pid, timeout) as client:
            after = snapfiles.take(client, heap, collect)
    report = diff_snapshots(before, after, group_by)
    if as_json:
        from leakscope.render.json import emit

        emit(report.to_json())
        return
    from leakscope.render.console import new_console
    from leakscope.render.diff import diff_view

    new_console().print(diff_view(report, limit))


def _diff_many(
    pids: tuple[int, ...],
    all_agents: bool,
    interval: float,
    heap: bool,
    collect: bool,
    timeout: float,
    as_json: bool,
    limit: int,
) -> None:
    from leakscope.client import files as snapfiles
    from leakscope.client.fanout import ask_each, merge_diffs

    link = connector()
    wanted = link.pids(pids, all_agents)

    def connect(pid: int) -> Client:
        return link.connect(pid, timeout)

    first = ask_each(wanted, connect, lambda c: snapfiles.take(c, heap, collect))
    time.sleep(interval)
    second = ask_each(list(first.answers), connect, lambda c: snapfiles.take(c, heap, collect))
    merged = merge_diffs(first, second, interval)
    show_many(merged, as_json, limit)
