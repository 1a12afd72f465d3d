"""`leakscope report`: one self-contained HTML page of a live process, or of files made earlier.

The command gathers typed answers (`ReportContents`) and hands them to
`leakscope.render.report`. With --interval, or given heap dumps, it finds the
leak suspects as `leakscope leaks` does and nests the biggest retainers as the
dominator tree does, for the treemap (`_watch`, `_retained_tree`): glue over
`leakscope.client.analysis`, which could move there.
"""

from __future__ import annotations

import shlex
import sys
import time
from typing import TYPE_CHECKING, Any

import click

from leakscope.cli.options import Seconds, connector, target_options

if TYPE_CHECKING:
    from leakscope.client.analysis.heapgraph import HeapGraph
    from leakscope.client.api import Client
    from leakscope.client.reports import HeapReport, LeaksReport, Snapshot
    from leakscope.render.report import ReportContents, RetainedTree


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
    started = time.monotonic()
    if files:
        contents = _from_files(files, command)
    else:
        contents = _from_process(pid, timeout, interval, sites, with_heap, command)
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
    """Snapshot files (history, live refs, memory, heap by type) and heap dumps (two or more:
    leak suspects between the oldest and the newest; retained sizes of the newest)."""
    from dataclasses import replace

    from leakscope.client import dumps
    from leakscope.client import files as snapfiles
    from leakscope.client.analysis.diff import diff_snapshots
    from leakscope.client.reports import HistoryTable
    from leakscope.render.report import ReportContents

    dump_paths = [p for p in paths if _is_dump(p)]
    snaps = sorted((snapfiles.read(p) for p in paths if p not in dump_paths), key=_when)
    taken = sorted((dumps.read(p) for p in dump_paths), key=_when)
    suspects = retained = None
    interval = None
    if taken:
        from leakscope.client.analysis.heapgraph import HeapGraph, require

        require()  # dumps given: without numpy and igraph, say so (exit 20)
        newest = HeapGraph(taken[-1], "the newest dump")
        retained = _retained_tree(newest)
        if len(taken) > 1:
            from leakscope.client.analysis.suspects import suspects as find
            from leakscope.client.reports import LeaksReport

            interval = round(_when(taken[-1]) - _when(taken[0]), 3)
            oldest = HeapGraph(taken[0], "the oldest dump")
            found = find(oldest, newest, interval, SUSPECTS)
            suspects = LeaksReport(newest.dump.pid, interval, found)
        from_dump = _dump_snapshot(newest)
        if not snaps:
            base = from_dump
        else:  # the newest snapshot file; its heap by type from the dump if it has none
            base = snaps[-1] if snaps[-1].heap else replace(snaps[-1], heap=from_dump.heap)
    else:
        base = snaps[-1]
    return ReportContents(
        made=time.time(),
        command=command,
        snapshot=base,
        files=paths,
        history=HistoryTable.of_snapshots(snaps) if snaps else None,
        history_note="Dump files keep no history: snapshot files give one sample each.",
        interval_s=interval,
        growth=diff_snapshots(snaps[0], snaps[-1]) if len(snaps) > 1 else None,
        suspects=suspects,
        suspects_note=None
        if taken
        else "Leak suspects come from two heap dumps "
        "(`leakscope dump`), or from a live process with --interval.",
        retained=retained,
    )


def _is_dump(path: str) -> bool:
    from leakscope.client.dumps import MAGIC

    try:
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False  # read again as a snapshot file, which says what is wrong


def _when(item: Any) -> float:
    """The time of a snapshot or of a dump."""
    meta = getattr(item, "meta", None)
    return float(meta.get("time", 0.0)) if meta is not None else float(item.time)


def _dump_snapshot(graph: HeapGraph) -> Snapshot:
    """What a heap dump tells of the process: who and when, and its heap by type."""
    from leakscope.client.reports import PrefsReport, Snapshot

    meta = graph.dump.meta
    when = _when(graph.dump)
    return Snapshot(
        pid=graph.dump.pid,
        time=when,
        host=str(meta.get("host", "")),
        version=str(meta.get("leakscope_version", "?")),
        argv=tuple(str(a) for a in meta.get("argv") or ()),
        python=None if meta.get("python") is None else str(meta.get("python")),
        prefs=PrefsReport(pid=graph.dump.pid, time=when, rows=()),
        heap=_heap_by_type(graph),
    )


def _heap_by_type(graph: HeapGraph) -> HeapReport:
    """A heap dump's objects partitioned by type, as a census would count them."""
    from leakscope.client.analysis.suspects import kind_totals
    from leakscope.client.reports import HeapReport, HeapRow

    counts, sizes = kind_totals(graph)
    rows = sorted((HeapRow(k, counts[k], sizes[k]) for k in counts), key=lambda r: -r.size)
    summary = graph.dump.summary
    return HeapReport(
        pid=graph.dump.pid,
        partition="type",
        of=None,
        total_count=graph.n,
        total_size=int(graph.sizes.sum()),
        elapsed_s=float(summary.get("elapsed_s") or 0.0),
        max_pause_s=float(summary.get("max_pause_s") or 0.0),
        partial=False,
        backend="dump",
        rows=tuple(rows),
    )


def _from_process(
    pid: int | None,
    timeout: float,
    interval: float | None,
    sites: bool,
    with_heap: bool,
    command: str,
) -> ReportContents:
    from dataclasses import replace

    from leakscope.client.analysis.diff import diff_snapshots
    from leakscope.client.errors import ExitCode, LeakscopeError
    from leakscope.render.report import ReportContents

    link = connector()
    suspects = retained = None
    note = _missing_analysis() if interval is not None else None
    # With the dumps of --interval, the heap by type comes from them: no census of its own.
    dumping = interval is not None and note is None
    with link.connect(pid, timeout) as client:
        first = _snapshot(client, with_heap and not dumping)
        if interval is None:
            last = first
        elif dumping:
            suspects, retained, (before, after) = _watch(client, interval, sites)
            last = _snapshot(client, False)
            if with_heap:
                first, last = replace(first, heap=before), replace(last, heap=after)
        else:
            _say(f"watching process {first.pid} for {interval:g} s...")
            time.sleep(interval)
            last = _snapshot(client, with_heap)
        hello = client.hello
        history = history_note = None
        try:
            history = client.history_table()
        except LeakscopeError as exc:
            if exc.code != ExitCode.USAGE:  # "unavailable": history is off in the target
                raise
            history_note = f"No history: {exc.message}."
    return ReportContents(
        made=time.time(),
        command=command,
        snapshot=last,
        hello=hello,
        history=history,
        history_note=history_note,
        interval_s=interval,
        growth=diff_snapshots(first, last) if interval is not None else None,
        suspects=suspects,
        suspects_note=note,
        retained=retained,
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


def _missing_analysis() -> str | None:
    """Why leak suspects cannot be found here (numpy or igraph missing), or None."""
    from leakscope.client.analysis.heapgraph import require
    from leakscope.client.errors import ExitCode, LeakscopeError

    try:
        require()
    except LeakscopeError as exc:
        if exc.code != ExitCode.NEEDS_EXTRA:
            raise
        return f"No leak suspects or retained sizes: {exc.message}."
    return None


#: Suspects shown, and objects of the retained-size treemap.
SUSPECTS = 5
RETAINED_OBJECTS = 60


def _watch(
    client: Client, interval: float, sites: bool
) -> tuple[LeaksReport, RetainedTree, tuple[HeapReport, HeapReport]]:
    """Two heap dumps *interval* apart (creation sites traced meanwhile with *sites*), as
    `leakscope leaks` takes them: the leak suspects, the retained sizes of the second, and
    the heap by type of each."""
    from leakscope.client import dumps
    from leakscope.client.analysis.heapgraph import HeapGraph
    from leakscope.client.analysis.suspects import suspects
    from leakscope.client.reports import LeaksReport

    _say(f"dumping the heap of process {client.pid}...")
    before = HeapGraph(dumps.take(client), f"pid {client.pid}")
    traced = client.trace_start(interval + 300.0) if sites else False
    site_data: dict[str, Any] = {}
    try:
        _say(f"watching process {client.pid} for {interval:g} s...")
        time.sleep(interval)
        if sites:
            site_data = client.leak_sites(())
    finally:
        if traced:
            client.trace_stop()
    _say("dumping the heap again...")
    after = HeapGraph(dumps.take(client), f"pid {client.pid}")
    found = suspects(before, after, interval, SUSPECTS, site_data)
    note = None
    if sites and not traced:
        note = "tracemalloc was already on in the program: its traces were used"
    report = LeaksReport(client.pid, interval, found, sites_asked=sites, note=note)
    return report, _retained_tree(after), (_heap_by_type(before), _heap_by_type(after))


def _retained_tree(graph: HeapGraph) -> RetainedTree:
    """The objects that retain the most, nested as the dominator tree nests them (an object
    inside another's subtree interval of the preorder is dominated by it)."""
    from leakscope.client.analysis.retained import retained
    from leakscope.render.report import RetainedObject, RetainedTree

    rows = retained(graph, RETAINED_OBJECTS).rows
    dom = graph.dominators
    pre = dom.preorder()
    nodes = [int(v) for v in graph.node_of([row.id for row in rows])]
    start = [int(pre[v]) for v in nodes]
    end = [start[i] + int(dom.subtree_nodes[v]) for i, v in enumerate(nodes)]
    inside: dict[int | None, list[int]] = {}
    enclosing: list[int] = []
    for i in sorted(range(len(rows)), key=lambda i: start[i]):
        while enclosing and not start[enclosing[-1]] < start[i] < end[enclosing[-1]]:
            enclosing.pop()
        inside.setdefault(enclosing[-1] if enclosing else None, []).append(i)
        enclosing.append(i)

    def node(i: int) -> RetainedObject:
        row = rows[i]
        kids = tuple(node(j) for j in inside.get(i, ()))
        size, kept, count = row.size, row.retained_size, row.retained_count
        return RetainedObject(row.type, row.id or 0, size, kept, count, kids)

    return RetainedTree(
        pid=graph.dump.pid,
        total_count=graph.n,
        total_size=int(graph.sizes.sum()),
        roots=tuple(node(i) for i in inside.get(None, ())),
    )


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
