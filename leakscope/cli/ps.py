"""`leakscope ps`: the processes that run an agent."""

from __future__ import annotations

import os

import click

from leakscope import discovery
from leakscope.errors import LeakscopeError
from leakscope.snapshot import AgentInfo


def list_agents(all_users: bool, timeout: float = 5.0) -> list[AgentInfo]:
    """Agent-bearing processes, each asked for its Python version; stale sockets swept."""
    from leakscope import client

    found = []
    for sock in discovery.list_sockets(all_users=all_users):
        python = "?"
        argv: tuple[str, ...] = ()
        try:
            with client.connect_path(sock.pid, sock.path, timeout) as c:
                python = str(c.hello.get("python", "?"))
                argv = tuple(str(a) for a in c.hello.get("argv", []))
        except LeakscopeError:
            if discovery.is_stale(sock):
                continue
        found.append(
            AgentInfo(
                pid=sock.pid,
                name=discovery.process_name(sock.pid),
                python=python,
                socket=str(sock.path),
                ppid=discovery.process_ppid(sock.pid),
                argv=discovery.process_cmdline(sock.pid) or argv,
            )
        )
    pids = {a.pid for a in found}
    with_roles = []
    for a in found:
        if a.ppid in pids:
            role = "worker"
        elif any(b.ppid == a.pid for b in found):
            role = "master"
        else:
            role = ""
        with_roles.append(AgentInfo(a.pid, a.name, a.python, a.socket, a.ppid, a.argv, role))
    return with_roles


@click.command()
@click.option(
    "--all-users",
    is_flag=True,
    help="As root: list the agents of every user (root may inspect any process).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON on stdout.")
def ps(all_users: bool, as_json: bool) -> None:
    """List the processes that run a leakscope agent.

    Sockets left by processes that are gone are removed on the way. Role is
    "master" or "worker" when agent-bearing processes are parent and child
    (a pre-fork server).
    """
    from leakscope import client

    prefix = client.remote_prefix()
    if prefix is not None:
        from leakscope.integrations import remote

        agents = remote.list_agents(prefix, all_users)
    else:
        agents = list_agents(all_users or os.getuid() == 0)
    if as_json:
        from leakscope.render.json import emit

        emit([a.to_json() for a in agents])
        return
    if not agents:
        click.echo("no process with a leakscope agent found", err=True)
        return
    from leakscope.render.tables import agents_table, print_table

    print_table(agents_table(agents))
