"""`leakscope report`: one self-contained HTML page of a live process, or of files made earlier.

`leakscope.client.report_contents.gather` collects what the page shows (from a live
process, or from snapshot files and heap dumps); `leakscope.render.report` draws it.
"""

from __future__ import annotations

import shlex
import sys
import time

import click

from leakscope.cli.options import Seconds, connector, target_options


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
    help="Watch the live process for SECONDS: what grew over that time, the leak suspects "
    "with their holders and paths, and retained sizes (two heap dumps, as `leakscope leaks`).",
)
@click.option(
    "--sites",
    is_flag=True,
    help="With --interval: also say where the leak suspects are made (tracemalloc runs in "
    "the target for the interval only; allocations are slower meanwhile).",
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
    sites: bool,
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
    --interval, it also shows what grew in between; with --interval (or two
    heap dumps of `leakscope dump`), the leak suspects of `leakscope leaks`
    (their holders, paths drawn as graphs and, with --sites, creation sites)
    and the heap by retained size (a treemap). Suspects and retained sizes
    need the analysis extra (pip install 'leakscope[analysis]'); live, without
    it, the rest of the page is made.

    \b
    Examples:
      leakscope report --pid 4242 -o report.html           the live process now
      leakscope report --pid 4242 --interval 30 --sites --open   what leaks, then open it
      leakscope report monday.json friday.json -o week.html   from snapshot files
      leakscope report before.dump after.dump              suspects from two heap dumps
    """
    from leakscope.client import files as snapfiles
    from leakscope.client.report_contents import gather
    from leakscope.render.report import render

    if files and pid is not None:
        raise click.UsageError("give --pid or files, not both")
    if files and interval is not None:
        raise click.UsageError("--interval watches a live process: drop the files")
    if files and not with_heap:
        raise click.UsageError("--no-heap applies to a live process, not to files")
    if sites and interval is None:
        raise click.UsageError("--sites records creation sites over --interval SECONDS: give it")
    if open_it and output == "-":
        raise click.UsageError("--open needs a file: drop -o -")
    if as_json and output == "-":
        raise click.UsageError("-o - already writes the page on stdout: drop --json")
    if output is not None:
        snapfiles.check_output_path(output, "report")
    command = shlex.join(["leakscope", *sys.argv[1:]])
    contents = gather(
        files, connector(), pid, timeout, interval, sites, with_heap, command, say=_say
    )
    collected = time.monotonic()
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
                "collect_s": round(contents.collect_s or 0.0, 3),
                "render_s": round(render_s, 3),
            }
        )
        return
    click.echo(
        f"report of pid {contents.snapshot.pid} written to {output} "
        f"({size / 1024 / 1024:.1f} MiB; data collected in {contents.collect_s or 0.0:.2f} s, "
        f"page written in {render_s:.2f} s)"
    )


def _say(message: str) -> None:
    from leakscope.render.console import new_console

    console = new_console(stderr=True)
    if console.is_terminal:
        console.print(message)


def _open(path: str) -> None:
    import webbrowser
    from pathlib import Path

    url = Path(path).resolve().as_uri()
    if not webbrowser.open(url):
        click.echo(f"leakscope: no web browser found; open {url} yourself", err=True)
