"""`leakscope prefs`, `oldest` and `all`: the live tracked objects of a process."""

from __future__ import annotations

from typing import Any

import click

from leakscope.cli.options import finish_many, many_target_options, single_pid, target_options
from leakscope.errors import ExitCode, LeakscopeError
from leakscope.grouping import GROUP_KEYS
from leakscope.snapshot import ObjectInfo, ObjectsReport, PrefsReport, PrefsRow

SORTS = ("count", "age", "growth", "name")


def _sorted(report: PrefsReport, sort: str, limit: int | None) -> PrefsReport:
    keys = {
        "count": lambda r: (-r.count, r.cls),
        "age": lambda r: (-(r.oldest_age_s or 0.0), r.cls),
        "growth": lambda r: (-(r.rate_per_min or 0.0), -(r.change_10m or 0), -r.count, r.cls),
        "name": lambda r: (r.cls, r.group or ""),
    }
    rows = sorted(report.rows, key=keys[sort])  # type: ignore[arg-type]
    if limit is not None:
        rows = rows[:limit]
    return PrefsReport(
        report.pid, report.time, tuple(rows), report.group_by, report.history, report.collected
    )


def fetch_prefs(
    pid: int | None,
    ignore: tuple[str, ...],
    group_by: str | None,
    timeout: float,
    collect: bool = False,
) -> PrefsReport:
    """Ask one agent for its live refs (after a gc.collect() there only if *collect*)."""
    from leakscope import client

    with client.connect(pid, timeout) as c:
        return PrefsReport.from_json(c.call("prefs", tuple(ignore), group_by, collect))


def _collect_option(func: Any) -> Any:
    return click.option(
        "--collect",
        is_flag=True,
        help="Run gc.collect() in the target first, so objects that are only garbage in "
        "reference cycles are gone (off by default: a forced collection can hide a leak).",
    )(func)


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
    type=click.Choice(sorted(GROUP_KEYS)),
    default=None,
    help="Split each class by owner (leakscope.owner), creation site, Scrapy spider or URL domain.",
)
@click.option(
    "--sort",
    type=click.Choice(SORTS),
    default="count",
    show_default=True,
    help="Row order; 'growth' needs the agent's history.",
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Show at most N rows.")
@click.option(
    "--watch",
    "-w",
    type=click.FloatRange(0.2, 3600),
    is_flag=False,
    flag_value=2.0,
    default=None,
    metavar="[SECONDS]",
    help="Redraw every SECONDS (default 2) with a sparkline per class, until Ctrl-C.",
)
@_collect_option
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
    """
    pid = single_pid(pids, all_agents)
    if pid is False:
        if watch is not None:
            raise click.UsageError("--watch follows one process; give one --pid")
        _prefs_many(pids, all_agents, ignore, group_by, limit, timeout, as_json, collect)
        return
    assert pid is not True
    if watch is not None:
        from leakscope.cli.watch import watch_prefs

        watch_prefs(pid, ignore, group_by, sort, limit, watch, timeout, as_json, collect)
        return
    report = _sorted(fetch_prefs(pid, ignore, group_by, timeout, collect), sort, limit)
    if as_json:
        from leakscope.render.json import emit

        emit(report.to_json())
        return
    from leakscope.render.tables import prefs_table, print_table

    print_table(prefs_table(report))


def _prefs_many(
    pids: tuple[int, ...],
    all_agents: bool,
    ignore: tuple[str, ...],
    group_by: str | None,
    limit: int | None,
    timeout: float,
    as_json: bool,
    collect: bool = False,
) -> None:
    from leakscope import multi

    wanted = multi.target_pids(pids, all_agents)
    result = multi.fan_out(
        wanted, lambda c: c.call("prefs", tuple(ignore), group_by, collect), timeout
    )
    answered = [p for p in wanted if p in result.answers]
    rows = multi.merge_prefs(result.answers)
    fastest = multi.fastest_growing(rows, answered)
    if limit is not None:
        rows = rows[:limit]
    data: dict[str, Any] = {
        "pids": answered,
        "group_by": group_by,
        "fastest_growing": fastest,
        "collected": collect,
        "gone": {str(p): m for p, m in result.gone.items()},
        "rows": [{k: v for k, v in r.items() if k != "rate_per_pid"} for r in rows],
    }
    if as_json:
        from leakscope.render.json import emit

        emit(data)
    else:
        from leakscope.render.multi import multi_prefs_table
        from leakscope.render.tables import print_table

        print_table(multi_prefs_table(data))
    finish_many(result.gone)


def _attrs_option(func: Any) -> Any:
    return click.option(
        "--attr",
        "-a",
        "attrs",
        multiple=True,
        metavar="NAME",
        help="Also show this attribute of the object (repeatable), e.g. --attr url.",
    )(func)


@click.command()
@click.argument("class_name", metavar="CLASS")
@target_options
@_attrs_option
@click.option(
    "--why",
    is_flag=True,
    help="Also show the retention path: from a root (module, thread stack) to the object.",
)
@click.option(
    "--graph",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="With --why: write the path as a Graphviz file (and .svg next to it when `dot` exists).",
)
@_collect_option
def oldest(
    class_name: str,
    pid: int | None,
    timeout: float,
    as_json: bool,
    attrs: tuple[str, ...],
    why: bool,
    graph: str | None,
    collect: bool,
) -> None:
    """Show the oldest live object of CLASS (as Scrapy's get_oldest).

    CLASS is a short name (HtmlResponse) or a dotted one
    (scrapy.http.response.html.HtmlResponse); every live class of that name is
    searched. The object stays in the target: you see its class, id, age, a
    bounded repr and the attributes asked for with --attr.
    """
    from leakscope import client

    if graph and not why:
        raise click.UsageError("--graph needs --why")
    with client.connect(pid, timeout) as c:
        data = c.call("oldest", class_name, tuple(attrs), why, collect)
    if not data.get("found"):
        raise LeakscopeError(ExitCode.UNKNOWN_CLASS, f"no live objects of class {class_name!r}")
    obj = ObjectInfo.from_json(data)
    if graph and obj.why is not None:
        from leakscope.render.paths import write_graph

        written = write_graph(obj.why, graph)
        click.echo(f"retention path written to {', '.join(written)}", err=True)
    if as_json:
        from leakscope.render.json import emit

        emit(obj.to_json())
        return
    from leakscope.render.tables import object_panel, print_table

    print_table(object_panel(obj, f"Oldest live {class_name}"))
    if obj.why is not None:
        from leakscope.render.paths import print_path

        print_path(obj.why)


@click.command("all")
@click.argument("class_name", metavar="CLASS")
@target_options
@_attrs_option
@click.option(
    "--limit",
    type=click.IntRange(0, 100_000),
    default=100,
    show_default=True,
    help="Show at most N objects (the oldest ones).",
)
@_collect_option
def all_objects(
    class_name: str,
    pid: int | None,
    timeout: float,
    as_json: bool,
    attrs: tuple[str, ...],
    limit: int,
    collect: bool,
) -> None:
    """List every live object of CLASS, oldest first (as Scrapy's iter_all)."""
    from leakscope import client

    with client.connect(pid, timeout) as c:
        report = ObjectsReport.from_json(c.call("all", class_name, tuple(attrs), limit, collect))
    if as_json:
        from leakscope.render.json import emit

        emit(report.to_json())
        return
    from leakscope.render.tables import objects_table, print_table

    print_table(objects_table(report))


__all__ = ["prefs", "oldest", "all_objects", "fetch_prefs", "PrefsRow"]
