"""`Connector`: where the agents are — on this host, or through a command prefix.

The CLI makes one from ``--remote``/``--host`` and hands it to every command,
so no command knows which transport it uses::

    connector = Connector()                       # this host
    connector = Connector(remote=("ssh", "box"))  # another host
    with connector.connect(pid=4242) as client:
        report = client.prefs()
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from leakscope.client.api import Client
from leakscope.client.errors import ExitCode, LeakscopeError

if TYPE_CHECKING:
    from leakscope.client.reports import AgentList

DEFAULT_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Connector:
    """How to reach agents: locally (``remote`` None) or through a command prefix."""

    remote: tuple[str, ...] | None = None

    def connect(self, pid: int | None = None, timeout: float = DEFAULT_TIMEOUT_S) -> Client:
        """A client for the agent of *pid* (or of the only process that runs one)."""
        if self.remote is not None:
            from leakscope.client.remote import RemoteTransport

            return Client(RemoteTransport(self.remote, pid, timeout), timeout)
        from leakscope.client.local import LocalTransport, resolve

        found, path = resolve(pid)
        return Client(LocalTransport.open(found, path, timeout), timeout)

    def agents(self, all_users: bool = False, timeout: float = 5.0) -> AgentList:
        """The processes that run an agent (root: every user's, with *all_users*)."""
        from leakscope.client.reports import AgentInfo, AgentList

        all_users = all_users or os.getuid() == 0
        if self.remote is not None:
            from leakscope.client.remote import remote_agents

            rows, refused = remote_agents(self.remote, all_users, timeout)
            return AgentList(tuple(AgentInfo.from_json(r) for r in rows), tuple(refused))
        from leakscope.client.processes import list_agents

        agents, refused = list_agents(all_users, timeout)
        return AgentList(tuple(agents), tuple(refused))

    def pids(self, given: tuple[int, ...], every: bool) -> list[int]:
        """The PIDs a multi-process query asks: the given ones, or with *every* all agents."""
        if not every:
            return list(dict.fromkeys(given))
        if self.remote is None:
            from leakscope.client import discovery

            scan = discovery.scan(all_users=os.getuid() == 0)
            found, refused = [s.pid for s in scan.sockets], scan.refused
        else:
            listing = self.agents()
            found, refused = [a.pid for a in listing.agents], list(listing.refused)
        if refused:
            # The agents in there would be left out without a word: refuse instead.
            raise LeakscopeError(
                ExitCode.PERMISSION, f"--all: refusing an unsafe socket directory: {refused[0]}"
            )
        if not found:
            raise LeakscopeError(
                ExitCode.NONE_FOUND, "--all: no process with a leakscope agent found"
            )
        return found
