"""What ``leakscope report`` shows, and how it is gathered: the HTML report's one input.

    contents = gather((), Connector(), pid=4242, interval=30.0, sites=True)
    page = leakscope.render.report.render(contents)

`ReportContents` bundles typed answers (a `Snapshot`, the history, a `DiffReport`, a
`LeaksReport`, a `RetainedTree`); the renderer reads nothing else, so the page is the same
whatever the source. `gather` fills it from a live process (`from_process`) or from files
made earlier (`from_files`: snapshot files, heap dumps of ``leakscope dump``).

With --interval, or given heap dumps, the leak suspects are found as ``leakscope leaks``
finds them (`watch`: two dumps *interval* apart) and the biggest retainers are nested as
the dominator tree nests them, for the treemap (`retained_tree`). Those need the analysis
extra; live, without it, the rest is gathered and ``suspects_note`` says what is missing.

Cost: live, a snapshot (a census unless --no-heap) and the history; with --interval, two
heap dumps and a dominator tree instead of the census. ``bench/bench_report.py`` times it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from leakscope.client.reports import HistoryTable, LeaksReport, Snapshot

if TYPE_CHECKING:
    from leakscope.client.analysis.heapgraph import HeapGraph
    from leakscope.client.api import Client
    from leakscope.client.connector import Connector
    from leakscope.client.dumps import Dump
    from leakscope.client.reports import DiffReport, HeapReport, Hello

#: Suspects shown, and objects of the retained-size treemap.
SUSPECTS = 5
RETAINED_OBJECTS = 60


@dataclass(frozen=True)
class RetainedObject:
    """An object of the dominator tree: what it keeps alive, and the biggest objects it dominates.

    ``children`` are dominated by this object and do not overlap one another, so a treemap
    nests them inside it (the rest of its retained size is drawn as its own area).
    """

    type: str
    id: int
    size: int  # shallow, bytes
    retained_size: int  # bytes
    retained_count: int  # objects
    children: tuple[RetainedObject, ...] = ()


@dataclass(frozen=True)
class RetainedTree:
    """The top of the dominator tree of a heap dump, pruned to its biggest objects."""

    pid: int
    total_count: int
    total_size: int
    roots: tuple[RetainedObject, ...]


@dataclass(frozen=True)
class ReportContents:
    """Everything one report shows, as typed answers."""

    made: float  # when the report was made (seconds since the epoch)
    command: str  # the command line that made it
    snapshot: Snapshot  # the newest state: live refs (and groups), memory, heap census
    hello: Hello | None = None  # live reports: the agent's handshake (uptime, executable)
    files: tuple[str, ...] = ()  # reports from snapshot files: the files read
    history: HistoryTable | None = None
    history_note: str | None = None  # why there is no history, when there is none
    interval_s: float | None = None  # --interval, when given
    growth: DiffReport | None = None  # over --interval, or from the oldest file to the newest
    suspects: LeaksReport | None = None
    suspects_note: str | None = None  # why there are no suspects, when the command knows
    retained: RetainedTree | None = None
    collect_s: float | None = None  # how long collecting the data took


def _quiet(message: str) -> None:
    """Say nothing (the default of *say*)."""


def gather(
    files: tuple[str, ...],
    connector: Connector,
    pid: int | None = None,
    timeout: float = 30.0,
    interval: float | None = None,
    sites: bool = False,
    with_heap: bool = True,
    command: str = "leakscope report",
    say: Callable[[str], None] = _quiet,
) -> ReportContents:
    """The contents of a report: from *files* when given, else from the live process *pid*
    (``collect_s`` says how long it took). *say* is told what a long wait is for."""
    started = time.monotonic()
    if files:
        contents = from_files(files, command)
    else:
        contents = from_process(connector, pid, timeout, interval, sites, with_heap, command, say)
    return replace(contents, collect_s=time.monotonic() - started, made=time.time())


def from_files(paths: tuple[str, ...], command: str) -> ReportContents:
    """Snapshot files (history, live refs, memory, heap by type) and heap dumps (two or more:
    leak suspects between the oldest and the newest; retained sizes of the newest)."""
    from leakscope.client import dumps
    from leakscope.client import files as snapfiles
    from leakscope.client.analysis.diff import diff_snapshots

    dump_paths = [p for p in paths if _is_dump(p)]
    snaps = sorted((snapfiles.read(p) for p in paths if p not in dump_paths), key=lambda s: s.time)
    taken = sorted((dumps.read(p) for p in dump_paths), key=_dump_time)
    suspects = retained = None
    interval = None
    if taken:
        from leakscope.client.analysis.heapgraph import HeapGraph, require

        require()  # dumps given: without numpy and igraph, say so (exit 20)
        newest = HeapGraph(taken[-1], "the newest dump")
        retained = retained_tree(newest)
        if len(taken) > 1:
            from leakscope.client.analysis.suspects import suspects as find

            interval = round(_dump_time(taken[-1]) - _dump_time(taken[0]), 3)
            oldest = HeapGraph(taken[0], "the oldest dump")
            found = find(oldest, newest, interval, SUSPECTS)
            suspects = LeaksReport(newest.dump.pid, interval, found)
        from_dump = dump_snapshot(newest)
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


def _dump_time(dump: Dump) -> float:
    return float(dump.meta.get("time", 0.0))


def dump_snapshot(graph: HeapGraph) -> Snapshot:
    """What a heap dump tells of the process: who and when, and its heap by type."""
    from leakscope.client.reports import PrefsReport

    meta = graph.dump.meta
    when = _dump_time(graph.dump)
    return Snapshot(
        pid=graph.dump.pid,
        time=when,
        host=str(meta.get("host", "")),
        version=str(meta.get("leakscope_version", "?")),
        argv=tuple(str(a) for a in meta.get("argv") or ()),
        python=None if meta.get("python") is None else str(meta.get("python")),
        prefs=PrefsReport(pid=graph.dump.pid, time=when, rows=()),
        heap=_heap(graph),
    )


def _heap(graph: HeapGraph) -> HeapReport:
    """A dump's heap by type, every type (as a census by type counts them)."""
    from leakscope.client.analysis.offline import heap_by_type

    return heap_by_type(graph, limit=len(graph.type_names))


def from_process(
    connector: Connector,
    pid: int | None,
    timeout: float,
    interval: float | None,
    sites: bool,
    with_heap: bool,
    command: str,
    say: Callable[[str], None] = _quiet,
) -> ReportContents:
    """A live process now or, with *interval*, over that many seconds: what grew and (with
    the analysis extra) the leak suspects and retained sizes of `watch`."""
    from leakscope.client.analysis.diff import diff_snapshots
    from leakscope.client.errors import ExitCode, LeakscopeError

    suspects = retained = None
    note = _missing_analysis() if interval is not None else None
    # With the dumps of --interval, the heap by type comes from them: no census of its own.
    dumping = interval is not None and note is None
    with connector.connect(pid, timeout) as client:
        first = _snapshot(client, with_heap and not dumping)
        if interval is None:
            last = first
        elif dumping:
            suspects, retained, (before, after) = watch(client, interval, sites, say)
            last = _snapshot(client, False)
            if with_heap:
                first, last = replace(first, heap=before), replace(last, heap=after)
        else:
            say(f"watching process {first.pid} for {interval:g} s...")
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


def watch(
    client: Client, interval: float, sites: bool, say: Callable[[str], None] = _quiet
) -> tuple[LeaksReport, RetainedTree, tuple[HeapReport, HeapReport]]:
    """`leakscope leaks`'s watch (`leakscope.client.analysis.suspects.watch`): the leak
    suspects, the retained sizes of the second dump, and the heap by type of each."""
    from leakscope.client.analysis.suspects import watch as watch_leaks

    say(f"watching process {client.pid} for {interval:g} s (two heap dumps)...")
    report, before, after = watch_leaks(client, interval, sites, SUSPECTS, say=say)
    return report, retained_tree(after), (_heap(before), _heap(after))


def retained_tree(graph: HeapGraph, limit: int = RETAINED_OBJECTS) -> RetainedTree:
    """The *limit* objects that retain the most, nested as the dominator tree nests them (an
    object inside another's subtree interval of the preorder is dominated by it)."""
    from leakscope.client.analysis.retained import retained

    rows = retained(graph, limit).rows
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
