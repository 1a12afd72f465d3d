"""``leakscope attach PID``: start (or stop) the agent in a Python process that did not opt in.

The target runs one fixed statement that executes a request file we wrote into
a fresh private directory (see `attach_boot`); that file claims the request,
starts a thread that imports ``leakscope.agent`` and calls ``start()`` (or
``stop()``), and writes ``report.json``. We then wait until the agent's socket
answers (or, for a stop, until it is gone).

How the statement gets in, tried in this order (``--via``):

* ``remote-exec``: Python 3.14's ``sys.remote_exec(pid, path)``, when this
  interpreter and the target are both 3.14+ of the same minor version.
* ``lldb`` (Debian package ``lldb``), then ``gdb`` (package ``gdb``): attach,
  look at the target's main thread while everything is stopped, and either
  - run ``PyGILState_Ensure(); PyRun_SimpleString(s); PyGILState_Release()`` on
    it, only when it is blocked in a system call (sleep, select, read, a lock
    that is not the GIL) and does not hold the GIL: it then holds no lock that
    Python code could need, so it is like a C callback coming in from outside;
  - or queue ``Py_AddPendingCall(PyRun_SimpleString, s)``, which the main
    thread runs at its next safe point between bytecodes. This is used when the
    main thread holds the GIL (it could be in the middle of malloc or a dict
    update) or waits for it (running Python there nests a wait on the GIL's
    condition variable in the interrupted one, which deadlocks glibc: seen here
    with gdb).
  The debugger detaches at once; the target runs the statement by itself.

Safety: the statement is fixed text whose only variable part is the path of our
request file, checked against a strict pattern; a debugger that outlives the
timeout is killed and the target is sent SIGCONT if it was left stopped; a
process of another user is refused unless we are root.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import platform
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from leakscope import discovery
from leakscope.errors import ExitCode, LeakscopeError

MECHANISMS = ("remote-exec", "lldb", "gdb")
DEFAULT_TIMEOUT_S = 30.0
_REMOTE_EXEC_GRACE_S = 3.0

_BOOT_SOURCE = Path(__file__).resolve().with_name("attach_boot.py")
# The only variable text that reaches a debugger command: a path we created.
_SAFE_PATH = re.compile(r"/[A-Za-z0-9_./-]{1,200}")
# Packages the agent imports, for --inject-path.
_AGENT_PACKAGES = ("leakscope", "rpyc", "plumbum", "psutil")
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

# System calls a Python main thread makes with the GIL released and no lock held
# that Python code could need (numbers per architecture). futex is special: it
# is safe unless it waits on a lock inside _PyRuntime (the GIL lives there).
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


@dataclass(frozen=True)
class Target:
    """What we know about the process before touching it."""

    pid: int
    uid: int
    exe: str
    python: tuple[int, int] | None  # major, minor when we can tell


@dataclass(frozen=True)
class AttachResult:
    """The outcome of `attach` or `detach`, as shown to the user."""

    pid: int
    action: str  # "start" or "stop"
    via: str  # mechanism used, or "none" when nothing had to be done
    route: str  # "direct", "pending", "remote-exec" or "none"
    socket: str | None
    python: str | None
    seconds: float
    already: bool = False  # the agent was already running (attach) or absent (detach)
    warnings: tuple[str, ...] = ()
    tried: tuple[str, ...] = field(default=())  # mechanisms skipped, with the reason

    def to_dict(self) -> dict[str, object]:
        """Plain data for --json."""
        return {
            "pid": self.pid,
            "action": self.action,
            "via": self.via,
            "route": self.route,
            "socket": self.socket,
            "python": self.python,
            "seconds": round(self.seconds, 3),
            "already": self.already,
            "warnings": list(self.warnings),
            "tried": list(self.tried),
        }


class _Unavailable(Exception):
    """This mechanism cannot be used here; nothing was done to the target."""


# --------------------------------------------------------------------------- target


def inspect_target(pid: int) -> Target:
    """Check that *pid* is a live, running CPython process we may attach to."""
    if pid <= 0:
        raise LeakscopeError(ExitCode.USAGE, f"invalid PID {pid}")
    if pid == os.getpid():
        raise LeakscopeError(ExitCode.USAGE, "refusing to attach to leakscope itself")
    uid = discovery.process_uid(pid)
    if uid is None:
        raise LeakscopeError(ExitCode.NO_SUCH_PROCESS, f"no such process: {pid}")
    me = os.geteuid()
    if uid != me and me != 0:
        raise LeakscopeError(
            ExitCode.PERMISSION,
            f"process {pid} belongs to user {discovery.user_name(uid)}; "
            "only that user or root may attach",
        )
    tracer = _tracer(pid)
    if tracer:
        raise LeakscopeError(
            ExitCode.ATTACH_FAILED,
            f"process {pid} is already traced by process {tracer} "
            f"({discovery.process_name(tracer)}); detach that first",
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


def _tracer(pid: int) -> int:
    """The PID tracing *pid* (a debugger), 0 when none."""
    tracer = discovery.status_field(pid, "TracerPid")
    return int(tracer) if tracer is not None and tracer.isdigit() else 0


def _version_text(version: tuple[int, ...] | None) -> str | None:
    return f"{version[0]}.{version[1]}" if version else None


def _ensure_running(pid: int) -> None:
    """Never leave the target stopped: a killed debugger can leave it in state T."""
    for _ in range(20):
        state = discovery.process_state(pid)
        if state is None or state not in "Tt":
            return
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGCONT)
        time.sleep(0.05)


# -------------------------------------------------------------------------- request


class _Request:
    """A private directory holding the request file the target executes."""

    def __init__(self, target: Target, action: str, extra_paths: tuple[str, ...]) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="leakscope-attach-", dir=_temp_root()))
        if os.geteuid() == 0 and target.uid != 0:
            # The target's user must write its report here; nobody else may enter.
            os.chown(self.directory, target.uid, -1)
        self.boot = self.directory / "request.py"
        source = _BOOT_SOURCE.read_text(encoding="utf-8")
        call = f"\nrequest({ascii(action)}, {ascii(str(self.directory))}, {ascii(extra_paths)})\n"
        self.boot.write_text(source + call, encoding="ascii")
        self.boot.chmod(0o644)
        self.statement = statement(self.boot)

    @property
    def claimed(self) -> bool:
        return (self.directory / "claimed").exists()

    def report(self) -> dict[str, object] | None:
        path = self.directory / "report.json"
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def _temp_root() -> str:
    root = tempfile.gettempdir()
    return root if _SAFE_PATH.fullmatch(root) and ".." not in root else "/tmp"


def statement(boot: Path) -> str:
    """The fixed Python statement the target runs: execute *boot* in a fresh namespace."""
    text = str(boot)
    if not _SAFE_PATH.fullmatch(text) or ".." in text:
        raise LeakscopeError(ExitCode.ATTACH_FAILED, f"unsafe request path {text!r}")
    return (
        f"try:\n exec(compile(open('{text}').read(),'{text}','exec'),"
        "{'__name__':'__leakscope_attach__'})\nexcept BaseException:\n pass\n"
    )


def _c_string(text: str) -> str:
    """*text* as a C string literal (it holds only the characters `statement` allows)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def inject_paths() -> tuple[str, ...]:
    """Directories holding this leakscope and the packages its agent imports."""
    paths: list[str] = []
    for name in _AGENT_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin).resolve()
        root = origin.parent.parent if origin.name == "__init__.py" else origin.parent
        if str(root) not in paths:
            paths.append(str(root))
    return tuple(paths)


# ----------------------------------------------------------------- debugger session


class _Session:
    """A debugger driven line by line through pipes, every read bounded in time."""

    def __init__(
        self, argv: list[str], sync: str, synced: Callable[[str], bool], prompt: str
    ) -> None:
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
            raise _DebuggerGone("".join(self.transcript[-20:])) from None
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
                raise _DebuggerGone("".join(self.transcript[-20:]))
            while line.startswith(self._prompt):
                line = line[len(self._prompt) :]
            if self._synced(line):
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


class _DebuggerGone(Exception):
    """The debugger exited while we talked to it."""


@dataclass(frozen=True)
class _Dialect:
    """The few commands that differ between lldb and gdb."""

    name: str
    package: str
    argv: list[str]
    sync: str
    synced: Callable[[str], bool]
    attach: str
    attached: re.Pattern[str]
    threads: str
    thread_row: re.Pattern[str]  # groups: index, tid
    select: str
    call: str  # format with {expr}
    value: re.Pattern[str]
    detach: str
    setup: tuple[str, ...]


_LLDB = _Dialect(
    name="lldb",
    package="lldb",
    argv=["lldb", "--no-lldbinit", "--no-use-colors"],
    sync="version",
    synced=lambda line: line.startswith("lldb version"),
    attach="process attach --pid {pid}",
    attached=re.compile(r"Process \d+ stopped"),
    threads="thread list",
    thread_row=re.compile(r"thread #(\d+): tid = (\d+)"),
    select="thread select {index}",
    call="expr -- {expr}",
    value=re.compile(r"^\(\w+(?: \w+)*\) \$\d+ = (-?\d+)", re.M),
    detach="process detach",
    setup=(),
)
_GDB = _Dialect(
    name="gdb",
    package="gdb",
    argv=["gdb", "-nx", "-q"],
    sync="echo __leakscope_sync__\\n",
    synced=lambda line: "__leakscope_sync__" in line,
    attach="attach {pid}",
    attached=re.compile(r"Attaching to process \d+"),
    threads="info threads",
    thread_row=re.compile(r"^\*?\s*(\d+)\s+Thread 0x[0-9a-f]+ \(LWP (\d+)\)", re.M),
    select="thread {index}",
    call="print {expr}",
    value=re.compile(r"^\$\d+ = (-?\d+)", re.M),
    detach="detach",
    setup=("set pagination off", "set confirm off", "set unwindonsignal on", "set width 0"),
)

_CHECK = "(int)((int(*)(void))PyGILState_Check)()"
_ENSURE_RUN_RELEASE = (
    "int leakscope_g = ((int(*)(void))PyGILState_Ensure)(); "
    "int leakscope_r = ((int(*)(const char*))PyRun_SimpleString)({s}); "
    "((void(*)(int))PyGILState_Release)(leakscope_g); leakscope_r"
)
# The string must outlive the debugger: a page of its own, from mmap (no lock taken).
_MMAP = "((void*(*)(void*,unsigned long,int,int,int,long))mmap)((void*)0, 4096, 3, 0x22, -1, 0)"
_STRCPY = "((char*(*)(char*,const char*))strcpy)"
_ADD_PENDING = "((int(*)(void*,void*))Py_AddPendingCall)({fn}, {buf})"


def _debugger_inject(dialect: _Dialect, target: Target, stmt: str, deadline: float) -> str:
    """Inject *stmt* with lldb or gdb; return the route ("direct" or "pending")."""
    if shutil.which(dialect.argv[0]) is None:
        raise _Unavailable(f"{dialect.name} is not installed (Debian package {dialect.package})")
    pid = target.pid
    session = _Session(dialect.argv, dialect.sync, dialect.synced, f"({dialect.name}) ")
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
        syscall = _main_syscall(pid)
        out = session.run(dialect.call.format(expr=_CHECK), deadline)
        holds_gil = _value(out, dialect)
        if holds_gil is None:
            _raise_call_failure(pid, dialect, out, before_any_call=True)
        route = "direct" if holds_gil == 0 and _blocked_safely(syscall, runtime) else "pending"
        if deadline - time.monotonic() < 1.0:
            raise TimeoutError("no time left for the call")
        in_call = called = True
        if dialect is _LLDB:
            result = _lldb_call(session, pid, route, stmt, deadline)
        else:
            result = _gdb_call(session, pid, route, stmt, deadline)
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
            with contextlib.suppress(TimeoutError, _DebuggerGone):
                session.run(dialect.detach, time.monotonic() + 10.0)
                attached = False
        raise LeakscopeError(
            ExitCode.TIMEOUT,
            f"{dialect.name} did not finish within the timeout attaching to process {pid}; "
            "it was stopped and the process left running (try a larger --timeout)",
        ) from None
    except _DebuggerGone as gone:
        if not called:
            raise _Unavailable(
                f"{dialect.name} exited before calling anything: "
                + (_last_error(str(gone)) or "no message")
            ) from None
        raise LeakscopeError(
            ExitCode.ATTACH_FAILED,
            f"{dialect.name} exited unexpectedly: {_last_error(str(gone)) or 'no message'}",
        ) from None
    finally:
        if attached:
            with contextlib.suppress(TimeoutError, _DebuggerGone):
                session.run(dialect.detach, time.monotonic() + 5.0)
        session.close()
        _ensure_running(pid)


def _error_line(out: str, dialect: _Dialect) -> str | None:
    for line in out.splitlines():
        stripped = line.strip()
        if stripped.startswith("error:") or (
            dialect is _GDB and ("ptrace:" in stripped or "Could not attach" in stripped)
        ):
            return stripped
    return None


def _last_error(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower() or "ptrace" in line.lower()]
    return (errors or lines or [""])[-1][:300]


def _attach_refused(pid: int, dialect: _Dialect, out: str) -> Exception:
    message = _error_line(out, dialect) or _last_error(out)
    if "not permitted" in message.lower() or "permission" in message.lower():
        return LeakscopeError(
            ExitCode.PERMISSION,
            f"{dialect.name} may not attach to process {pid}: " + _ptrace_explanation(),
        )
    if discovery.process_state(pid) is None:
        return LeakscopeError(ExitCode.NO_SUCH_PROCESS, f"process {pid} has exited")
    return LeakscopeError(
        ExitCode.ATTACH_FAILED, f"{dialect.name} could not attach to process {pid}: {message}"
    )


def _ptrace_explanation() -> str:
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


def _select_main_thread(session: _Session, dialect: _Dialect, pid: int, deadline: float) -> None:
    out = session.run(dialect.threads, deadline)
    for found in dialect.thread_row.finditer(out):
        if int(found.group(2)) == pid:
            session.run(dialect.select.format(index=found.group(1)), deadline)
            return
    raise LeakscopeError(
        ExitCode.ATTACH_FAILED, f"{dialect.name}: the main thread of process {pid} is gone"
    )


def _runtime_range(session: _Session, dialect: _Dialect, deadline: float) -> tuple[int, int] | None:
    """Where CPython's _PyRuntime lies (the GIL is inside it), if the debugger can say."""
    if dialect is _LLDB:
        out = session.run("image lookup -v -s _PyRuntime", deadline)
        found = re.search(r"range = \[(0x[0-9a-f]+)-(0x[0-9a-f]+)\)", out)
        return (int(found.group(1), 16), int(found.group(2), 16)) if found else None
    out = session.run("print (unsigned long)&_PyRuntime", deadline)
    start = _value(out, dialect)
    out = session.run("print (unsigned long)sizeof(_PyRuntime)", deadline)
    size = _value(out, dialect)
    return (start, start + size) if start and size else None


def _main_syscall(pid: int) -> tuple[int, int] | None:
    """(number, first argument) of the system call the stopped main thread is in."""
    try:
        fields = Path(f"/proc/{pid}/task/{pid}/syscall").read_text().split()
        return int(fields[0]), int(fields[1], 16)
    except (OSError, ValueError, IndexError):
        return None


def _blocked_safely(syscall: tuple[int, int] | None, runtime: tuple[int, int] | None) -> bool:
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


def _value(out: str, dialect: _Dialect) -> int | None:
    found = dialect.value.search(out)
    return int(found.group(1)) if found else None


def _raise_call_failure(pid: int, dialect: _Dialect, out: str, before_any_call: bool) -> None:
    if "extended state" in out:
        raise _Unavailable(
            f"{dialect.name} cannot call functions in process {pid} on this kernel "
            "(Couldn't write extended state status); install lldb (Debian package lldb)"
        )
    if re.search(r"undeclared identifier|No symbol .* in current context", out):
        raise LeakscopeError(
            ExitCode.NOT_PYTHON,
            f"process {pid} has no CPython C API ({dialect.name} cannot find PyGILState_Check)",
        )
    raise LeakscopeError(
        ExitCode.ATTACH_FAILED,
        f"{dialect.name}: calling into process {pid} failed: {_last_error(out) or 'no output'}",
    )


def _lldb_call(session: _Session, pid: int, route: str, stmt: str, deadline: float) -> int | None:
    # One expression, compiled as a whole: it cannot stop half-way for a typo.
    budget_us = max(500_000, int((deadline - time.monotonic() - 0.5) * 1e6))
    if route == "direct":
        expr = _ENSURE_RUN_RELEASE.format(s=_c_string(stmt))
    else:
        expr = (
            f"char *leakscope_b = (char*){_MMAP}; int leakscope_r = -2; "
            "void *leakscope_f = (void*)(int(*)(const char*))PyRun_SimpleString; "
            f"if (leakscope_b != (char*)-1) {{ {_STRCPY}(leakscope_b, {_c_string(stmt)}); "
            f"leakscope_r = {_ADD_PENDING.format(fn='leakscope_f', buf='leakscope_b')}; }} "
            "leakscope_r"
        )
    out = session.run(f"expr -a true -t {budget_us} -- {expr}", deadline + 5.0)
    value = _value(out, _LLDB)
    if value is None:
        _raise_call_failure(pid, _LLDB, out, before_any_call=False)
    return value


def _gdb_call(session: _Session, pid: int, route: str, stmt: str, deadline: float) -> int | None:
    # gdb evaluates one expression per command: resolve every symbol first, so a
    # missing one cannot leave the GIL taken.
    for symbol in ("PyGILState_Ensure", "PyRun_SimpleString", "PyGILState_Release", "mmap"):
        out = session.run(f"print (unsigned long){symbol}", deadline)
        if _value(out, _GDB) is None:
            _raise_call_failure(pid, _GDB, out, before_any_call=True)
    out = session.run(f"set $leakscope_b = (char*){_MMAP}", deadline)
    if "extended state" in out or _error_line(out, _GDB):
        _raise_call_failure(pid, _GDB, out, before_any_call=True)
    # Written by gdb itself: strcpy is an IFUNC gdb would resolve, not call, and a
    # literal passed to a function would be copied in with the target's malloc.
    size = len(stmt.encode()) + 1
    session.run(f"set {{char[{size}]}}$leakscope_b = {_c_string(stmt)}", deadline)
    if route == "direct":
        session.run("set $leakscope_g = ((int(*)(void))PyGILState_Ensure)()", deadline)
        out = session.run("print ((int(*)(const char*))PyRun_SimpleString)($leakscope_b)", deadline)
        session.run("call ((void(*)(int))PyGILState_Release)($leakscope_g)", deadline)
        session.run("call ((int(*)(void*,unsigned long))munmap)($leakscope_b, 4096)", deadline)
        return _value(out, _GDB)
    session.run("set $leakscope_f = (void*)(int(*)(const char*))PyRun_SimpleString", deadline)
    out = session.run(
        "print " + _ADD_PENDING.format(fn="$leakscope_f", buf="$leakscope_b"), deadline
    )
    return _value(out, _GDB)


# ---------------------------------------------------------------------- remote exec


def _remote_exec(target: Target, request: _Request) -> str:
    here = sys.version_info[:2]
    if here < (3, 14):
        raise _Unavailable(f"sys.remote_exec needs Python 3.14+ here (this is {here[0]}.{here[1]})")
    if target.python != here:
        theirs = _version_text(target.python) or "unknown"
        raise _Unavailable(f"sys.remote_exec needs the same Python on both sides ({theirs})")
    remote_exec = getattr(sys, "remote_exec", None)
    if remote_exec is None:
        raise _Unavailable("this Python was built without sys.remote_exec")
    wrapper = request.directory / "remote.py"
    wrapper.write_text(request.statement, encoding="ascii")
    wrapper.chmod(0o644)
    try:
        remote_exec(target.pid, str(wrapper))
    except PermissionError:
        raise LeakscopeError(
            ExitCode.PERMISSION,
            f"sys.remote_exec may not attach to process {target.pid}: " + _ptrace_explanation(),
        ) from None
    except (OSError, RuntimeError) as exc:
        raise _Unavailable(f"sys.remote_exec failed: {exc}") from None
    return "remote-exec"


# ------------------------------------------------------------------------- the verbs


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
    python = _version_text(target.python)
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
            theirs = _version_text(target.python) or "an unknown version"
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
    request = _Request(target, action, extra)
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
    target: Target, request: _Request, via: str, deadline: float, tried: list[str]
) -> tuple[str, str]:
    order = MECHANISMS if via == "auto" else (via,)
    for name in order:
        try:
            if name == "remote-exec":
                route = _remote_exec(target, request)
                if via != "auto" or _claimed_within(request, _REMOTE_EXEC_GRACE_S):
                    return name, route
                # The main thread may be blocked (sys.remote_exec waits for it to
                # run Python); a debugger can still get in. The claim file makes
                # sure only one of the two runs the request.
                tried.append(f"remote-exec: not run within {_REMOTE_EXEC_GRACE_S:.0f} s")
                continue
            dialect = _LLDB if name == "lldb" else _GDB
            return name, _debugger_inject(dialect, target, request.statement, deadline)
        except _Unavailable as exc:
            tried.append(f"{name}: {exc}")
    if via == "auto" and all("not installed" in t or t.startswith("remote-exec") for t in tried):
        raise LeakscopeError(
            ExitCode.ATTACH_FAILED,
            "no debugger found: install lldb (Debian package lldb) or gdb (package gdb); "
            "sys.remote_exec would need Python 3.14+ on both sides",
        )
    raise LeakscopeError(ExitCode.ATTACH_FAILED, "cannot attach: " + "; ".join(tried))


def _claimed_within(request: _Request, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while not request.claimed:
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


def _wait_report(
    target: Target, request: _Request, route: str, deadline: float
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
            here = _version_text(sys.version_info[:2])
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
    from leakscope import discovery

    try:
        return discovery.find_socket(pid)
    except discovery.UnsafeDirectory:
        return None


def _answering_socket(pid: int) -> Path | None:
    path = _socket_file(pid)
    if path is None:
        return None
    from leakscope import client

    try:
        with client.connect_path(pid, path, timeout=5.0):
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
    from leakscope import client

    try:
        with client.connect_path(pid, path, timeout=max(2.0, deadline - time.monotonic())):
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
