"""`leakscope attach` / `detach` against real processes that never opted in.

Every target here is a plain Python program without an agent; lldb and gdb
are the real debuggers of this machine. Failure paths are produced for real:
a PATH without debuggers, a `sleep` process, a Python without leakscope, a
timeout too short to finish, another user's process.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from leakscope.client import attach as attaching
from leakscope.client import discovery
from leakscope.client.attach.process import tracer
from leakscope.client.attach.request import statement
from leakscope.client.attach.syscalls import blocked_safely
from leakscope.client.errors import ExitCode
from leakscope.client.local import LocalTransport
from tests.conftest import REPO, run_cli

pytestmark = pytest.mark.skipif(
    shutil.which("lldb") is None and shutil.which("gdb") is None, reason="no debugger installed"
)

# Main thread counts and writes to a file; two threads spin.
BUSY = """
import sys, threading, time
out = sys.argv[1]
def spin():
    x = 0
    while True:
        x += 1
for _ in range(2):
    threading.Thread(target=spin, daemon=True).start()
n = 0
last = 0.0
while True:
    n += 1
    now = time.monotonic()
    if now - last > 0.05:
        last = now
        with open(out, "a") as f:
            f.write(f"{n}\\n")
"""

# Main thread blocked in one long time.sleep; a thread writes a counter.
SLEEPER = """
import sys, threading, time
out = sys.argv[1]
def tick():
    n = 0
    while True:
        n += 1
        with open(out, "a") as f:
            f.write(f"{n}\\n")
        time.sleep(0.05)
threading.Thread(target=tick, daemon=True).start()
t0 = time.monotonic()
time.sleep(float(sys.argv[2]) if len(sys.argv) > 2 else 3600)
with open(out, "a") as f:
    f.write(f"woke {time.monotonic() - t0:.3f}\\n")
time.sleep(3600)
"""


class Program:
    """A running target process that writes numbered lines to a file."""

    def __init__(self, proc: subprocess.Popen[bytes], out: Path) -> None:
        self.proc = proc
        self.out = out

    @property
    def pid(self) -> int:
        return self.proc.pid

    def lines(self) -> list[str]:
        try:
            return self.out.read_text().split()
        except FileNotFoundError:
            return []

    def counter(self) -> int:
        numbers = [int(x) for x in self.lines() if x.isdigit()]
        return numbers[-1] if numbers else 0

    def assert_running(self) -> None:
        """Alive, not stopped, and still writing (its counter grows)."""
        assert self.proc.poll() is None
        assert discovery.process_state(self.pid) not in ("T", "t", None)
        before = self.counter()
        deadline = time.monotonic() + 10
        while self.counter() <= before:
            assert time.monotonic() < deadline, "the target stopped writing"
            time.sleep(0.05)


@pytest.fixture
def program(tmp_path: Path, socket_dir: Path) -> Iterator:
    started: list[Program] = []

    def start(source: str, *args: str, python: str = sys.executable, flags: tuple = ()) -> Program:
        script = tmp_path / f"target{len(started)}.py"
        script.write_text(textwrap.dedent(source))
        out = tmp_path / f"out{len(started)}.txt"
        env = dict(os.environ, PYTHONPATH=str(REPO))
        proc = subprocess.Popen(
            [python, *flags, str(script), str(out), *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        prog = Program(proc, out)
        started.append(prog)
        deadline = time.monotonic() + 15
        while not prog.lines():
            assert proc.poll() is None, "target exited"
            assert time.monotonic() < deadline, "target did not start"
            time.sleep(0.02)
        return prog

    yield start
    for prog in started:
        with contextlib.suppress(OSError):
            os.kill(prog.pid, signal.SIGCONT)
        prog.proc.kill()
        prog.proc.wait()


def attach_json(pid: int, *args: str, timeout: float = 60) -> dict:
    result = run_cli("attach", str(pid), "--json", *args, timeout=timeout)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def assert_answers(pid: int, socket: str) -> None:
    transport = LocalTransport.open(pid, Path(socket), timeout=10)
    try:
        assert transport.hello.get("pid") == pid
    finally:
        transport.close()


@pytest.mark.slow
def test_attach_busy_threads_then_detach(program) -> None:
    prog = program(BUSY)
    data = attach_json(prog.pid)
    print(f"attach (busy target): {data['seconds']:.2f} s via {data['via']}/{data['route']}")
    assert data["via"] == ("lldb" if shutil.which("lldb") else "gdb")
    assert data["already"] is False
    assert data["route"] in ("pending", "direct")
    assert_answers(prog.pid, data["socket"])
    prog.assert_running()

    again = attach_json(prog.pid)
    assert again["already"] is True and again["socket"] == data["socket"]

    result = run_cli("detach", str(prog.pid), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["already"] is False
    assert not Path(data["socket"]).exists()
    prog.assert_running()


@pytest.mark.slow
def test_attach_while_main_thread_sleeps(program) -> None:
    prog = program(SLEEPER, "4")
    t0 = time.monotonic()
    data = attach_json(prog.pid)
    print(f"attach (sleeping main thread): {data['seconds']:.2f} s via {data['route']}")
    assert data["route"] == "direct"  # a pending call would wait for the sleep to end
    assert time.monotonic() - t0 < 4, "attach waited for the sleep to end"
    assert_answers(prog.pid, data["socket"])
    prog.assert_running()
    # The interrupted sleep resumes and lasts as long as asked.
    deadline = time.monotonic() + 15
    while not any(x == "woke" for x in prog.lines()):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    woke = prog.lines()[prog.lines().index("woke") + 1]
    assert 4.0 <= float(woke) < 8.0
    result = run_cli("attach", str(prog.pid), "--detach")
    assert result.returncode == 0, result.stderr
    assert "stopped" in result.stdout
    assert not Path(data["socket"]).exists()


def _gdb_can_call_functions(pid: int) -> bool:
    """Whether gdb itself can make an inferior call in *pid* on this machine.

    Some kernels refuse gdb's register writes ("Couldn't write extended state
    status"); then every gdb inferior call fails, leakscope's included.
    """
    done = subprocess.run(
        ["gdb", "-nx", "-batch", "-p", str(pid), "-ex", "call (int)getpid()"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    out = done.stdout + done.stderr
    if f"$1 = {pid}" in out:
        return True
    assert "extended state" in out, f"gdb neither called nor said why: {out[-800:]}"
    return False


@pytest.mark.slow
def test_attach_with_gdb_works_or_says_why(program) -> None:
    if shutil.which("gdb") is None:
        pytest.skip("gdb is not installed")
    prog = program(SLEEPER)
    gdb_works = _gdb_can_call_functions(prog.pid)
    prog.assert_running()
    result = run_cli("attach", str(prog.pid), "--via", "gdb", "--json")
    if gdb_works:
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        assert data["via"] == "gdb" and data["already"] is False
        assert_answers(prog.pid, data["socket"])
        assert run_cli("detach", str(prog.pid), "--via", "gdb").returncode == 0
        assert not Path(data["socket"]).exists()
    else:
        # The kernel refuses gdb's inferior calls: named, one line, code 15.
        assert result.returncode == ExitCode.ATTACH_FAILED, result.stderr
        assert "extended state" in result.stderr and "lldb" in result.stderr
        assert result.stderr.count("\n") == 1 and result.stdout == ""
        assert attaching._socket_file(prog.pid) is None
    prog.assert_running()


def test_no_such_process() -> None:
    result = run_cli("attach", "4194303")
    assert result.returncode == ExitCode.NO_SUCH_PROCESS
    assert result.stderr.strip() == "leakscope: no such process: 4194303"


def test_not_a_python_process() -> None:
    proc = subprocess.Popen(["sleep", "100"])
    try:
        result = run_cli("attach", str(proc.pid))
        assert result.returncode == ExitCode.NOT_PYTHON
        assert "not a CPython process" in result.stderr
        assert discovery.process_state(proc.pid) not in ("T", "t")
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.slow
def test_no_debugger_installed(program, tmp_path: Path) -> None:
    prog = program(SLEEPER)
    empty = tmp_path / "bin"
    empty.mkdir()
    result = run_cli("attach", str(prog.pid), env={"PATH": str(empty)})
    assert result.returncode == ExitCode.ATTACH_FAILED
    assert "Debian package lldb" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = run_cli("attach", str(prog.pid), "--via", "gdb", env={"PATH": str(empty)})
    assert result.returncode == ExitCode.ATTACH_FAILED
    assert "gdb is not installed (Debian package gdb)" in result.stderr
    prog.assert_running()


@pytest.mark.slow
def test_timeout_leaves_target_running(program) -> None:
    prog = program(BUSY)
    result = run_cli("attach", str(prog.pid), "--timeout", "0.3")
    assert result.returncode == ExitCode.TIMEOUT, result.stderr
    assert "timeout" in result.stderr
    prog.assert_running()
    assert discovery.process_state(prog.pid) not in ("T", "t")


@pytest.mark.slow
def test_leakscope_missing_in_target(program) -> None:
    system = "/usr/bin/python3"
    if not os.path.exists(system):
        pytest.skip("no /usr/bin/python3")
    version = subprocess.run(
        [system, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    prog = program(SLEEPER, python=system, flags=("-I", "-S"))
    result = run_cli("attach", str(prog.pid))
    assert result.returncode == ExitCode.ATTACH_FAILED
    assert "cannot import leakscope" in result.stderr
    assert "pip install leakscope" in result.stderr
    same = version == "{}.{}".format(*sys.version_info[:2])
    assert ("--inject-path" in result.stderr) == same
    prog.assert_running()
    if not same:
        return
    result = run_cli("attach", str(prog.pid), "--inject-path", "--json")
    assert result.returncode == 0, result.stderr
    assert "another environment" in result.stderr
    data = json.loads(result.stdout)
    assert_answers(prog.pid, data["socket"])
    assert run_cli("detach", str(prog.pid)).returncode == 0
    prog.assert_running()


@pytest.mark.slow
def test_inject_path_refused_across_versions(program) -> None:
    python = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv")) / "versions/3.13.0/bin/python3"
    if not python.exists() or sys.version_info[:2] == (3, 13):
        pytest.skip("needs a Python 3.13 target and a CLI on another version")
    prog = program(SLEEPER, python=str(python), flags=("-I", "-S"))
    result = run_cli("attach", str(prog.pid))
    assert result.returncode == ExitCode.ATTACH_FAILED
    assert "(Python 3.13) cannot import leakscope" in result.stderr
    assert "--inject-path" not in result.stderr
    result = run_cli("attach", str(prog.pid), "--inject-path")
    assert result.returncode == ExitCode.ATTACH_FAILED
    assert "--inject-path needs the target's Python to be" in result.stderr
    prog.assert_running()


def _throwaway_user() -> str:
    name = "leakscope-attach-test"
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", name], check=True, capture_output=True)
    return name


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create a throwaway user")
def test_other_users_process_is_refused(program) -> None:
    user = _throwaway_user()
    prog = program(SLEEPER)  # root's process
    site = next(p for p in sys.path if p.endswith("site-packages"))
    env = f"PYTHONPATH={REPO}:{site}"
    result = subprocess.run(
        ["runuser", "-u", user, "--", "env", env, "/usr/bin/python3", "-m", "leakscope"]
        + ["attach", str(prog.pid)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )
    assert result.returncode == ExitCode.PERMISSION, result.stderr
    assert "belongs to user root" in result.stderr
    prog.assert_running()


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create a throwaway user")
@pytest.mark.skipif(
    shutil.which("lldb") is None, reason="lldb is not installed (Debian package lldb)"
)
def test_ptrace_refused_is_explained() -> None:
    # The target makes itself undumpable: only CAP_SYS_PTRACE may attach, which
    # a plain user lacks -- the real "ptrace not permitted" situation.
    user = _throwaway_user()
    # Under /tmp itself: pytest's tmp_path lies in a directory only root may enter.
    folder = Path(tempfile.mkdtemp(prefix="leakscope-attach-test-"))
    folder.chmod(0o755)
    script = folder / "undumpable.py"
    script.write_text(
        "import ctypes, time\nctypes.CDLL(None).prctl(4, 0, 0, 0, 0)\nprint('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    script.chmod(0o644)
    proc = subprocess.Popen(
        ["runuser", "-u", user, "--", "/usr/bin/python3", "-I", str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    pid = 0
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        pid = int(
            subprocess.run(
                ["pgrep", "-u", user, "-f", str(script)], capture_output=True, text=True
            ).stdout.split()[0]
        )
        site = next(p for p in sys.path if p.endswith("site-packages"))
        result = subprocess.run(
            ["runuser", "-u", user, "--", "env", f"PYTHONPATH={REPO}:{site}", "/usr/bin/python3"]
            + ["-m", "leakscope", "attach", str(pid), "--via", "lldb"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd="/",
        )
        assert result.returncode == ExitCode.PERMISSION, result.stderr
        assert "ptrace" in result.stderr and "CAP_SYS_PTRACE" in result.stderr
        assert discovery.process_state(pid) not in ("T", "t")
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
        proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def _python_314() -> str | None:
    if sys.version_info >= (3, 14):
        return sys.executable
    return shutil.which("python3.14")


@pytest.mark.slow
def test_remote_exec(program) -> None:
    if sys.version_info < (3, 14):
        pytest.skip(
            "sys.remote_exec needs the CLI itself on Python 3.14+ "
            f"(this is {sys.version_info[0]}.{sys.version_info[1]}; "
            f"python3.14 on PATH: {_python_314() or 'none'})"
        )
    prog = program(SLEEPER, "1")
    data = attach_json(prog.pid, "--via", "remote-exec")
    assert data["via"] == "remote-exec"
    assert_answers(prog.pid, data["socket"])


def test_statement_is_fixed_and_paths_are_checked(tmp_path: Path) -> None:
    path = Path("/tmp/leakscope-attach-abc_1/request.py")
    text = statement(path)
    assert text.count(str(path)) == 2 and "__leakscope_attach__" in text
    for bad in ("/tmp/x'y/r.py", "/tmp/a\nb/r.py", '/tmp/"x/r.py', "/tmp/../etc/r.py", "rel.py"):
        with pytest.raises(Exception, match="unsafe request path"):
            statement(Path(bad))
    # The statement leaves no names behind and never raises, even when the file is gone.
    namespace: dict = {}
    exec(statement(tmp_path / "missing.py"), namespace)
    assert set(namespace) == {"__builtins__"}


def test_which_main_thread_states_allow_a_direct_call() -> None:
    import platform

    if platform.machine() != "x86_64":
        pytest.skip("syscall numbers checked for x86_64")
    runtime = (0x1000, 0x2000)
    assert blocked_safely((230, 0), runtime)  # clock_nanosleep
    assert blocked_safely((7, 0), runtime)  # poll
    assert blocked_safely((202, 0x5000), runtime)  # futex of a threading.Lock
    assert not blocked_safely((202, 0x1800), runtime)  # futex of the GIL
    assert not blocked_safely((202, 0x5000), None)  # cannot tell: not safe
    assert not blocked_safely((9, 0), runtime)  # mmap (maybe inside malloc)
    assert not blocked_safely(None, runtime)  # running user code


@pytest.mark.slow
def test_process_traced_by_another_debugger_is_refused(program) -> None:
    if shutil.which("gdb") is None:
        pytest.skip("gdb is not installed")
    prog = program(SLEEPER)
    holder = subprocess.Popen(
        ["gdb", "-nx", "-batch", "-p", str(prog.pid), "-ex", "shell sleep 4"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while tracer(prog.pid) == 0:
            assert time.monotonic() < deadline, "gdb did not attach"
            time.sleep(0.05)
        result = run_cli("attach", str(prog.pid))
        assert result.returncode == ExitCode.ATTACH_FAILED
        assert "already traced by process" in result.stderr and "gdb" in result.stderr
    finally:
        holder.wait(timeout=30)
    prog.assert_running()


@pytest.mark.slow
def test_cli_runner_attach_and_detach(program) -> None:
    from click.testing import CliRunner

    from leakscope.cli import main

    prog = program(SLEEPER)
    runner = CliRunner()
    result = runner.invoke(main, ["attach", str(prog.pid)])
    assert result.exit_code == 0, result.output
    assert f"started a leakscope agent in process {prog.pid}" in result.output
    assert f"leakscope detach {prog.pid}" in result.output
    socket = attaching._socket_file(prog.pid)
    assert socket is not None
    assert_answers(prog.pid, str(socket))
    result = runner.invoke(main, ["detach", str(prog.pid)])
    assert result.exit_code == 0, result.output
    assert attaching._socket_file(prog.pid) is None
    prog.assert_running()


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create a throwaway user")
def test_root_attaches_to_another_users_process() -> None:
    user = _throwaway_user()
    folder = Path(tempfile.mkdtemp(prefix="leakscope-attach-test-"))
    folder.chmod(0o777)  # the target's user writes its counter file here
    script = folder / "sleeper.py"
    script.write_text(textwrap.dedent(SLEEPER))
    script.chmod(0o644)
    out = folder / "out.txt"
    site = next(p for p in sys.path if p.endswith("site-packages"))
    proc = subprocess.Popen(
        ["runuser", "-u", user, "--", "env", f"PYTHONPATH={REPO}:{site}", "/usr/bin/python3"]
        + [str(script), str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pid = 0
    try:
        deadline = time.monotonic() + 15
        while not pid:
            assert time.monotonic() < deadline, "target did not start"
            found = subprocess.run(
                ["pgrep", "-u", user, "-f", str(script)], capture_output=True, text=True
            ).stdout.split()
            pid = int(found[0]) if found else 0
            time.sleep(0.05)
        data = attach_json(pid)
        assert data["socket"].startswith(f"/tmp/leakscope-{pwd.getpwnam(user).pw_uid}/")
        assert_answers(pid, data["socket"])
        assert run_cli("detach", str(pid)).returncode == 0
        assert not Path(data["socket"]).exists()
        assert discovery.process_state(pid) not in ("T", "t", None)
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
        proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)
