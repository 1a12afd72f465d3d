"""``leakscope attach PID``: start (or stop) the agent in a Python process that did not opt in.

The target runs one fixed statement that executes a request file we wrote into
a fresh private directory (`request`); that file claims the request, starts a
thread that imports the agent and calls ``start()`` (or ``stop()``), and writes
``report.json``. We then wait until the agent's socket answers (or, for a
stop, until it is gone).

How the statement gets in, tried in this order (``--via``):

* ``remote-exec``: Python 3.14's ``sys.remote_exec`` (`remote_exec`), when this
  interpreter and the target are both 3.14+ of the same minor version;
* ``lldb`` (Debian package ``lldb``), then ``gdb`` (package ``gdb``): see
  `debugger`, and the commands it sends in ``lldb.toml`` and ``gdb.toml``.

Safety: the statement is fixed text whose only variable part is the path of our
request file, checked against a strict pattern; a debugger that outlives the
timeout is killed and the target is sent SIGCONT if it was left stopped; a
process of another user is refused unless we are root (`process`).
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

from leakscope import wire
from leakscope.client import discovery
from leakscope.client.attach.debugger import DEBUGGERS, debugger_inject
from leakscope.client.attach.process import Target, Unavailable, inspect_target, version_text
from leakscope.client.attach.remote_exec import remote_exec_inject
from leakscope.client.attach.request import Request, inject_paths
from leakscope.client.errors import ExitCode, LeakscopeError
from leakscope.client.local import LocalTransport
from leakscope.client.reports import AttachResult

MECHANISMS = ("remote-exec", *DEBUGGERS)
DEFAULT_TIMEOUT_S = 30.0
_REMOTE_EXEC_GRACE_S = 3.0


def attach(
    pid: int,
    via: str = "auto",
    timeout: float = DEFAULT_TIMEOUT_S,
    inject_path: bool = False,
    say: Callable[[str], None] | None = None,
) -> AttachResult:
    """Start the agent inside *pid* and wait until its socket answers."""
    return _run("start", pid, via, timeout, inject_path, say)


def detach(
    pid: int,
    via: str = "auto",
    timeout: float = DEFAULT_TIMEOUT_S,
    say: Callable[[str], None] | None = None,
) -> AttachResult:
    """Stop the agent inside *pid* (however it started) and wait until its socket is gone."""
    return _run("stop", pid, via, timeout, False, say)


def _run(
    action: str,
    pid: int,
    via: str,
    timeout: float,
    inject_path: bool,
    say: Callable[[str], None] | None,
) -> AttachResult:
    started = time.monotonic()
    deadline = started + timeout
    if via != "auto" and via not in MECHANISMS:
        raise LeakscopeError(
            ExitCode.USAGE, f"unknown --via {via!r}: auto, {', '.join(MECHANISMS)}"
        )
    target = inspect_target(pid)
    python = version_text(target.python)
    existing = _answering_socket(pid)
    if action == "start" and existing is not None:
        return AttachResult(pid, action, "none", "none", str(existing), python, 0.0, already=True)
    if action == "stop" and existing is None and _socket_file(pid) is None:
        return AttachResult(pid, action, "none", "none", None, python, 0.0, already=True)
    warnings: list[str] = []
    extra: tuple[str, ...] = ()
    if inject_path:
        here = sys.version_info[:2]
        if target.python != here:
            theirs = version_text(target.python) or "an unknown version"
            raise LeakscopeError(
                ExitCode.ATTACH_FAILED,
                f"--inject-path needs the target's Python to be {here[0]}.{here[1]} like "
                f"leakscope's, but process {pid} runs {theirs}; install leakscope in the "
                "target's environment instead",
            )
        extra = inject_paths()
        warnings.append(
            "--inject-path: process {} now imports leakscope and its dependencies from {} "
            "(another environment); its own packages still come first".format(pid, ", ".join(extra))
        )
        if say:
            say("warning: " + warnings[-1])
    request = Request(target, action, extra)
    tried: list[str] = []
    try:
        via_used, route = _inject(target, request, via, deadline, tried)
        report = _wait_report(target, request, route, deadline)
        socket_path = _finish(action, target, report, deadline, warnings)
    finally:
        request.remove()
    return AttachResult(
        pid=pid,
        action=action,
        via=via_used,
        route=route,
        socket=socket_path,
        python=str(report.get("python") or python or "") or None,
        seconds=time.monotonic() - started,
        warnings=tuple(warnings),
        tried=tuple(tried),
    )


def _inject(
    target: Target, request: Request, via: str, deadline: float, tried: list[str]
) -> tuple[str, str]:
    order = MECHANISMS if via == "auto" else (via,)
    for name in order:
        try:
            if name == "remote-exec":
                route = remote_exec_inject(target, request)
                if via != "auto" or _claimed_within(request, _REMOTE_EXEC_GRACE_S):
                    return name, route
                # The main thread may be blocked (sys.remote_exec waits for it to
                # run Python); a debugger can still get in. The claim file makes
                # sure only one of the two runs the request.
                tried.append(f"remote-exec: not run within {_REMOTE_EXEC_GRACE_S:.0f} s")
                continue
            return name, debugger_inject(name, target, request.statement, deadline)
        except Unavailable as exc:
            tried.append(f"{name}: {exc}")
    if via == "auto" and all("not installed" in t or t.startswith("remote-exec") for t in tried):
        raise LeakscopeError(
            ExitCode.ATTACH_FAILED,
            "no debugger found: install lldb (Debian package lldb) or gdb (package gdb); "
            "sys.remote_exec would need Python 3.14+ on both sides",
        )
    raise LeakscopeError(ExitCode.ATTACH_FAILED, "cannot attach: " + "; ".join(tried))


def _claimed_within(request: Request, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while not request.claimed:
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


def _wait_report(
    target: Target, request: Request, route: str, deadline: float
) -> dict[str, object]:
    pid = target.pid
    while True:
        report = request.report()
        if report is not None:
            return report
        if discovery.process_state(pid) is None:
            raise LeakscopeError(ExitCode.TARGET_EXITED, f"process {pid} exited during attach")
        if time.monotonic() > deadline:
            if request.claimed:
                raise LeakscopeError(
                    ExitCode.TIMEOUT,
                    f"process {pid} took the request but its agent did not report within the "
                    "timeout (slow import?); it may still start: check `leakscope ps`",
                )
            where = (
                "its main thread did not reach a point where Python code can safely run "
                "(waiting on a lock, or in a long call that holds the GIL)"
                if route in ("pending", "remote-exec")
                else "the injected statement did not run"
            )
            raise LeakscopeError(
                ExitCode.TIMEOUT,
                f"process {pid}: {where}; nothing was started (try again, or a larger --timeout)",
            )
        time.sleep(0.02)


def _finish(
    action: str, target: Target, report: dict[str, object], deadline: float, warnings: list[str]
) -> str | None:
    pid = target.pid
    if report.get("status") != "ok":
        error = str(report.get("error") or "unknown error")
        missing = str(report.get("missing") or "")
        if missing:
            python = str(report.get("python") or "?")
            exe = str(report.get("executable") or target.exe)
            hint = (
                "install it there"
                if missing.split(".")[0] == "leakscope"
                else "install leakscope there"
            ) + f" ({exe} -m pip install leakscope)"
            here = version_text(sys.version_info[:2])
            if python == here:
                hint += ", or retry with --inject-path to use this leakscope's installation"
            raise LeakscopeError(
                ExitCode.ATTACH_FAILED,
                f"process {pid} (Python {python}) cannot import {missing or 'leakscope'}: {hint}",
            )
        raise LeakscopeError(
            ExitCode.ATTACH_FAILED, f"the agent in process {pid} failed to {action}: {error}"
        )
    if action == "stop":
        while _socket_file(pid) is not None:
            if time.monotonic() > deadline:
                raise LeakscopeError(
                    ExitCode.TIMEOUT, f"the agent of process {pid} stopped but its socket remains"
                )
            time.sleep(0.02)
        return None
    path = Path(str(report.get("socket")))
    problem = _wait_answer(pid, path, deadline)
    if problem:
        warnings.append(problem)
    return str(path)


def _socket_file(pid: int) -> Path | None:
    try:
        return discovery.find_socket(pid)
    except wire.UnsafeDirectory:
        return None


def _answering_socket(pid: int) -> Path | None:
    path = _socket_file(pid)
    if path is None:
        return None
    try:
        LocalTransport.open(pid, path, timeout=5.0).close()
        return path
    except LeakscopeError:
        return None


def _wait_answer(pid: int, path: Path, deadline: float) -> str | None:
    """Wait until *path* accepts a connection; then shake hands (a failure is returned)."""
    while not _accepts(path):
        if time.monotonic() > deadline:
            raise LeakscopeError(
                ExitCode.TIMEOUT, f"the agent started in process {pid} does not answer on {path}"
            )
        time.sleep(0.02)
    try:
        LocalTransport.open(pid, path, timeout=max(2.0, deadline - time.monotonic())).close()
        return None
    except LeakscopeError as exc:
        return f"the agent answers on {path} but the handshake failed: {exc}"


def _accepts(path: Path) -> bool:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(1.0)
    try:
        sock.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        sock.close()
