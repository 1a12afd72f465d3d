"""Talking to an agent: find it by PID, connect, shake hands, call, map failures.

`connect` returns a `Client` or raises `LeakscopeError` with the exit code
that names the cause: no such process, not a Python process, no agent in it,
several agents and no ``--pid``, none at all, permission denied, a stale
socket, an agent of another protocol version, a timeout. `Client.call` maps a
lost connection to "the target exited during the query" and the agent's own
refusals to their codes.
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path
from typing import Any

from leakscope import discovery, wire
from leakscope.errors import ExitCode, LeakscopeError

DEFAULT_TIMEOUT_S = 30.0

_AGENT_CODES = {
    "unknown-class": ExitCode.UNKNOWN_CLASS,
    "bad-argument": ExitCode.USAGE,
    "busy": ExitCode.AGENT_ERROR,
    "agent-error": ExitCode.AGENT_ERROR,
}

_START_HINT = (
    "start one in the program (import leakscope.agent; leakscope.agent.start()), "
    "run it with `leakscope run -- ...`, or use `leakscope attach {pid}`"
)


def resolve(pid: int | None) -> tuple[int, Path]:
    """The PID to talk to and its agent's socket, or the error that prevents it."""
    if pid is None:
        socks = discovery.list_sockets(all_users=os.getuid() == 0)
        if not socks:
            raise LeakscopeError(
                ExitCode.NONE_FOUND,
                "no process with a leakscope agent found; " + _START_HINT.format(pid="PID"),
            )
        if len(socks) > 1:
            pids = ", ".join(str(s.pid) for s in socks[:10])
            raise LeakscopeError(
                ExitCode.SEVERAL_AGENTS,
                f"{len(socks)} processes run a leakscope agent ({pids}); choose one with --pid",
            )
        return socks[0].pid, socks[0].path
    if pid <= 0:
        raise LeakscopeError(ExitCode.USAGE, f"invalid PID {pid}")
    uid = discovery.process_uid(pid)
    if uid is None:
        stale = [
            d / f"{pid}{discovery.SOCKET_SUFFIX}"
            for d in discovery.candidate_dirs(None)
            if (d / f"{pid}{discovery.SOCKET_SUFFIX}").exists()
        ]
        for path in stale:
            discovery.sweep(discovery.AgentSocket(pid, path, os.getuid()))
        if stale:
            raise LeakscopeError(
                ExitCode.STALE_SOCKET,
                f"process {pid} is gone; removed the stale agent socket it left ({stale[0]})",
            )
        raise LeakscopeError(ExitCode.NO_SUCH_PROCESS, f"no such process: {pid}")
    me = os.getuid()
    if uid != me and me != 0:
        raise LeakscopeError(
            ExitCode.PERMISSION,
            f"process {pid} belongs to user {discovery.user_name(uid)}; "
            "only that user or root may inspect it",
        )
    try:
        found = discovery.find_socket(pid)
    except discovery.UnsafeDirectory as exc:
        raise LeakscopeError(
            ExitCode.PERMISSION, f"refusing to use the agent socket of process {pid}: {exc}"
        ) from None
    if found is None:
        python = discovery.is_python(pid)
        if python is False:
            raise LeakscopeError(ExitCode.NOT_PYTHON, f"process {pid} is not a Python process")
        raise LeakscopeError(
            ExitCode.NO_AGENT,
            f"process {pid} runs no leakscope agent; " + _START_HINT.format(pid=pid),
        )
    return pid, found


class Client:
    """A connection to one agent. Use as a context manager."""

    def __init__(self, pid: int, path: Path, conn: Any, timeout: float) -> None:
        self.pid = pid
        self.path = path
        self._conn = conn
        self._timeout = timeout
        self.hello: dict[str, Any] = {}

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (never raises)."""
        with contextlib.suppress(Exception):
            self._conn.close()

    def call(self, method: str, *args: object, timeout: float | None = None) -> Any:
        """Call an exposed method with plain arguments; return its answer's payload."""
        from rpyc.core.async_ import AsyncResultTimeout

        self._conn._config["sync_request_timeout"] = timeout or self._timeout
        try:
            text = getattr(self._conn.root, method)(*args)
        except AsyncResultTimeout:
            raise LeakscopeError(
                ExitCode.TIMEOUT,
                f"process {self.pid} did not answer {method} within {timeout or self._timeout:g} s"
                " (raise --timeout for big heaps)",
            ) from None
        except (EOFError, ConnectionError, OSError, BrokenPipeError):
            raise self._lost(method) from None
        except AttributeError as exc:
            raise LeakscopeError(
                ExitCode.INCOMPATIBLE,
                f"the agent in process {self.pid} does not know {method!r}: {exc}"
                " (upgrade leakscope in the target)",
            ) from None
        except Exception as exc:  # anything else the agent's RPyC layer refused with
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise LeakscopeError(
                ExitCode.AGENT_ERROR,
                f"the agent of process {self.pid} refused {method}: {type(exc).__name__} {first}",
            ) from None
        try:
            data = wire.decode(text)
        except (ValueError, wire.ArgumentRefused) as exc:
            raise LeakscopeError(
                ExitCode.INCOMPATIBLE, f"unreadable answer from process {self.pid}: {exc}"
            ) from None
        if "error" in data:
            err = data["error"]
            code = _AGENT_CODES.get(str(err.get("code")), ExitCode.AGENT_ERROR)
            raise LeakscopeError(code, str(err.get("message", "the agent refused the request")))
        return data.get("ok")

    def _lost(self, method: str) -> LeakscopeError:
        if discovery.process_uid(self.pid) is None:
            return LeakscopeError(
                ExitCode.TARGET_EXITED, f"process {self.pid} exited during the query ({method})"
            )
        return LeakscopeError(
            ExitCode.TARGET_EXITED,
            f"the agent of process {self.pid} closed the connection during {method}",
        )


#: Set by ``leakscope --remote PREFIX``: every connection then goes through that
#: command prefix (ssh, kubectl exec, docker exec) to the leakscope on the other side.
_remote_prefix: list[str] | None = None


def set_remote(prefix: list[str] | None) -> None:
    """Route every later `connect` through a remote command prefix (None: local)."""
    global _remote_prefix
    _remote_prefix = prefix


def remote_prefix() -> list[str] | None:
    """The remote command prefix in force, or None for local connections."""
    return _remote_prefix


def connect(pid: int | None = None, timeout: float = DEFAULT_TIMEOUT_S) -> Any:
    """Find the agent of *pid* (or the only agent), connect and shake hands.

    Returns a `Client` (or, with a remote prefix set, an object with the same
    ``pid``, ``hello``, ``call`` and context-manager interface).
    """
    if _remote_prefix is not None:
        from leakscope.integrations.remote import connect_remote

        return connect_remote(_remote_prefix, pid, timeout)
    pid, path = resolve(pid)
    return connect_path(pid, path, timeout)


def connect_path(pid: int, path: Path, timeout: float = DEFAULT_TIMEOUT_S) -> Client:
    """Connect to the agent socket at *path* (of process *pid*) and shake hands."""
    from rpyc.core.channel import Channel
    from rpyc.core.protocol import Connection
    from rpyc.core.service import VoidService
    from rpyc.core.stream import SocketStream

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(min(timeout, 10.0))
    try:
        sock.connect(str(path))
    except PermissionError:
        sock.close()
        raise LeakscopeError(
            ExitCode.PERMISSION, f"permission denied on the agent socket of process {pid} ({path})"
        ) from None
    except (FileNotFoundError, ConnectionRefusedError):
        sock.close()
        if discovery.process_uid(pid) is None:
            discovery.sweep(discovery.AgentSocket(pid, path, os.getuid()))
            raise LeakscopeError(
                ExitCode.STALE_SOCKET,
                f"process {pid} is gone; removed the stale agent socket it left ({path})",
            ) from None
        raise LeakscopeError(
            ExitCode.NO_AGENT,
            f"the agent of process {pid} is not answering on {path} (stopped?); "
            + _START_HINT.format(pid=pid),
        ) from None
    except TimeoutError:
        sock.close()
        raise LeakscopeError(
            ExitCode.TIMEOUT, f"the agent of process {pid} did not accept the connection (busy?)"
        ) from None
    except OSError as exc:
        sock.close()
        raise LeakscopeError(
            ExitCode.NO_AGENT, f"cannot connect to the agent of process {pid}: {exc}"
        ) from None
    sock.settimeout(None)
    config = dict(wire.CLIENT_RPYC_CONFIG, sync_request_timeout=timeout)
    try:
        conn = Connection(VoidService(), Channel(SocketStream(sock)), config)
    except Exception as exc:
        sock.close()
        raise LeakscopeError(ExitCode.TARGET_EXITED, f"connection to {pid} failed: {exc}") from None
    client = Client(pid, path, conn, timeout)
    try:
        hello = client.call("hello", timeout=min(timeout, 10.0))
    except LeakscopeError:
        client.close()
        raise
    if not isinstance(hello, dict) or hello.get("protocol") != wire.PROTOCOL_VERSION:
        client.close()
        theirs = hello.get("protocol") if isinstance(hello, dict) else "?"
        version = hello.get("version") if isinstance(hello, dict) else "?"
        raise LeakscopeError(
            ExitCode.INCOMPATIBLE,
            f"the agent of process {pid} speaks protocol {theirs} (leakscope {version}); "
            f"this leakscope speaks {wire.PROTOCOL_VERSION}: use the same version on both sides",
        )
    client.hello = hello
    return client
