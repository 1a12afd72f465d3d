"""The local transport: an agent on this host, over its Unix socket with RPyC.

`resolve` finds the socket of a PID (or of the only agent) and names what
prevents it; `LocalTransport.open` connects, retries while the agent's listen
backlog is full, and shakes hands. Every failure is a `LeakscopeError` with
the exit code that names its cause: no such process, a zombie, not a Python
process, no agent in it, several agents and no ``--pid``, none at all,
permission denied or an unsafe socket directory, a stale socket, another
protocol version, a timeout, the target gone mid-query.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import time
from pathlib import Path
from typing import Any

from leakscope import wire
from leakscope.client import discovery
from leakscope.client.errors import ExitCode, LeakscopeError

_AGENT_CODES = {
    "unknown-class": ExitCode.UNKNOWN_CLASS,
    "bad-argument": ExitCode.USAGE,
    "unavailable": ExitCode.USAGE,
    "busy": ExitCode.AGENT_ERROR,
    "agent-error": ExitCode.AGENT_ERROR,
}

START_HINT = (
    "start one in the program (import leakscope.agent; leakscope.agent.start()), "
    "run it with `leakscope run -- ...`, or use `leakscope attach {pid}`"
)
#: Seconds between connection attempts while the agent's backlog is full.
_BUSY_RETRY_S = 0.05


def _sweep_gone(pid: int) -> Path | None:
    """Remove the sockets a gone (or zombie) *pid* left; the first one removed, or None."""
    removed = None
    for directory in discovery.candidate_dirs(None):
        path = directory / f"{pid}{wire.SOCKET_SUFFIX}"
        if os.path.lexists(path) and discovery.sweep(discovery.AgentSocket(pid, path, os.getuid())):
            removed = removed or path
    return removed


def _gone_error(pid: int) -> LeakscopeError:
    zombie = discovery.is_zombie(pid)
    removed = _sweep_gone(pid)
    what = (
        f"process {pid} has exited (a zombie its parent, pid {discovery.process_ppid(pid)}, "
        "has not reaped yet)"
        if zombie
        else f"process {pid} is gone"
    )
    if removed is not None:
        return LeakscopeError(
            ExitCode.STALE_SOCKET, f"{what}; removed the stale agent socket it left ({removed})"
        )
    if zombie:
        return LeakscopeError(ExitCode.STALE_SOCKET, what)
    return LeakscopeError(ExitCode.NO_SUCH_PROCESS, f"no such process: {pid}")


def resolve(pid: int | None) -> tuple[int, Path]:
    """The PID to talk to and its agent's socket, or the error that prevents it."""
    if pid is None:
        return _only_agent()
    if pid <= 0:
        raise LeakscopeError(ExitCode.USAGE, f"invalid PID {pid}")
    uid = discovery.process_uid(pid)
    if uid is None or discovery.is_zombie(pid):
        raise _gone_error(pid)
    discovery.check_owner(pid, uid, "inspect it")
    try:
        found = discovery.find_socket(pid)
    except wire.UnsafeDirectory as exc:
        raise LeakscopeError(
            ExitCode.PERMISSION, f"refusing to use the agent socket of process {pid}: {exc}"
        ) from None
    if found is None:
        if not discovery.is_python(pid):
            name = discovery.process_name(pid)
            raise LeakscopeError(
                ExitCode.NOT_PYTHON, f"process {pid} ({name}) is not a Python process"
            )
        raise LeakscopeError(
            ExitCode.NO_AGENT,
            f"process {pid} runs no leakscope agent; " + START_HINT.format(pid=pid),
        )
    return pid, found


def _only_agent() -> tuple[int, Path]:
    found = discovery.scan(all_users=os.getuid() == 0)
    if found.refused:
        # An agent in a refused directory could be the one meant: never answer for another.
        raise LeakscopeError(
            ExitCode.PERMISSION,
            f"refusing an unsafe socket directory: {found.refused[0]}; fix its mode "
            "(chmod 700) or give --pid",
        )
    socks = found.sockets
    if not socks:
        raise LeakscopeError(
            ExitCode.NONE_FOUND,
            "no process with a leakscope agent found; " + START_HINT.format(pid="PID"),
        )
    if len(socks) > 1:
        pids = ", ".join(str(s.pid) for s in socks[:10])
        raise LeakscopeError(
            ExitCode.SEVERAL_AGENTS,
            f"{len(socks)} processes run a leakscope agent ({pids}); choose one with --pid",
        )
    return socks[0].pid, socks[0].path


def _connect_socket(pid: int, path: Path, timeout: float) -> socket.socket:
    """A connected socket to *path*; retries while the agent's backlog is full."""
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(max(0.05, min(deadline - time.monotonic(), 10.0)))
        try:
            sock.connect(str(path))
            return sock
        except BlockingIOError:  # EAGAIN: the listen backlog is full
            sock.close()
            if time.monotonic() + _BUSY_RETRY_S > deadline:
                raise LeakscopeError(
                    ExitCode.TIMEOUT,
                    f"the agent of process {pid} stayed too busy to accept a connection "
                    f"for {timeout:g} s (its backlog is full); try again or raise --timeout",
                ) from None
            time.sleep(_BUSY_RETRY_S)
        except PermissionError:
            sock.close()
            raise LeakscopeError(
                ExitCode.PERMISSION,
                f"permission denied on the agent socket of process {pid} ({path})",
            ) from None
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            if discovery.is_gone(pid):
                raise _gone_error(pid) from None
            raise LeakscopeError(
                ExitCode.NO_AGENT,
                f"the agent of process {pid} is not answering on {path} (stopped?); "
                + START_HINT.format(pid=pid),
            ) from None
        except TimeoutError:
            sock.close()
            raise LeakscopeError(
                ExitCode.TIMEOUT,
                f"the agent of process {pid} did not accept the connection (busy?)",
            ) from None
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EAGAIN:
                continue
            raise LeakscopeError(
                ExitCode.NO_AGENT, f"cannot connect to the agent of process {pid}: {exc}"
            ) from None


class LocalTransport:
    """One RPyC connection to the agent of a process on this host."""

    def __init__(
        self, pid: int, path: Path, conn: Any, timeout: float, sock: socket.socket
    ) -> None:
        self.pid = pid
        self._sock = sock
        self.path = path
        self._conn = conn
        self._timeout = timeout
        self.hello: dict[str, Any] = {}

    @classmethod
    def open(cls, pid: int, path: Path, timeout: float) -> LocalTransport:
        """Connect to the agent socket at *path* (of process *pid*) and shake hands."""
        from rpyc.core.channel import Channel
        from rpyc.core.protocol import Connection
        from rpyc.core.service import VoidService
        from rpyc.core.stream import SocketStream

        sock = _connect_socket(pid, path, timeout)
        sock.settimeout(None)
        config = dict(wire.CLIENT_RPYC_CONFIG, sync_request_timeout=timeout)
        try:
            conn = Connection(VoidService(), Channel(SocketStream(sock)), config)
        except Exception as exc:
            sock.close()
            raise LeakscopeError(
                ExitCode.TARGET_EXITED, f"connection to {pid} failed: {exc}"
            ) from None
        transport = cls(pid, path, conn, timeout, sock)
        try:
            hello = transport.call("hello", (), timeout)
        except LeakscopeError:
            transport.close()
            raise
        check_protocol(hello, f"the agent of process {pid}")
        transport.hello = hello
        return transport

    def close(self) -> None:
        """Close the connection at once (never raises, never waits for the agent)."""
        # RPyC's own close() asks the agent to acknowledge, so it would wait for the answer
        # of a call still running there: the census that Ctrl-C or --timeout gave up on.
        # The agent needs no goodbye: the closed socket ends its side (and drops a dump).
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(Exception):
            self._conn.close()

    def call(self, method: str, args: tuple[object, ...], timeout: float) -> Any:
        """Call an exposed method with plain arguments; return its answer's payload."""
        from rpyc.core.async_ import AsyncResultTimeout

        self._conn._config["sync_request_timeout"] = timeout
        try:
            text = getattr(self._conn.root, method)(*args)
        except AsyncResultTimeout:
            raise LeakscopeError(
                ExitCode.TIMEOUT,
                f"process {self.pid} did not answer {method} within {timeout:g} s"
                " (raise --timeout for big heaps)",
            ) from None
        except (EOFError, OSError):
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
        return unwrap(text, f"process {self.pid}")

    def _lost(self, method: str) -> LeakscopeError:
        if discovery.is_gone(self.pid):
            return LeakscopeError(
                ExitCode.TARGET_EXITED, f"process {self.pid} exited during the query ({method})"
            )
        return LeakscopeError(
            ExitCode.TARGET_EXITED,
            f"the agent of process {self.pid} closed the connection during {method}",
        )


def unwrap(text: object, who: str) -> Any:
    """The payload of an agent's answer, or its failure as a `LeakscopeError`."""
    try:
        data = wire.decode(text)
    except (ValueError, wire.ArgumentRefused) as exc:
        raise LeakscopeError(
            ExitCode.INCOMPATIBLE, f"unreadable answer from {who}: {exc}"
        ) from None
    if "error" in data:
        err = data["error"] if isinstance(data["error"], dict) else {}
        code = _AGENT_CODES.get(str(err.get("code")), ExitCode.AGENT_ERROR)
        raise LeakscopeError(code, str(err.get("message", "the agent refused the request")))
    return data.get("ok")


def check_protocol(hello: object, who: str) -> None:
    """Refuse a handshake of another protocol version (exit code INCOMPATIBLE)."""
    if isinstance(hello, dict) and hello.get("protocol") == wire.PROTOCOL_VERSION:
        return
    theirs = hello.get("protocol") if isinstance(hello, dict) else "?"
    version = hello.get("version") if isinstance(hello, dict) else "?"
    raise LeakscopeError(
        ExitCode.INCOMPATIBLE,
        f"{who} speaks protocol {theirs} (leakscope {version}); this leakscope speaks "
        f"{wire.PROTOCOL_VERSION}: use the same version on both sides",
    )
