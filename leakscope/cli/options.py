"""Options shared by the commands, and the checks every command makes before any work."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from leakscope.client.connector import Connector
from leakscope.client.errors import ExitCode

if TYPE_CHECKING:
    from leakscope.client.reports import MultiDiff, MultiHeap, MultiMemory, MultiPrefs

F = TypeVar("F", bound=Callable[..., Any])


class Seconds(click.ParamType):
    """A finite number of seconds within [low, high] (NaN and infinities refused)."""

    name = "seconds"

    def __init__(self, low: float, high: float) -> None:
        self.low = low
        self.high = high

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float) and math.isfinite(value):
            number = value
        else:
            try:
                number = float(value)
            except (TypeError, ValueError):
                self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not math.isfinite(number) or not self.low <= number <= self.high:
            self.fail(f"{value} is not between {self.low:g} and {self.high:g} seconds", param, ctx)
        return number


def connector() -> Connector:
    """The connector of this run (``--remote``/``--host`` given to ``leakscope``, or local)."""
    ctx = click.get_current_context()
    found = ctx.find_object(Connector)
    return found if found is not None else Connector()


def json_option(func: F) -> F:
    """Add --json."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print the result as JSON on stdout."
    )(func)


def timeout_option(
    default: float = 30.0, help: str = "Seconds to wait for the agent's answer."
) -> Callable[[F], F]:
    """Add --timeout (seconds, 0.1 to 3600)."""
    return click.option(
        "--timeout",
        type=Seconds(0.1, 3600),
        default=default,
        show_default=True,
        help=help,
    )


def target_options(func: F) -> F:
    """Add --pid, --timeout and --json to a command."""
    func = json_option(func)
    func = timeout_option()(func)
    func = click.option(
        "--pid",
        "-p",
        type=click.IntRange(min=1),
        default=None,
        help="Process to inspect; may be left out when exactly one process runs an agent.",
    )(func)
    return func


def many_target_options(func: F) -> F:
    """Add a repeatable --pid, --all, --timeout and --json to a command."""
    func = json_option(func)
    func = timeout_option(help="Seconds to wait for each agent's answer.")(func)
    func = click.option(
        "--all",
        "all_agents",
        is_flag=True,
        help="Ask every process that runs an agent (root: every user's), one column each.",
    )(func)
    func = click.option(
        "--pid",
        "-p",
        "pids",
        type=click.IntRange(min=1),
        multiple=True,
        help="Process to inspect (repeatable: one column per process); may be left out "
        "when exactly one process runs an agent.",
    )(func)
    return func


def collect_option(func: F) -> F:
    """Add --collect."""
    return click.option(
        "--collect",
        is_flag=True,
        help="Run gc.collect() in the target first, so objects that are only garbage in "
        "reference cycles are gone (off by default: a forced collection can hide a leak).",
    )(func)


def single_pid(pids: tuple[int, ...], all_agents: bool) -> int | None | bool:
    """The one PID asked for (None: find the only agent), or False for a multi-process query.

    Refuses ``--all`` with ``--pid``, and a PID given twice.
    """
    if all_agents and pids:
        raise click.UsageError("give --all or --pid, not both")
    repeated = sorted({p for p in pids if pids.count(p) > 1})
    if repeated:
        raise click.UsageError(f"--pid {repeated[0]} is given twice")
    if all_agents or len(pids) > 1:
        return False
    return pids[0] if pids else None


def class_name(value: str, what: str = "CLASS") -> str:
    """Refuse an empty class or type name before asking anyone."""
    if not value.strip():
        raise click.UsageError(f"{what} is empty; give a class name such as HtmlResponse")
    return value


def show_many(
    report: MultiPrefs | MultiHeap | MultiMemory | MultiDiff, as_json: bool, limit: int = 25
) -> None:
    """Show a several-process answer (JSON or a table with a column per process), then
    one stderr line per process that could not answer and exit code 17 if any."""
    if as_json:
        from leakscope.render.json import emit

        emit(report.to_json())
    else:
        from leakscope.render.multi import multi_table
        from leakscope.render.tables import print_table

        print_table(multi_table(report, limit))
    finish_many(report.gone)


def finish_many(gone: dict[int, str]) -> None:
    """After a multi-process answer: one stderr line per process that could not
    answer, and exit code PARTIAL (17) if there was any."""
    if gone:
        for pid, message in sorted(gone.items()):
            click.echo(f"leakscope: process {pid} gone or not answering: {message}", err=True)
        raise SystemExit(ExitCode.PARTIAL)
