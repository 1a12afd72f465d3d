"""Options shared by the commands that talk to one agent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from leakscope.errors import ExitCode

F = TypeVar("F", bound=Callable[..., Any])


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
        type=click.FloatRange(0.1, 3600),
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


def single_pid(pids: tuple[int, ...], all_agents: bool) -> int | None | bool:
    """The one PID asked for (None: find the only agent), or False for a multi-process query."""
    if all_agents or len(pids) > 1:
        return False
    return pids[0] if pids else None


def finish_many(gone: dict[int, str]) -> None:
    """After a multi-process answer: one stderr line per process that could not
    answer, and exit code PARTIAL (17) if there was any."""
    if gone:
        for pid, message in sorted(gone.items()):
            click.echo(f"leakscope: process {pid} gone or not answering: {message}", err=True)
        raise SystemExit(ExitCode.PARTIAL)
