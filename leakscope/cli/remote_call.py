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

import sys

import click

from leakscope.cli.options import Seconds


@click.command("_call", hidden=True)
@click.argument("method")
@click.option(
    "--pid", type=int, default=None, help="The process to ask (the only agent if left out)."
)
@click.option("--args", "args_json", default="[]", help="The arguments, as a JSON array.")
@click.option("--timeout", type=Seconds(0.1, 3600), default=30.0, help="Seconds to wait.")
def remote_call(method: str, pid: int | None, args_json: str, timeout: float) -> None:
    """Make one call to a local agent and print the answer as one JSON line."""
    from leakscope.client.remote import answer_call

    sys.stdout.write(answer_call(method, pid, args_json, timeout) + "\n")
    sys.stdout.flush()
