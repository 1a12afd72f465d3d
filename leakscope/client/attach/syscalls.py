"""Is the stopped main thread blocked somewhere it is safe to run Python on it?

A debugger can run ``PyRun_SimpleString`` directly on the main thread only
when that thread waits in a system call holding nothing Python code could
need (sleep, select, read, a lock that is not the GIL). The numbers of those
calls differ per architecture; futex is special: it is safe unless it waits
on a lock inside ``_PyRuntime``, where the GIL lives.
"""

from __future__ import annotations

import platform
from pathlib import Path

# System calls a Python main thread makes with the GIL released and no lock held
# that Python code could need (numbers per architecture).
_FUTEX = {"x86_64": 202, "aarch64": 98}
_BLOCKING_SYSCALLS = {
    "x86_64": {
        0: "read",
        7: "poll",
        19: "readv",
        23: "select",
        34: "pause",
        35: "nanosleep",
        42: "connect",
        43: "accept",
        45: "recvfrom",
        47: "recvmsg",
        61: "wait4",
        128: "rt_sigtimedwait",
        130: "rt_sigsuspend",
        202: "futex",
        230: "clock_nanosleep",
        232: "epoll_wait",
        247: "waitid",
        270: "pselect6",
        271: "ppoll",
        281: "epoll_pwait",
        288: "accept4",
        299: "recvmmsg",
        441: "epoll_pwait2",
    },
    "aarch64": {
        22: "epoll_pwait",
        63: "read",
        65: "readv",
        72: "pselect6",
        73: "ppoll",
        95: "waitid",
        98: "futex",
        101: "nanosleep",
        115: "clock_nanosleep",
        133: "rt_sigsuspend",
        137: "rt_sigtimedwait",
        202: "accept",
        203: "connect",
        207: "recvfrom",
        212: "recvmsg",
        242: "accept4",
        243: "recvmmsg",
        260: "wait4",
        441: "epoll_pwait2",
    },
}


def main_syscall(pid: int) -> tuple[int, int] | None:
    """(number, first argument) of the system call the stopped main thread is in."""
    try:
        fields = Path(f"/proc/{pid}/task/{pid}/syscall").read_text().split()
        return int(fields[0]), int(fields[1], 16)
    except (OSError, ValueError, IndexError):
        return None


def blocked_safely(syscall: tuple[int, int] | None, runtime: tuple[int, int] | None) -> bool:
    """True when the main thread waits in a call that holds nothing Python code needs."""
    arch = platform.machine()
    if syscall is None or arch not in _BLOCKING_SYSCALLS:
        return False
    number, first = syscall
    if number not in _BLOCKING_SYSCALLS[arch]:
        return False
    if number == _FUTEX[arch]:
        # A futex inside _PyRuntime is the GIL (or another runtime lock): unsafe.
        return runtime is not None and not runtime[0] <= first < runtime[1]
    return True
