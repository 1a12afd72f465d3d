"""`leakscope report`: one self-contained HTML page of a live process, or of snapshot files."""

from __future__ import annotations

import shlex
import sys
import time
from typing import TYPE_CHECKING

import click

from leakscope.cli.options import Seconds, connector, target_options

if TYPE_CHECKING:
    from leakscope.client.api import Client
    from leakscope.client.reports import Snapshot
    from leakscope.render.report import LeakSuspects, ReportContents


@click.command()
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False), metavar="[FILE...]")
@target_options
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, allow_dash=True),
    default=None,
    help="File to write ('-': standard output). Default: leakscope-report-PID-TIME.html here. "
    "A symlink is followed; an existing regular file is replaced whole, never half-written.",
)
@click.option(
    "--interval",
    type=Seconds(0.1, 86400),
    default=None,
    metavar="SECONDS",
    help="Watch the live process for SECONDS, and show what grew over that time (tracked "
    "classes, and heap types with --heap).",
)
@click.option(
    "--heap/--no-heap",
    "with_heap",
    default=True,
    show_default=True,
    help="Walk the heap for the by-type section (the walk pauses the target in short steps).",
)
@click.option("--open", "open_it", is_flag=True, help="Open the page in the web browser.")
def report(
    files: tuple[str, ...],
    pid: int | None,
    timeout: float,
    as_json: bool,
    output: str | None,
    interval: float | None,
    with_heap: bool,
    open_it: bool,
) -> None:
    """Write a self-contained HTML report: growth, heap, suspects, tracked classes.

    One file with everything inline (charts, style, data): it opens from a
    file:// URL in any browser, makes no network request, and can be attached
    to a bug report. It shows the process and its memory verdict, the count
    of every tracked class and the memory over time (the agent's history, or
    the snapshot files in time order), the heap by type, and the live tracked
    objects per class and per group. With several snapshot files, or with
    --interval, it also shows what grew in between.

    \b
    Examples:
      leakscope report --pid 4242 -o report.html           the live process now
      leakscope report --pid 4242 --interval 30 --open     watch for 30 s, then open it
      leakscope report monday.json friday.json -o week.html   from snapshot files
    """
    from leakscope.client import files as snapfiles

    if files and pid is not None:
        raise click.UsageError("give --pid or snapshot files, not both")
    if files and interval is not None:
        raise click.UsageError("--interval watches a live process: drop the snapshot files")
    if files and not with_heap:
        raise click.UsageError("--no-heap applies to a live process, not to snapshot files")
    if open_it and output == "-":
        raise click.UsageError("--open needs a file: drop -o -")
    if as_json and output == "-":
        raise click.UsageError("-o - already writes the page on stdout: drop --json")
    if output is not None:
        snapfiles.check_output_path(output, "report")
    command = shlex.join(["leakscope", *sys.argv[1:]])
    started = time.monotonic()
    if files:
        contents = _from_files(files, command)
    else:
        contents = _from_process(pid, timeout, interval, with_heap, command)
    collected = time.monotonic()
    contents = _with_times(contents, collected - started)

    from leakscope.render.report import render

    page = render(contents)
    if output is None:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(contents.made))
        output = f"leakscope-report-{contents.snapshot.pid}-{stamp}.html"
        snapfiles.check_output_path(output, "report")
    snapfiles.write_output(output, page, "report")
    render_s = time.monotonic() - collected
    if open_it:
        _open(output)
    if output == "-":
        return
    size = len(page.encode())
    if as_json:
        from leakscope.render.json import emit

        emit(
            {
                "file": output,
                "pid": contents.snapshot.pid,
                "bytes": size,
                "collect_s": round(collected - started, 3),
                "render_s": round(render_s, 3),
            }
        )
        return
    click.echo(
        f"report of pid {contents.snapshot.pid} written to {output} "
        f"({size / 1024 / 1024:.1f} MiB, made in {render_s:.2f} s)"
    )


def _from_files(paths: tuple[str, ...], command: str) -> ReportContents:
    from leakscope.client import files as snapfiles
    from leakscope.client.analysis.diff import diff_snapshots
    from leakscope.client.reports import HistoryTable
    from leakscope.render.report import ReportContents

    snaps = sorted((snapfiles.read(p) for p in paths), key=lambda s: s.time)
    growth = diff_snapshots(snaps[0], snaps[-1]) if len(snaps) > 1 else None
    return ReportContents(
        made=time.time(),
        command=command,
        snapshot=snaps[-1],
        files=paths,
        history=HistoryTable.of_snapshots(snaps),
        growth=growth,
    )


def _from_process(
    pid: int | None, timeout: float, interval: float | None, with_heap: bool, command: str
) -> ReportContents:
    from leakscope.client.analysis.diff import diff_snapshots
    from leakscope.client.errors import ExitCode, LeakscopeError
    from leakscope.render.report import ReportContents

    link = connector()
    with link.connect(pid, timeout) as client:
        first = _snapshot(client, with_heap)
    growth = suspects = None
    if interval is not None:
        _say(f"watching process {first.pid} for {interval:g} s...")
        suspects = _leak_suspects(interval)
    with link.connect(first.pid, timeout) as client:
        hello = client.hello
        last = first if interval is None else _snapshot(client, with_heap)
        history = note = None
        try:
            history = client.history_table()
        except LeakscopeError as exc:
            if exc.code != ExitCode.USAGE:  # "unavailable": history is off in the target
                raise
            note = f"No history: {exc.message}."
    if interval is not None:
        growth = diff_snapshots(first, last)
    return ReportContents(
        made=time.time(),
        command=command,
        snapshot=last,
        hello=hello,
        history=history,
        history_note=note,
        interval_s=interval,
        growth=growth,
        suspects=suspects,
        finds_suspects=FINDS_SUSPECTS,
    )


def _snapshot(client: Client, with_heap: bool) -> Snapshot:
    """The state of the process, with the Scrapy groups when Scrapy is there."""
    from dataclasses import replace

    from leakscope.client import files as snapfiles

    snap = snapfiles.take(client, with_heap)
    if client.hello.scrapy:
        extra = {key: client.prefs(group_by=key) for key in ("spider", "domain")}
        snap = replace(snap, prefs_by={**snap.prefs_by, **extra})
    return snap


#: Whether `_leak_suspects` can find suspects (the page says how to get them, or that it can't).
FINDS_SUSPECTS = False


def _leak_suspects(interval: float) -> LeakSuspects | None:
    """Wait *interval* seconds; the leak suspects over that time, when leakscope can find them.

    ``leakscope leaks`` (issue 15) is the source: once it exists, ask it here
    (its report fits `leakscope.render.report.LeakSuspects`) instead of
    sleeping, and set `FINDS_SUSPECTS`.
    """
    time.sleep(interval)
    return None


def _with_times(contents: ReportContents, collect_s: float) -> ReportContents:
    from dataclasses import replace

    return replace(contents, collect_s=collect_s, made=time.time())


def _say(message: str) -> None:
    from rich.console import Console

    console = Console(stderr=True)
    if console.is_terminal:
        console.print(message)


def _open(path: str) -> None:
    import webbrowser
    from pathlib import Path

    url = Path(path).resolve().as_uri()
    if not webbrowser.open(url):
        click.echo(f"leakscope: no web browser found; open {url} yourself", err=True)
