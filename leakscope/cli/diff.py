"""`leakscope diff`: what grew — between two snapshot files, a file and now, or over an interval."""

from __future__ import annotations

import time

import click

from leakscope.cli.options import many_target_options, single_pid
from leakscope.errors import ExitCode, LeakscopeError


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
    type=click.FloatRange(0, 86400),
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

    \b
      leakscope diff OLD.json NEW.json         two snapshot files
      leakscope diff --pid P --against OLD.json a file and the live process
      leakscope diff --pid P --interval 30      the live process now and in 30 s

    Rows are per class (or class and group), with the count before, after, and
    the delta; with a heap census on both sides, also per type of the heap.
    """
    from leakscope import compare, snapfile

    modes = sum([bool(files), against is not None, interval is not None])
    if modes != 1:
        raise click.UsageError("give two snapshot files, or --against FILE, or --interval SECONDS")
    pid = single_pid(pids, all_agents)
    if pid is False:
        if interval is None:
            raise click.UsageError("several processes at once: use --interval")
        _diff_many(pids, all_agents, interval, with_heap, collect, timeout, as_json, limit)
        return
    assert pid is not True
    if files:
        if len(files) != 2:
            raise click.UsageError("diff needs exactly two snapshot files: OLD NEW")
        before, after = snapfile.read(files[0]), snapfile.read(files[1])
    elif against is not None:
        before = snapfile.read(against)
        heap = bool(before.get("heap")) if with_heap is None else with_heap
        after = snapfile.take(pid, heap, timeout, collect)
    else:
        assert interval is not None
        heap = True if with_heap is None else with_heap
        before = snapfile.take(pid, heap, timeout, collect)
        if not as_json:
            click.echo(f"first snapshot taken; waiting {interval:g} s...", err=True)
        time.sleep(interval)
        after = snapfile.take(before["pid"], heap, timeout, collect)
    try:
        result = compare.compare(before, after, group_by)
    except ValueError as exc:
        raise LeakscopeError(ExitCode.USAGE, str(exc)) from None
    if as_json:
        from leakscope.render.json import emit

        emit(result)
        return
    from rich.console import Console

    from leakscope.render.diff import diff_view

    Console().print(diff_view(result, limit))


def _diff_many(
    pids: tuple[int, ...],
    all_agents: bool,
    interval: float,
    with_heap: bool | None,
    collect: bool,
    timeout: float,
    as_json: bool,
    limit: int,
) -> None:
    from leakscope import compare, multi, snapfile
    from leakscope.cli.options import finish_many

    wanted = multi.target_pids(pids, all_agents)
    heap = bool(with_heap)

    def take(pid: int) -> dict:
        return snapfile.take(pid, heap, timeout, collect)

    first = multi.run_each(wanted, take)
    time.sleep(interval)
    second = multi.run_each(list(first.answers), take)
    gone = {**first.gone, **second.gone}
    merged: dict[str, dict] = {}
    for p, after in second.answers.items():
        for row in compare.compare(first.answers[p], after)["rows"]:
            slot = merged.setdefault(
                row["class"],
                {"class": row["class"], "before": 0, "after": 0, "delta": 0, "per_pid": {}},
            )
            for k in ("before", "after", "delta"):
                slot[k] += row[k]
            slot["per_pid"][str(p)] = row["delta"]
    rows = sorted(merged.values(), key=lambda r: (-r["delta"], -r["after"], r["class"]))
    data = {
        "pids": sorted(second.answers),
        "interval_s": interval,
        "gone": {str(p): m for p, m in gone.items()},
        "rows": rows,
    }
    if as_json:
        from leakscope.render.json import emit

        emit(data)
    else:
        from leakscope.render.multi import multi_diff_table
        from leakscope.render.tables import print_table

        print_table(multi_diff_table(data, limit))
    finish_many(gone)
