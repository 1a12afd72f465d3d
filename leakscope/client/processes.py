"""The processes of this host that run an agent, as ``leakscope ps`` lists them.

Each agent found on disk is asked for its handshake (Python version, command
line); stale sockets are swept on the way. When agent-bearing processes are
parent and child — a pre-fork server such as gunicorn or celery — the parent
is the ``master`` and the children are ``worker``s.
"""

from __future__ import annotations

from dataclasses import replace

from leakscope.client import discovery
from leakscope.client.errors import LeakscopeError
from leakscope.client.local import LocalTransport
from leakscope.client.reports import AgentInfo


def with_roles(agents: list[AgentInfo]) -> list[AgentInfo]:
    """*agents* with ``role`` set: "master" for a parent of another, "worker" for a child."""
    pids = {a.pid for a in agents}
    out = []
    for agent in agents:
        if agent.ppid in pids:
            role = "worker"
        elif any(other.ppid == agent.pid for other in agents):
            role = "master"
        else:
            role = ""
        out.append(replace(agent, role=role))
    return out


def list_agents(all_users: bool, timeout: float = 5.0) -> tuple[list[AgentInfo], list[str]]:
    """Agent-bearing processes, each asked for its Python version (stale sockets
    swept), and the unsafe socket directories that were refused, with the reason."""
    found = []
    scan = discovery.scan(all_users=all_users)
    for sock in scan.sockets:
        python = "?"
        argv: tuple[str, ...] = ()
        try:
            transport = LocalTransport.open(sock.pid, sock.path, timeout)
        except LeakscopeError:
            if discovery.is_stale(sock):
                continue
        else:
            python = str(transport.hello.get("python", "?"))
            argv = tuple(str(a) for a in transport.hello.get("argv", []))
            transport.close()
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
    return with_roles(found), scan.refused
