"""What `leakscope attach` checks about a process before touching it, and how to leave it.

`inspect_target` refuses, with the exit code that names the cause, a process
that does not exist, belongs to another user (unless we are root), is already
traced or stopped, or is not CPython. `ensure_running` makes sure a debugger
killed half-way never leaves the target stopped. `Unavailable` is a way in
that cannot be used here (nothing was done to the target): the next is tried.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from leakscope.client import discovery
from leakscope.client.errors import ExitCode, LeakscopeError

_PTRACE_HELP = (
    "ptrace is not permitted: {yama}; in a container the debugger also needs the "
    "CAP_SYS_PTRACE capability (docker run --cap-add=SYS_PTRACE)"
)
_YAMA = {
    "0": "kernel.yama.ptrace_scope is 0, so something else forbids it (a seccomp "
    "profile, or the target made itself undumpable)",
    "1": "kernel.yama.ptrace_scope is 1: only a parent may trace its children; run as "
    "root, or `sudo sysctl kernel.yama.ptrace_scope=0`",
    "2": "kernel.yama.ptrace_scope is 2: only root (CAP_SYS_PTRACE) may attach",
    "3": "kernel.yama.ptrace_scope is 3: attaching is disabled until reboot",
}


@dataclass(frozen=True)
class Target:
    """What we know about the process before touching it."""

    pid: int
    uid: int
    exe: str
    python: tuple[int, int] | None  # major, minor when we can tell


class Unavailable(Exception):
    """This way into the process cannot be used here; nothing was done to the target."""


def inspect_target(pid: int) -> Target:
    """Check that *pid* is a live, running CPython process we may attach to."""
    if pid <= 0:
        raise LeakscopeError(ExitCode.USAGE, f"invalid PID {pid}")
    if pid == os.getpid():
        raise LeakscopeError(ExitCode.USAGE, "refusing to attach to leakscope itself")
    uid = discovery.process_uid(pid)
    if uid is None:
        raise LeakscopeError(ExitCode.NO_SUCH_PROCESS, f"no such process: {pid}")
    discovery.check_owner(pid, uid, "attach")
    debugger = tracer(pid)
    if debugger:
        raise LeakscopeError(
            ExitCode.ATTACH_FAILED,
            f"process {pid} is already traced by process {debugger} "
            f"({discovery.process_name(debugger)}); detach that first",
        )
    state = discovery.process_state(pid)
    if state is None or state in "ZX":
        raise LeakscopeError(ExitCode.NO_SUCH_PROCESS, f"process {pid} has exited")
    if state in "Tt":
        raise LeakscopeError(
            ExitCode.ATTACH_FAILED,
            f"process {pid} is stopped (or traced by a debugger); resume it "
            f"(kill -CONT {pid}) or detach the other debugger first",
        )
    exe = discovery.process_exe(pid)  # "" when undumpable: then the debugger will tell
    python = discovery.python_version(pid, exe)
    if exe and python is None and "python" not in os.path.basename(exe).lower():
        raise LeakscopeError(
            ExitCode.NOT_PYTHON,
            f"process {pid} ({os.path.basename(exe) or '?'}) is not a CPython process",
        )
    return Target(pid=pid, uid=uid, exe=exe, python=python)


def tracer(pid: int) -> int:
    """The PID tracing *pid* (a debugger), 0 when none."""
    found = discovery.status_field(pid, "TracerPid")
    return int(found) if found is not None and found.isdigit() else 0


def version_text(version: tuple[int, ...] | None) -> str | None:
    """``"3.11"`` for (3, 11); None when unknown."""
    return f"{version[0]}.{version[1]}" if version else None


def ensure_running(pid: int) -> None:
    """Never leave the target stopped: a killed debugger can leave it in state T."""
    for _ in range(20):
        state = discovery.process_state(pid)
        if state is None or state not in "Tt":
            return
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGCONT)
        time.sleep(0.05)


def ptrace_explanation() -> str:
    """Why ptrace is refused here and how to allow it (Yama's ptrace_scope, capabilities)."""
    try:
        scope = Path("/proc/sys/kernel/yama/ptrace_scope").read_text().strip()
    except OSError:
        scope = None
    if scope is None:
        yama = (
            "the Yama LSM is not active here, so something else forbids it (a seccomp "
            "profile, another LSM, or the target made itself undumpable)"
        )
    else:
        yama = _YAMA.get(scope, f"kernel.yama.ptrace_scope is {scope}")
    return _PTRACE_HELP.format(yama=yama)
