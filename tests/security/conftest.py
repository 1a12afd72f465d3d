"""Real target processes, real sockets, the real CLI: the security suite's fixtures.

Every target is started from ``targets/target.py`` with a private socket
directory of its own, and every target's stdout and stderr are checked when
the test ends: only the target's own JSON lines may appear there (issue 3,
point 8 -- the host never sees leakscope's output or exceptions).
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
TARGET = HERE / "targets" / "target.py"
REPO = HERE.parent.parent
OTHER_USER = "leakscope-test-other"
SYSTEM_PYTHON = "/usr/bin/python3"


class Target:
    """A running target process, talked to through its stdin and stdout."""

    def __init__(self, argv: list[str], env: dict[str, str], user: str | None = None) -> None:
        if user is not None:
            pairs = [f"{k}={v}" for k, v in env.items()]
            argv = ["runuser", "-u", user, "--", "env", "-i", *pairs, *argv]
            env = dict(os.environ)
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
            bufsize=1,
        )
        self.stdout_lines: list[str] = []
        self.stderr = ""
        self._lines: list[str] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        ready = self.next(timeout=30)
        self.pid: int = ready["pid"]
        self.socket: str | None = ready["socket"]
        self.ready = ready

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.stdout_lines.append(line)
                self._lines.append(line)
                self._cond.notify_all()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        self.stderr = self.proc.stderr.read()

    def next(self, timeout: float = 30) -> dict[str, Any]:
        """The next JSON line the target prints."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._lines:
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._lines):
                    raise AssertionError(
                        f"target said nothing (exit {self.proc.poll()}); stderr: {self.stderr!r}"
                    )
                self._cond.wait(min(left, 0.2))
            data: dict[str, Any] = json.loads(self._lines.pop(0))
            return data

    def ask(self, line: str, timeout: float = 30) -> dict[str, Any]:
        """Send one command; return the target's JSON answer."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.next(timeout)

    def alive(self) -> bool:
        """True while the target process runs."""
        return self.proc.poll() is None

    def status(self, field: str) -> int:
        """A number from /proc/PID/status (VmRSS in kB, Threads)."""
        with open(f"/proc/{self.pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise AssertionError(f"{field} not in /proc/{self.pid}/status")

    def finish(self, timeout: float = 10) -> int:
        """Close stdin (the target exits normally) and return its exit code."""
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        time.sleep(0.05)  # let the reader threads drain the pipes
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL the target and reap it."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def assert_quiet(self) -> None:
        """Only the target's own JSON lines on stdout, nothing at all on stderr."""
        for line in self.stdout_lines:
            assert isinstance(json.loads(line), dict), f"not a line of the target: {line!r}"
        assert _without_fork_warning(self.stderr) == "", f"target wrote on stderr: {self.stderr!r}"


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    """A short private directory for sockets (AF_UNIX paths are limited to 107 bytes)."""
    base = Path(tempfile.mkdtemp(prefix="lss-"))
    yield base / "s"
    shutil.rmtree(base, ignore_errors=True)


def target_env(sock_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a target: our socket directory, no history sampling."""
    env = dict(os.environ)
    env.update(
        LEAKSCOPE_SOCKET_DIR=str(sock_dir),
        LEAKSCOPE_HISTORY_INTERVAL="0",
        PYTHONPATH=str(REPO),
        PYTHONUNBUFFERED="1",
    )
    env.pop("LEAKSCOPE_AGENT", None)
    env.update(extra)
    return env


@pytest.fixture
def start_target(sock_dir: Path) -> Iterator[Any]:
    """Start targets; at the end, stop them and check they printed nothing of ours."""
    started: list[Target] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Target:
        t = Target([sys.executable, str(TARGET), *args], env or target_env(sock_dir))
        started.append(t)
        return t

    yield start
    for t in started:
        t.finish()
    for t in started:
        t.assert_quiet()


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Any:
    """Run the real CLI in a subprocess; returns the CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-m", "leakscope", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def raw_exchange(path: str, payload: bytes, wait: float = 5.0, first: bool = False) -> bytes:
    """Connect, send *payload*, and return what comes back before the agent closes.

    With *first*, return as soon as the first bytes of an answer arrive.
    """
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(wait)
    try:
        s.connect(path)
        with contextlib.suppress(OSError):  # the agent may close before we finish sending
            s.sendall(payload)
        got = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, TimeoutError, OSError):
                break
            if not chunk:
                break
            got += chunk
            if first:
                break
        return got
    finally:
        s.close()


# -- a second, unprivileged user ---------------------------------------------


def _ensure_other_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(OTHER_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "-M", "-s", "/usr/sbin/nologin", OTHER_USER],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(OTHER_USER)


@pytest.fixture(scope="session")
def other_user() -> pwd.struct_passwd:
    """A real second user (created if missing); the tests that need it run as root only."""
    if os.getuid() != 0:
        pytest.skip("needs root: creates a second user and runs processes as that user")
    if shutil.which("runuser") is None or not os.path.exists(SYSTEM_PYTHON):
        pytest.skip("needs runuser and /usr/bin/python3")
    return _ensure_other_user()


@pytest.fixture(scope="session")
def world_readable_tree(other_user: pwd.struct_passwd) -> Iterator[Path]:
    """leakscope, rpyc, plumbum and the target script, readable by the other user."""
    import plumbum
    import rpyc

    base = Path(tempfile.mkdtemp(prefix="lsw-"))
    os.chmod(base, 0o755)
    shutil.copytree(
        REPO / "leakscope", base / "leakscope", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copytree(
        Path(rpyc.__file__).parent, base / "rpyc", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copytree(
        Path(plumbum.__file__).parent,
        base / "plumbum",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(TARGET, base / "target.py")
    for root, dirs, files in os.walk(base):
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o755)
        for f in files:
            os.chmod(os.path.join(root, f), 0o644)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def run_as(user: str, code: str, timeout: float = 20) -> Any:
    """Run Python *code* (stdlib only) as *user* with /usr/bin/python3."""
    return subprocess.run(
        ["runuser", "-u", user, "--", SYSTEM_PYTHON, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd="/",
    )


_FORK_WARNING = re.compile(
    r"^.*: DeprecationWarning: This process \(pid=\d+\) is multi-threaded, use of fork\(\) "
    r"may lead to deadlocks in the child\.\n(  .*\n)?",
    re.M,
)


def _without_fork_warning(text: str) -> str:
    """stderr minus CPython's own warning (3.12+) about forking a threaded process.

    It is Python's, not ours: any program with a thread that forks gets it (the
    README's Security section says so). Everything else still counts.
    """
    return _FORK_WARNING.sub("", text)
