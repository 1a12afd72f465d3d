"""Driving lldb or gdb into a live process: attach, look, make one call, let go.

The debugger attaches, and while everything is stopped looks at the target's
main thread; then either

* runs ``PyGILState_Ensure(); PyRun_SimpleString(s); PyGILState_Release()`` on
  it, only when it is blocked in a system call (sleep, select, read, a lock that
  is not the GIL) and does not hold the GIL (see `syscalls`): it then holds no
  lock that Python code could need, so it is like a C callback coming in from
  outside ("direct");
* or queues ``Py_AddPendingCall(PyRun_SimpleString, s)``, which the main thread
  runs at its next safe point between bytecodes ("pending"). This is used when
  the main thread holds the GIL (it could be in the middle of malloc or a dict
  update) or waits for it (running Python there nests a wait on the GIL's
  condition variable in the interrupted one, which deadlocks glibc: seen with
  gdb).

The debugger detaches at once; the target runs the statement by itself. Every
command sent is in the data files beside this module (``lldb.toml``,
``gdb.toml``): what goes into someone's process can be read in one place.
Every read is bounded in time; a debugger that outlives the deadline is
killed, and the target is never left stopped.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import shutil
import subprocess
import threading
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leakscope.client import discovery
from leakscope.client.attach.process import (
    Target,
    Unavailable,
    ensure_running,
    ptrace_explanation,
)
from leakscope.client.attach.request import c_string
from leakscope.client.attach.syscalls import blocked_safely, main_syscall
from leakscope.client.errors import ExitCode, LeakscopeError

DEBUGGERS = ("lldb", "gdb")
_HERE = Path(__file__).resolve().parent


class Session:
    """A debugger driven line by line through pipes, every read bounded in time."""

    def __init__(self, argv: list[str], sync: str, synced: re.Pattern[str], prompt: str) -> None:
        self._sync = sync
        self._prompt = prompt
        self._synced = synced
        env = dict(os.environ, LC_ALL="C", TERM="dumb")
        self._proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            env=env,
            start_new_session=True,  # a Ctrl-C meant for us must not reach the debugger
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.transcript: list[str] = []

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def run(self, command: str, deadline: float) -> str:
        """Send *command*, return its output; raise TimeoutError at *deadline*."""
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(command + "\n" + self._sync + "\n")
            self._proc.stdin.flush()
        except OSError:
            raise DebuggerGone("".join(self.transcript[-20:])) from None
        out: list[str] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(command)
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                raise TimeoutError(command) from None
            if line is None:
                self.transcript.extend(out)
                raise DebuggerGone("".join(self.transcript[-20:]))
            while line.startswith(self._prompt):
                line = line[len(self._prompt) :]
            if self._synced.search(line):
                self.transcript.extend(out)
                return "".join(out)
            out.append(line)

    def close(self, wait_s: float = 5.0) -> None:
        """Let the debugger quit; kill it if it does not within *wait_s*."""
        with contextlib.suppress(OSError):
            assert self._proc.stdin is not None
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """Kill the debugger (only ours, by its pid)."""
        with contextlib.suppress(OSError):
            self._proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=5)


class DebuggerGone(Exception):
    """The debugger exited while we talked to it."""


@dataclass(frozen=True)
class Step:
    """One command of a call script (see the data files)."""

    command: str
    check: str = ""  # "value" or "no-error": stop before anything else when it fails
    result: bool = False  # its value is the call's result
    extra_wait_s: float = 0.0  # the debugger's own time limit may run past our deadline


@dataclass(frozen=True)
class Dialect:
    """How to drive one debugger: its commands and how to read its answers."""

    name: str
    package: str
    argv: list[str]
    setup: tuple[str, ...]
    sync: str
    synced: re.Pattern[str]
    prompt: str
    error_lines: tuple[re.Pattern[str], ...]
    attach: str
    attached: re.Pattern[str]
    threads: str
    thread_row: re.Pattern[str]  # groups: index, tid
    select: str
    detach: str
    value: re.Pattern[str]
    gil_check: str
    runtime: dict[str, str]
    prepare: tuple[Step, ...]
    routes: dict[str, tuple[Step, ...]]  # "direct" and "pending"

    @classmethod
    def load(cls, name: str) -> Dialect:
        """The dialect described by ``<name>.toml`` beside this module."""
        with open(_HERE / f"{name}.toml", "rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)

        def steps(key: str) -> tuple[Step, ...]:
            return tuple(Step(**item) for item in data.get(key, ()))

        runtime_keys = ("runtime_range", "runtime_range_pattern", "runtime_start", "runtime_size")
        return cls(
            name=data["name"],
            package=data["package"],
            argv=list(data["argv"]),
            setup=tuple(data["setup"]),
            sync=data["sync"],
            synced=re.compile(data["synced"]),
            prompt=data["prompt"],
            error_lines=tuple(re.compile(p) for p in data["error_lines"]),
            attach=data["attach"],
            attached=re.compile(data["attached"]),
            threads=data["threads"],
            thread_row=re.compile(data["thread_row"]),
            select=data["select"],
            detach=data["detach"],
            value=re.compile(data["value"], re.M),
            gil_check=data["gil_check"],
            runtime={k: data[k] for k in runtime_keys if k in data},
            prepare=steps("prepare"),
            routes={"direct": steps("direct"), "pending": steps("pending")},
        )


def debugger_inject(name: str, target: Target, stmt: str, deadline: float) -> str:
    """Inject *stmt* with debugger *name*; return the route ("direct" or "pending")."""
    dialect = Dialect.load(name)
    if shutil.which(dialect.argv[0]) is None:
        raise Unavailable(f"{dialect.name} is not installed (Debian package {dialect.package})")
    pid = target.pid
    session = Session(dialect.argv, dialect.sync, dialect.synced, dialect.prompt)
    attached = False
    in_call = called = False
    try:
        for command in dialect.setup:
            session.run(command, deadline)
        out = session.run(dialect.attach.format(pid=pid), deadline)
        if not dialect.attached.search(out) or _error_line(out, dialect):
            raise _attach_refused(pid, dialect, out)
        attached = True
        _select_main_thread(session, dialect, pid, deadline)
        runtime = _runtime_range(session, dialect, deadline)
        syscall = main_syscall(pid)
        out = session.run(dialect.gil_check, deadline)
        holds_gil = _value(out, dialect)
        if holds_gil is None:
            _raise_call_failure(pid, dialect, out)
        route = "direct" if holds_gil == 0 and blocked_safely(syscall, runtime) else "pending"
        if deadline - time.monotonic() < 1.0:
            raise TimeoutError("no time left for the call")
        in_call = called = True
        result = _call(session, dialect, pid, route, stmt, deadline)
        in_call = False
        if result is None or result < 0:
            raise LeakscopeError(
                ExitCode.ATTACH_FAILED,
                f"{dialect.name}: the call into process {pid} failed ({route}, result {result})",
            )
        session.run(dialect.detach, min(deadline + 5.0, time.monotonic() + 10.0))
        attached = False
        return route
    except TimeoutError:
        if in_call:
            # lldb's own expression timeout unwinds the call; give it time to do so.
            with contextlib.suppress(TimeoutError, DebuggerGone):
                session.run(dialect.detach, time.monotonic() + 10.0)
                attached = False
        raise LeakscopeError(
            ExitCode.TIMEOUT,
            f"{dialect.name} did not finish within the timeout attaching to process {pid}; "
            "it was stopped and the process left running (try a larger --timeout)",
        ) from None
    except DebuggerGone as gone:
        if not called:
            raise Unavailable(
                f"{dialect.name} exited before calling anything: "
                + (_last_error(str(gone)) or "no message")
            ) from None
        raise LeakscopeError(
            ExitCode.ATTACH_FAILED,
            f"{dialect.name} exited unexpectedly: {_last_error(str(gone)) or 'no message'}",
        ) from None
    finally:
        if attached:
            with contextlib.suppress(TimeoutError, DebuggerGone):
                session.run(dialect.detach, time.monotonic() + 5.0)
        session.close()
        ensure_running(pid)


def _call(
    session: Session, dialect: Dialect, pid: int, route: str, stmt: str, deadline: float
) -> int | None:
    """Run the prepare steps and the route's steps; the value of the result step."""
    fill = {
        "statement": c_string(stmt),
        "size": len(stmt.encode()) + 1,
        "budget_us": max(500_000, int((deadline - time.monotonic() - 0.5) * 1e6)),
    }
    result: int | None = None
    for step in (*dialect.prepare, *dialect.routes[route]):
        out = session.run(step.command.format(**fill), deadline + step.extra_wait_s)
        failed = (step.check == "value" and _value(out, dialect) is None) or (
            step.check == "no-error" and ("extended state" in out or _error_line(out, dialect))
        )
        if failed:
            _raise_call_failure(pid, dialect, out)
        if step.result:
            result = _value(out, dialect)
            if result is None:
                _raise_call_failure(pid, dialect, out)
    return result


def _error_line(out: str, dialect: Dialect) -> str | None:
    for line in out.splitlines():
        stripped = line.strip()
        if any(p.search(stripped) for p in dialect.error_lines):
            return stripped
    return None


def _last_error(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower() or "ptrace" in line.lower()]
    return (errors or lines or [""])[-1][:300]


def _attach_refused(pid: int, dialect: Dialect, out: str) -> Exception:
    message = _error_line(out, dialect) or _last_error(out)
    if "not permitted" in message.lower() or "permission" in message.lower():
        return LeakscopeError(
            ExitCode.PERMISSION,
            f"{dialect.name} may not attach to process {pid}: " + ptrace_explanation(),
        )
    if discovery.process_state(pid) is None:
        return LeakscopeError(ExitCode.NO_SUCH_PROCESS, f"process {pid} has exited")
    return LeakscopeError(
        ExitCode.ATTACH_FAILED, f"{dialect.name} could not attach to process {pid}: {message}"
    )


def _select_main_thread(session: Session, dialect: Dialect, pid: int, deadline: float) -> None:
    out = session.run(dialect.threads, deadline)
    for found in dialect.thread_row.finditer(out):
        if int(found.group(2)) == pid:
            session.run(dialect.select.format(index=found.group(1)), deadline)
            return
    raise LeakscopeError(
        ExitCode.ATTACH_FAILED, f"{dialect.name}: the main thread of process {pid} is gone"
    )


def _runtime_range(session: Session, dialect: Dialect, deadline: float) -> tuple[int, int] | None:
    """Where CPython's _PyRuntime lies (the GIL is inside it), if the debugger can say."""
    if "runtime_range" in dialect.runtime:
        out = session.run(dialect.runtime["runtime_range"], deadline)
        found = re.search(dialect.runtime["runtime_range_pattern"], out)
        return (int(found.group(1), 16), int(found.group(2), 16)) if found else None
    start = _value(session.run(dialect.runtime["runtime_start"], deadline), dialect)
    size = _value(session.run(dialect.runtime["runtime_size"], deadline), dialect)
    return (start, start + size) if start and size else None


def _value(out: str, dialect: Dialect) -> int | None:
    found = dialect.value.search(out)
    return int(found.group(1)) if found else None


def _raise_call_failure(pid: int, dialect: Dialect, out: str) -> None:
    if "extended state" in out:
        raise Unavailable(
            f"{dialect.name} cannot call functions in process {pid} on this kernel "
            "(Couldn't write extended state status); install lldb (Debian package lldb)"
        )
    if re.search(r"undeclared identifier|No symbol .* in current context", out):
        raise LeakscopeError(
            ExitCode.NOT_PYTHON,
            f"process {pid} has no CPython C API ({dialect.name} cannot find its symbols)",
        )
    raise LeakscopeError(
        ExitCode.ATTACH_FAILED,
        f"{dialect.name}: calling into process {pid} failed: {_last_error(out) or 'no output'}",
    )
