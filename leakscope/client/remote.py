"""The remote transport: an agent on another host or in a container, through a command prefix.

``leakscope --remote "ssh user@box" prefs --pid 4242`` runs, for each query,
``ssh user@box leakscope _call prefs --pid 4242 --args '[...]'``: the leakscope
installed on the other side connects to the agent there (as the remote user,
with the agent's usual peer check) and prints one JSON line (`answer_call`);
the table is drawn here. Nothing listens on a TCP port: the transport is
whatever the prefix is (ssh, ``kubectl exec -i POD --``, ``docker exec -i
CONTAINER``).

Each query is one run of the prefix, bounded by ``--timeout`` as a whole (the
prefix's whole process group is killed then). ssh joins its remote arguments
into a shell command line, so they are shell-quoted when the prefix runs ssh;
kubectl and docker pass argv as is. ``LEAKSCOPE_REMOTE_COMMAND`` names the
remote program (default ``leakscope``; e.g. ``python3 -m leakscope`` or a
virtualenv's ``bin/leakscope``).

Failures of the transport itself — the host or container cannot be reached,
the prefix exits with an error, leakscope is missing there or too old, the
answer is not ours — have their own exit code, `ExitCode.TRANSPORT`, and a
line naming the remote command, its exit status and its last stderr line.
A prefix that cannot be parsed, or whose program does not exist here, is
`ExitCode.USAGE`; another protocol version is `ExitCode.INCOMPATIBLE`; no
answer in time is `ExitCode.TIMEOUT`. Errors of the agent or of the remote
leakscope (no such process, unknown class, ...) keep their remote exit code.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
from typing import Any

from leakscope import wire
from leakscope.client.errors import ExitCode, LeakscopeError
from leakscope.client.local import check_protocol

#: Name of the hidden command the remote leakscope runs (`answer_call`).
CALL_COMMAND = "_call"
#: Pseudo-method of ``_call`` that lists the agents there (for ``leakscope ps``).
PS_METHOD = "__ps__"

_SHELL_JOINING = frozenset({"ssh", "autossh"})
# What shells, env, python and container runtimes say when the program is missing
# ("pods ... not found" from kubectl means an unreachable pod, not this).
_NOT_INSTALLED = re.compile(
    r"command not found|No such file or directory|No module named leakscope"
    r"|executable file not found|can't open file"
)


def parse_prefix(remote: str | None, host: str | None) -> tuple[str, ...]:
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
        return ("ssh", name)
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
    return tuple(prefix)


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


def joins_into_shell_line(prefix: tuple[str, ...]) -> bool:
    """True when the prefix runs ssh, which hands its arguments to a remote shell."""
    return any(os.path.basename(word) in _SHELL_JOINING for word in prefix)


def command_line(prefix: tuple[str, ...], remote_argv: list[str]) -> list[str]:
    """The local argv that runs *remote_argv* on the other side of *prefix*."""
    if joins_into_shell_line(prefix):
        return [*prefix, " ".join(shlex.quote(word) for word in remote_argv)]
    return [*prefix, *remote_argv]


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _transport_failure(
    prefix: tuple[str, ...], returncode: int, stdout: str, stderr: str
) -> LeakscopeError:
    """The one-line error for a run that printed no answer of ours."""
    where = shlex.join(prefix)
    said = _last_line(stderr)
    detail = f": {said[:200]}" if said else ""
    program = shlex.join(remote_program())
    if joins_into_shell_line(prefix) and returncode == 255:
        return LeakscopeError(
            ExitCode.TRANSPORT, f"cannot reach the remote host ({where}, exit status 255){detail}"
        )
    if returncode in (126, 127) or (returncode != 0 and _NOT_INSTALLED.search(stderr)):
        return LeakscopeError(
            ExitCode.TRANSPORT,
            f"leakscope is not installed on the other side of {where!r} (could not run "
            f"{program!r}, exit status {returncode}{detail}); install it there "
            "(pip install leakscope) or set LEAKSCOPE_REMOTE_COMMAND, e.g. "
            "'python3 -m leakscope' or /path/to/venv/bin/leakscope",
        )
    if "No such command" in stderr and CALL_COMMAND in stderr:
        return LeakscopeError(
            ExitCode.TRANSPORT,
            f"the leakscope on the other side of {where!r} is too old for --remote "
            "(it has no _call command); install the same version on both sides",
        )
    if returncode != 0:
        return LeakscopeError(
            ExitCode.TRANSPORT,
            f"the remote command {where!r} failed with exit status {returncode}{detail}",
        )
    shown = stdout.strip()[:80]
    if not shown:
        return LeakscopeError(
            ExitCode.TRANSPORT,
            f"{program!r} on the other side of {where!r} printed nothing (expected one JSON line)",
        )
    return LeakscopeError(
        ExitCode.TRANSPORT,
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


def _check_remote_protocol(prefix: tuple[str, ...], data: dict[str, Any]) -> None:
    hello = data.get("hello")
    stated = {"protocol": data.get("protocol"), "version": data.get("version")}
    if stated["protocol"] is None and isinstance(hello, dict):
        stated = hello
    check_protocol(stated, f"the leakscope on the other side of {shlex.join(prefix)!r}")


def _run(argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run the prefix in a session of its own; kill the whole session at *timeout*."""
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,  # ssh and kubectl -i would read our terminal otherwise
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,  # so a timeout can kill what the prefix started too
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def run_remote(
    prefix: tuple[str, ...],
    method: str,
    pid: int | None,
    args: tuple[object, ...],
    timeout: float,
) -> dict[str, Any]:
    """Run one ``_call`` on the other side; return its decoded JSON line.

    Raises `LeakscopeError` for transport failures, a protocol mismatch and
    errors reported by the remote leakscope (with their exit codes).
    """
    remote_argv = [*remote_program(), CALL_COMMAND, method, "--args", json.dumps(list(args))]
    if pid is not None:
        remote_argv += ["--pid", str(pid)]
    remote_argv += ["--timeout", f"{timeout:g}"]
    try:
        done = _run(command_line(prefix, remote_argv), timeout)
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
            f"no answer through {shlex.join(prefix)!r} within {timeout:g} s (--timeout)",
        ) from None
    data = _parse_answer(done.stdout)
    if data is None or not ({"answer", "error"} & set(data)):
        raise _transport_failure(prefix, done.returncode, done.stdout, done.stderr)
    _check_remote_protocol(prefix, data)
    if "error" in data:
        err = data["error"] if isinstance(data["error"], dict) else {}
        raise LeakscopeError(
            _error_code(err.get("code")), str(err.get("message", "the remote side failed"))
        )
    return data


class RemoteTransport:
    """An agent on the other side of a command prefix.

    Nothing runs until the first call (or the first look at ``hello`` or,
    without a PID, ``pid``): a query is one run of the prefix, and its answer
    carries the handshake.
    """

    def __init__(self, prefix: tuple[str, ...], pid: int | None, timeout: float) -> None:
        self.prefix = prefix
        self._pid = pid
        self._timeout = timeout
        self._hello: dict[str, Any] | None = None

    def close(self) -> None:
        """Nothing stays open between calls."""

    @property
    def hello(self) -> dict[str, Any]:
        """The remote agent's handshake (asked for on first use)."""
        if self._hello is None:
            self.call("hello", (), self._timeout)
        return self._hello or {}

    @property
    def pid(self) -> int:
        """The remote process's PID (asked for when none was given)."""
        if self._pid is None:
            pid = self.hello.get("pid")
            if type(pid) is not int:
                raise LeakscopeError(
                    ExitCode.TRANSPORT,
                    f"the remote side of {shlex.join(self.prefix)!r} did not say its PID",
                )
            self._pid = pid
        return self._pid

    def call(self, method: str, args: tuple[object, ...], timeout: float) -> Any:
        """Call an exposed method of the remote agent; return its answer's payload."""
        data = run_remote(self.prefix, method, self._pid, args, timeout)
        hello = data.get("hello")
        if isinstance(hello, dict):
            self._hello = hello
            if self._pid is None and type(hello.get("pid")) is int:
                self._pid = hello["pid"]
        return data.get("answer")


def remote_agents(
    prefix: tuple[str, ...], all_users: bool, timeout: float
) -> tuple[list[dict], list[str]]:
    """The agents on the other side of *prefix*, as the JSON rows of ``ps --json``,
    and the socket directories refused there."""
    data = run_remote(prefix, PS_METHOD, None, (all_users,), timeout)
    answer = data.get("answer")
    if not isinstance(answer, list):
        raise LeakscopeError(
            ExitCode.TRANSPORT,
            f"the remote side of {shlex.join(prefix)!r} answered ps with {type(answer).__name__}",
        )
    rows = [item for item in answer if isinstance(item, dict) and type(item.get("pid")) is int]
    refused = data.get("refused")
    return rows, [str(r) for r in refused] if isinstance(refused, list) else []


# -- the other side: what `leakscope _call` runs ------------------------------------


def parse_args(text: str) -> tuple[object, ...]:
    """The plain arguments of a ``_call``: a JSON array of str/int/float/bool/null
    and nested arrays (which become tuples)."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise LeakscopeError(ExitCode.USAGE, f"--args is not JSON: {exc}") from None
    if type(value) is not list:
        raise LeakscopeError(ExitCode.USAGE, "--args must be a JSON array")
    return tuple(_plain(item) for item in value)


_MAX_DEPTH = 4


def _plain(value: object, depth: int = 0) -> object:
    """A JSON argument as a wire value: lists become tuples; dicts are refused."""
    if value is None or type(value) in (str, int, float, bool):
        return value
    if type(value) is list and depth < _MAX_DEPTH:
        return tuple(_plain(item, depth + 1) for item in value)
    raise LeakscopeError(
        ExitCode.USAGE,
        f"--args may hold only strings, numbers, booleans, null and lists, not {value!r:.60}",
    )


def answer_call(method: str, pid: int | None, args_json: str, timeout: float) -> str:
    """One JSON line answering a ``_call``: the handshake and the answer, or the error."""
    out: dict[str, Any] = {"protocol": wire.PROTOCOL_VERSION, "version": wire.VERSION}
    try:
        out.update(_answer(method, pid, parse_args(args_json), timeout))
    except LeakscopeError as exc:
        out["error"] = {"code": int(exc.code), "message": exc.message}
    except Exception as exc:  # one line for the calling side, never a traceback
        out["error"] = {
            "code": int(ExitCode.INTERNAL),
            "message": f"internal error on the remote side: {type(exc).__name__}: {exc}",
        }
    return json.dumps(out, separators=(",", ":"), default=str)


def _answer(method: str, pid: int | None, args: tuple[object, ...], timeout: float) -> dict:
    from leakscope.client import local, processes

    if method == PS_METHOD:
        all_users = bool(args[0]) if args else False
        agents, refused = processes.list_agents(all_users or os.getuid() == 0, min(timeout, 5.0))
        return {"answer": [a.to_json() for a in agents], "refused": refused}
    if not method.isidentifier() or method.startswith("_"):
        raise LeakscopeError(ExitCode.USAGE, f"{method!r} is not a method name")
    found_pid, path = local.resolve(pid)
    transport = local.LocalTransport.open(found_pid, path, timeout)
    try:
        answer = transport.hello if method == "hello" else transport.call(method, args, timeout)
        return {"hello": transport.hello, "answer": answer}
    finally:
        transport.close()
