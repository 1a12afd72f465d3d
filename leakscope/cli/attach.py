"""`leakscope attach PID` and `leakscope detach PID`: an agent for a process that did not opt in."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

from leakscope.cli.options import json_option, timeout_option
from leakscope.client import attach as attaching
from leakscope.client.reports import AttachResult

_VIA = click.Choice(["auto", *attaching.MECHANISMS])
F = TypeVar("F", bound=Callable[..., Any])


def _common(func: F) -> F:
    """Add PID, --via, --timeout and --json."""
    func = json_option(func)
    func = timeout_option(
        attaching.DEFAULT_TIMEOUT_S,
        "Seconds for the whole operation; a debugger still running then is stopped.",
    )(func)
    func = click.option(
        "--via",
        type=_VIA,
        default="auto",
        show_default=True,
        help="How to get into the process: sys.remote_exec (Python 3.14), lldb or gdb.",
    )(func)
    func = click.argument("pid", type=click.IntRange(min=1))(func)
    return func


def _say(line: str) -> None:
    click.echo(line, err=True)


def _show(result: AttachResult, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result.to_json()))
        return
    for warning in result.warnings:
        if not warning.startswith("--inject-path"):  # said before the attempt
            _say(f"warning: {warning}")
    pid = result.pid
    if result.action == "stop":
        if result.already:
            click.echo(f"process {pid} runs no leakscope agent; nothing to stop")
        else:
            click.echo(f"stopped the leakscope agent in process {pid} (via {result.via})")
        return
    if result.already:
        click.echo(f"process {pid} already runs a leakscope agent on {result.socket}")
    else:
        python = f"Python {result.python}, " if result.python else ""
        click.echo(
            f"started a leakscope agent in process {pid} ({python}via {result.via}, "
            f"{result.seconds:.1f} s); it listens on {result.socket}"
        )
    click.echo(
        f"  leakscope prefs --pid {pid}      live tracked objects per class\n"
        f"  leakscope heap --pid {pid}       the heap by type\n"
        f"  leakscope memory --pid {pid}     process and allocator memory\n"
        f"  leakscope detach {pid}           stop the agent again"
    )


@click.command("attach")
@_common
@click.option(
    "--inject-path",
    is_flag=True,
    help="If leakscope is not installed in the target's environment, let it import this "
    "installation (same Python major.minor only; mixes two environments).",
)
@click.option("--detach", "stop", is_flag=True, help="Stop the agent instead (like `detach`).")
def attach(
    pid: int, via: str, timeout: float, as_json: bool, inject_path: bool, stop: bool
) -> None:
    """Start a leakscope agent inside the running Python process PID.

    The process needs no change and keeps running: a debugger (lldb, else gdb;
    or Python 3.14's sys.remote_exec) makes it import leakscope and start the
    agent, then lets go. leakscope must be importable in the target's
    environment (or see --inject-path). Only your own processes, unless root.

    \b
    Examples:
      leakscope attach 4242                 start an agent in process 4242
      leakscope attach 4242 --via gdb       with gdb rather than lldb
      leakscope detach 4242                 stop it again
    """
    if stop:
        result = attaching.detach(pid, via=via, timeout=timeout, say=_say)
    else:
        result = attaching.attach(pid, via=via, timeout=timeout, inject_path=inject_path, say=_say)
    _show(result, as_json)


@click.command("detach")
@_common
def detach(pid: int, via: str, timeout: float, as_json: bool) -> None:
    """Stop the leakscope agent inside process PID and remove its socket.

    \b
    Examples:
      leakscope detach 4242
    """
    _show(attaching.detach(pid, via=via, timeout=timeout, say=_say), as_json)
