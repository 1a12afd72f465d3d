"""Options shared by the commands that talk to one agent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def target_options(func: F) -> F:
    """Add --pid, --timeout and --json to a command."""
    func = click.option(
        "--json", "as_json", is_flag=True, help="Print the result as JSON on stdout."
    )(func)
    func = click.option(
        "--timeout",
        type=click.FloatRange(0.1, 3600),
        default=30.0,
        show_default=True,
        help="Seconds to wait for the agent's answer.",
    )(func)
    func = click.option(
        "--pid",
        "-p",
        type=click.IntRange(min=1),
        default=None,
        help="Process to inspect; may be left out when exactly one process runs an agent.",
    )(func)
    return func
