"""``leakscope _call``: the remote end of ``leakscope --remote PREFIX``.

Run by the transport (ssh, kubectl exec, docker exec) on the host that runs
the target, as the remote user: it connects to the local agent exactly as any
local command would, makes one call, and prints ONE JSON line::

    {"protocol": 1, "version": "...", "hello": {...}, "answer": <payload>}
    {"protocol": 1, "version": "...", "error": {"code": <exit code>, "message": "..."}}

It exits 0 in both cases, so the calling side can tell the transport's own
failures (ssh's 255, a missing program's 127) from the agent's errors. Not
meant to be typed by hand; hidden from ``--help``.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from leakscope import __version__, wire
from leakscope.errors import ExitCode, LeakscopeError

_MAX_DEPTH = 4


def _plain(value: Any, depth: int = 0) -> object:
    """A JSON argument as a wire value: lists become tuples; dicts are refused."""
    if value is None or type(value) in (str, int, float, bool):
        return value
    if type(value) is list and depth < _MAX_DEPTH:
        return tuple(_plain(item, depth + 1) for item in value)
    raise LeakscopeError(
        ExitCode.USAGE,
        f"--args may hold only strings, numbers, booleans, null and lists, not {value!r:.60}",
    )


def parse_args(text: str) -> tuple[object, ...]:
    """The call's arguments from a JSON array, checked to be plain values."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise LeakscopeError(ExitCode.USAGE, f"--args is not JSON: {exc}") from None
    if type(data) is not list:
        raise LeakscopeError(ExitCode.USAGE, "--args must be a JSON array")
    return tuple(_plain(item) for item in data)


def _answer(method: str, pid: int | None, args: tuple[object, ...], timeout: float) -> dict:
    if method == "__ps__":
        from leakscope.cli.ps import list_agents

        all_users = bool(args[0]) if args else False
        agents = list_agents(all_users or os.getuid() == 0, min(timeout, 5.0))
        return {"answer": [a.to_json() for a in agents]}
    if not method.isidentifier() or method.startswith("_"):
        raise LeakscopeError(ExitCode.USAGE, f"{method!r} is not a method name")
    from leakscope import client

    found_pid, path = client.resolve(pid)
    with client.connect_path(found_pid, path, timeout) as c:
        answer = c.hello if method == "hello" else c.call(method, *args)
        return {"hello": c.hello, "answer": answer}


@click.command("_call", hidden=True)
@click.argument("method")
@click.option("--pid", type=int, default=None)
@click.option("--args", "args_json", default="[]", help="The arguments, as a JSON array.")
@click.option("--timeout", type=click.FloatRange(0.1, 3600), default=30.0)
def remote_call(method: str, pid: int | None, args_json: str, timeout: float) -> None:
    """Make one call to a local agent and print the answer as one JSON line."""
    out: dict[str, Any] = {"protocol": wire.PROTOCOL_VERSION, "version": __version__}
    try:
        out.update(_answer(method, pid, parse_args(args_json), timeout))
    except LeakscopeError as exc:
        out["error"] = {"code": int(exc.code), "message": exc.message}
    except Exception as exc:  # one line for the calling side, never a traceback
        out["error"] = {
            "code": int(ExitCode.INTERNAL),
            "message": f"internal error on the remote side: {type(exc).__name__}: {exc}",
        }
    sys.stdout.write(json.dumps(out, separators=(",", ":"), default=str) + "\n")
    sys.stdout.flush()
