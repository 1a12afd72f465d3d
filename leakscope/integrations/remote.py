"""Inspecting a process on another host or in a container, through a command prefix.

``leakscope --remote "ssh user@box" prefs --pid 4242`` runs, for each query,
``ssh user@box leakscope _call prefs --pid 4242 --args '[...]'``: the leakscope
installed on the other side connects to the agent there (as the remote user,
with the agent's usual peer check) and prints one JSON line; the table is drawn
here. Nothing listens on a TCP port: the transport is whatever the prefix is
(ssh, ``kubectl exec -i POD --``, ``docker exec -i CONTAINER``).

Each query is one run of the prefix. ssh joins its remote arguments into a
shell command line, so they are shell-quoted when the prefix runs ssh;
kubectl and docker pass argv as is. ``LEAKSCOPE_REMOTE_COMMAND`` names the
remote program (default ``leakscope``; e.g. ``python3 -m leakscope`` or a
virtualenv's ``bin/leakscope``).

Failures of the transport are one line each, with existing exit codes:

* the host or container cannot be reached (ssh exit 255, kubectl/docker
  errors): `ExitCode.NO_AGENT`;
* leakscope is not installed there, is too old to know ``_call``, speaks
  another protocol, or prints something other than JSON: `ExitCode.INCOMPATIBLE`;
* no answer within the timeout: `ExitCode.TIMEOUT`;
* the prefix cannot be parsed or its program does not exist here: `ExitCode.USAGE`.

Errors of the agent or of the remote leakscope (no such process, unknown
class, ...) keep the exit code they have on the remote side.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from typing import Any

from leakscope import wire
from leakscope.errors import ExitCode, LeakscopeError

#: Name of the hidden command the remote leakscope runs (`leakscope.cli.remote_call`).
CALL_COMMAND = "_call"
#: Pseudo-method of ``_call`` that lists the agents there (for ``leakscope ps``).
PS_METHOD = "__ps__"
#: Seconds allowed on top of the query timeout for the transport to connect.
CONNECT_ALLOWANCE_S = 20.0

_SHELL_JOINING = frozenset({"ssh", "autossh"})
# What shells, env, python and container runtimes say when the program is missing
# ("pods ... not found" from kubectl means an unreachable pod, not this).
_NOT_INSTALLED = re.compile(
    r"command not found|No such file or directory|No module named leakscope"
    r"|executable file not found|can't open file"
)


def parse_prefix(remote: str | None, host: str | None) -> list[str]:
    """The transport's argv from ``--remote PREFIX`` or ``--host USER@HOST``.

    Refuses both at once, an empty prefix, one shlex cannot split (an open
    quote) and a host that looks like an option, with `ExitCode.USAGE`.
    """
    if remote is not None and host is not None:
        raise LeakscopeError(
            ExitCode.USAGE,
            "give either --remote or --host, not both (--host H is --remote 'ssh H')",
        )
    if host is not None:
        name = host.strip()
        if not name or name.startswith("-") or any(ch.isspace() for ch in name):
            raise LeakscopeError(ExitCode.USAGE, f"--host wants USER@HOST or HOST, not {host!r}")
        return ["ssh", name]
    assert remote is not None
    try:
        prefix = shlex.split(remote)
    except ValueError as exc:
        raise LeakscopeError(ExitCode.USAGE, f"cannot parse --remote {remote!r}: {exc}") from None
    if not prefix:
        raise LeakscopeError(
            ExitCode.USAGE,
            '--remote is empty; give a command prefix such as "ssh user@box" or '
            '"kubectl exec -i mypod --"',
        )
    return prefix


def remote_program() -> list[str]:
    """The leakscope command on the remote side (``LEAKSCOPE_REMOTE_COMMAND``)."""
    text = os.environ.get("LEAKSCOPE_REMOTE_COMMAND", "").strip() or "leakscope"
    try:
        argv = shlex.split(text)
    except ValueError as exc:
        raise LeakscopeError(
            ExitCode.USAGE, f"cannot parse LEAKSCOPE_REMOTE_COMMAND {text!r}: {exc}"
        ) from None
    return argv or ["leakscope"]


def joins_into_shell_line(prefix: list[str]) -> bool:
    """True when the prefix runs ssh, which hands its arguments to a remote shell."""
    return any(os.path.basename(word) in _SHELL_JOINING for word in prefix)


def command_line(prefix: list[str], remote_argv: list[str]) -> list[str]:
    """The local argv that runs *remote_argv* on the other side of *prefix*."""
    if joins_into_shell_line(prefix):
        return [*prefix, " ".join(shlex.quote(word) for word in remote_argv)]
    return [*prefix, *remote_argv]


def _describe(prefix: list[str]) -> str:
    return shlex.join(prefix)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _transport_failure(
    prefix: list[str], returncode: int, stdout: str, stderr: str
) -> LeakscopeError:
    """The one-line error for a run that printed no JSON answer."""
    where = _describe(prefix)
    said = _last_line(stderr)
    detail = f": {said[:200]}" if said else ""
    ssh = joins_into_shell_line(prefix)
    if ssh and returncode == 255:
        return LeakscopeError(ExitCode.NO_AGENT, f"cannot reach the remote host ({where}){detail}")
    program = shlex.join(remote_program())
    if returncode in (126, 127) or (returncode != 0 and _NOT_INSTALLED.search(stderr)):
        return LeakscopeError(
            ExitCode.INCOMPATIBLE,
            f"leakscope is not installed on the other side of {where!r} (could not run "
            f"{program!r}{detail}); install it there (pip install leakscope) or set "
            "LEAKSCOPE_REMOTE_COMMAND, e.g. 'python3 -m leakscope' or /path/to/venv/bin/leakscope",
        )
    if "No such command" in stderr and CALL_COMMAND in stderr:
        return LeakscopeError(
            ExitCode.INCOMPATIBLE,
            f"the leakscope on the other side of {where!r} is too old for --remote "
            "(it has no _call command); install the same version on both sides",
        )
    if returncode != 0:
        return LeakscopeError(
            ExitCode.NO_AGENT,
            f"the remote command {where!r} failed with exit code {returncode}{detail}",
        )
    shown = stdout.strip()[:80]
    if not shown:
        return LeakscopeError(
            ExitCode.INCOMPATIBLE,
            f"{program!r} on the other side of {where!r} printed nothing (expected one JSON line)",
        )
    return LeakscopeError(
        ExitCode.INCOMPATIBLE,
        f"{program!r} on the other side of {where!r} did not answer with JSON: {shown!r}",
    )


def _parse_answer(text: str) -> dict[str, Any] | None:
    # Shell start-up files may print a line before ours: the answer is the last line.
    line = _last_line(text)
    if not line.startswith("{"):
        return None
    try:
        data = json.loads(line)
    except ValueError:
        return None
    return data if type(data) is dict else None


def _error_code(value: object) -> ExitCode:
    if type(value) is int:
        try:
            return ExitCode(value)
        except ValueError:
            pass
    return ExitCode.AGENT_ERROR


def _check_protocol(prefix: list[str], data: dict[str, Any]) -> None:
    where = _describe(prefix)
    theirs = data.get("protocol")
    hello = data.get("hello")
    if theirs is None and isinstance(hello, dict):
        theirs = hello.get("protocol")
    if theirs != wire.PROTOCOL_VERSION:
        version = data.get("version")
        if version is None and isinstance(hello, dict):
            version = hello.get("version")
        raise LeakscopeError(
            ExitCode.INCOMPATIBLE,
            f"the leakscope on the other side of {where!r} speaks protocol {theirs} "
            f"(leakscope {version or '?'}); this leakscope speaks {wire.PROTOCOL_VERSION}: "
            "use the same version on both sides",
        )


def run_remote(
    prefix: list[str], method: str, pid: int | None, args: tuple[object, ...], timeout: float
) -> dict[str, Any]:
    """Run one ``_call`` on the other side; return its decoded JSON line.

    Raises `LeakscopeError` for transport failures, a protocol mismatch and
    errors reported by the remote leakscope (with their exit codes).
    """
    remote_argv = [*remote_program(), CALL_COMMAND, method, "--args", json.dumps(list(args))]
    if pid is not None:
        remote_argv += ["--pid", str(pid)]
    remote_argv += ["--timeout", f"{timeout:g}"]
    argv = command_line(prefix, remote_argv)
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,  # ssh and kubectl -i would read our terminal otherwise
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout + CONNECT_ALLOWANCE_S,
        )
    except FileNotFoundError:
        raise LeakscopeError(
            ExitCode.USAGE, f"cannot run {prefix[0]!r} (from --remote): no such program here"
        ) from None
    except PermissionError:
        raise LeakscopeError(
            ExitCode.USAGE, f"cannot run {prefix[0]!r} (from --remote): permission denied"
        ) from None
    except subprocess.TimeoutExpired:
        raise LeakscopeError(
            ExitCode.TIMEOUT,
            f"no answer through {_describe(prefix)!r} within {timeout + CONNECT_ALLOWANCE_S:g} s "
            "(raise --timeout for big heaps)",
        ) from None
    data = _parse_answer(done.stdout)
    if data is None or not ({"answer", "error"} & set(data)):
        raise _transport_failure(prefix, done.returncode, done.stdout, done.stderr)
    _check_protocol(prefix, data)
    if "error" in data:
        err = data["error"] if isinstance(data["error"], dict) else {}
        raise LeakscopeError(
            _error_code(err.get("code")), str(err.get("message", "the remote side failed"))
        )
    return data


class RemoteClient:
    """An agent on the other side of a command prefix; the interface of `client.Client`.

    Nothing runs until the first call (or the first look at ``hello`` or, without
    a PID, ``pid``): a query is one run of the prefix, and its answer carries the
    handshake.
    """

    def __init__(self, prefix: list[str], pid: int | None, timeout: float) -> None:
        self.prefix = list(prefix)
        self._pid = pid
        self._timeout = timeout
        self._hello: dict[str, Any] | None = None

    def __enter__(self) -> RemoteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing stays open between calls; kept for the `Client` interface."""

    @property
    def hello(self) -> dict[str, Any]:
        """The remote agent's handshake (asked for on first use)."""
        if self._hello is None:
            self.call("hello")
        return self._hello or {}

    @property
    def pid(self) -> int:
        """The remote process's PID (asked for when none was given)."""
        if self._pid is None:
            pid = self.hello.get("pid")
            if type(pid) is not int:
                raise LeakscopeError(
                    ExitCode.INCOMPATIBLE,
                    f"the remote side of {_describe(self.prefix)!r} did not say its PID",
                )
            self._pid = pid
        return self._pid

    def call(self, method: str, *args: object, timeout: float | None = None) -> Any:
        """Call an exposed method of the remote agent; return its answer's payload."""
        data = run_remote(self.prefix, method, self._pid, args, timeout or self._timeout)
        hello = data.get("hello")
        if isinstance(hello, dict):
            self._hello = hello
            if self._pid is None and type(hello.get("pid")) is int:
                self._pid = hello["pid"]
        return data.get("answer")


def connect_remote(prefix: list[str], pid: int | None, timeout: float) -> RemoteClient:
    """A client for the agent of *pid* (or the only agent) on the far side of *prefix*."""
    if not prefix:
        raise LeakscopeError(ExitCode.USAGE, "--remote is empty")
    return RemoteClient(prefix, pid, timeout)


def list_agents(prefix: list[str], all_users: bool = False, timeout: float = 5.0) -> list[Any]:
    """The agents on the other side of *prefix*, as `leakscope.snapshot.AgentInfo`."""
    from leakscope.snapshot import AgentInfo

    data = run_remote(prefix, PS_METHOD, None, (all_users,), timeout)
    answer = data.get("answer")
    if not isinstance(answer, list):
        raise LeakscopeError(
            ExitCode.INCOMPATIBLE,
            f"the remote side of {_describe(prefix)!r} answered ps with {type(answer).__name__}",
        )
    return [
        AgentInfo.from_json(item)
        for item in answer
        if isinstance(item, dict) and type(item.get("pid")) is int
    ]
