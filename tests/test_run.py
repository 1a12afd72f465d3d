"""``leakscope run -- CMD``: real programs started through the real CLI."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import tempfile
import termios
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from leakscope.client.errors import ExitCode
from leakscope.client.run import (
    BOOT_DIR,
    HOLD_S,
    IMPORT_PATH,
    parse_report_line,
    run_program,
)

REPO = Path(__file__).resolve().parent.parent

# A program that starts a child Python process, reports both, and waits for stdin.
PARENT = textwrap.dedent(
    """
    import json, os, subprocess, sys
    child = subprocess.Popen([sys.executable, "-c", sys.argv[1]], stdout=subprocess.PIPE, text=True)
    print(json.dumps({"pid": os.getpid(), "child": child.pid}), flush=True)
    print(child.stdout.readline().strip(), flush=True)
    sys.stdin.read()
    child.terminate()
    child.wait()
    sys.exit(int(os.environ.get("EXIT_CODE", "0")))
    """
)
CHILD = textwrap.dedent(
    """
    import json, os, sys, time
    agent = sys.modules.get("leakscope.target.agent")
    print(json.dumps({
        "agent": bool(agent and agent.is_running()),
        "env": sorted(k for k in os.environ if k.startswith("LEAKSCOPE_RUN")),
        "pythonpath": os.environ.get("PYTHONPATH", ""),
    }), flush=True)
    time.sleep(60)
    """
)


@pytest.fixture
def env() -> Iterator[dict[str, str]]:
    """The environment of `leakscope run`: this checkout, a private socket directory."""
    directory = Path(tempfile.mkdtemp(prefix="lsr-"))
    full = dict(os.environ)
    full["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), full.get("PYTHONPATH")]))
    full["LEAKSCOPE_SOCKET_DIR"] = str(directory / "s")
    for name in [n for n in full if n.startswith("LEAKSCOPE_RUN")]:
        del full[name]
    yield full
    shutil.rmtree(directory, ignore_errors=True)


def _leakscope(*args: str) -> list[str]:
    return [sys.executable, "-m", "leakscope", *args]


def _socket(env: dict[str, str], pid: int) -> Path:
    return Path(env["LEAKSCOPE_SOCKET_DIR"]) / f"{pid}.sock"


def _ps(env: dict[str, str]) -> list[dict[str, Any]]:
    done = subprocess.run(
        _leakscope("ps", "--json"), capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def _start(env: dict[str, str], *options: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        _leakscope("run", *options, "--", sys.executable, "-c", PARENT, CHILD),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _finish(run: subprocess.Popen[str]) -> tuple[int, str]:
    try:
        _, err = run.communicate("", timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    return run.returncode, err


def test_run_gives_the_program_an_agent_but_not_its_children(env: dict[str, str]) -> None:
    run = _start(env | {"EXIT_CODE": "3"})
    assert run.stdout is not None
    started = json.loads(run.stdout.readline())
    # The hook ran before the program's first line: the agent is already there.
    socket = _socket(env, started["pid"])
    assert socket.is_socket()
    child = json.loads(run.stdout.readline())
    assert [p["pid"] for p in _ps(env)] == [started["pid"]]
    assert child == {"agent": False, "env": [], "pythonpath": env["PYTHONPATH"]}
    assert not _socket(env, started["child"]).exists()

    # A program that exits within HOLD_S of its agent's start is told as one that "exited
    # at once"; this one must live longer to be told as listening.
    time.sleep(2 * HOLD_S)
    code, err = _finish(run)
    assert code == 3, err
    assert f"leakscope: agent of pid {started['pid']} listening on {socket}\n" in err
    assert not socket.exists()


@pytest.mark.slow
def test_run_with_children_gives_every_python_process_an_agent(env: dict[str, str]) -> None:
    run = _start(env, "--children")
    assert run.stdout is not None
    started = json.loads(run.stdout.readline())
    child = json.loads(run.stdout.readline())
    assert child["agent"] is True
    assert _socket(env, started["child"]).is_socket()
    assert {p["pid"] for p in _ps(env)} == {started["pid"], started["child"]}
    time.sleep(2 * HOLD_S)  # outlive HOLD_S, or it is told as a program that exited at once
    code, err = _finish(run)
    assert code == 0, err
    assert err.count("leakscope: agent of pid") == 2


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signum", "status"), [(signal.SIGTERM, 128 + signal.SIGTERM), (signal.SIGINT, 42)]
)
def test_run_passes_signals_on_and_returns_the_status(
    env: dict[str, str], signum: int, status: int
) -> None:
    program = (
        "import os, signal, time\n"
        "signal.signal(signal.SIGINT, lambda *_: os._exit(42))\n"
        "print(os.getpid(), flush=True)\n"
        "time.sleep(60)\n"
    )
    run = subprocess.Popen(
        _leakscope("run", "--", sys.executable, "-c", program),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert run.stdout is not None
    pid = int(run.stdout.readline())
    run.send_signal(signum)
    code, err = _finish(run)
    assert code == status, err
    # Ended abruptly, the program left its socket behind; discovery sweeps it.
    assert pid not in [p["pid"] for p in _ps(env)]


@pytest.mark.slow
def test_run_keeps_the_users_sitecustomize(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text("import builtins\nbuiltins.USER_HOOK = 'ran'\n")
    program = (
        "import builtins, sys; import leakscope.agent as a\n"
        "print(builtins.USER_HOOK, a.is_running(), sys.modules['sitecustomize'].__file__)"
    )
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env["PYTHONPATH"]])
    done = subprocess.run(
        _leakscope("run", "--", sys.executable, "-c", program),
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ran", "True", str(tmp_path / "sitecustomize.py")]


def test_run_says_when_there_is_no_agent(env: dict[str, str]) -> None:
    done = subprocess.run(
        _leakscope("run", "--", "/bin/sh", "-c", "echo hello; exit 4"),
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 4
    assert done.stdout == "hello\n"
    assert done.stderr.startswith("leakscope: sh (pid ")
    assert "exited with no agent; is it a Python program?" in done.stderr
    assert len(done.stderr.splitlines()) == 1


@pytest.mark.slow
def test_run_warns_once_while_a_program_runs_without_an_agent() -> None:
    said: list[str] = []
    code = run_program(["/bin/sh", "-c", "sleep 1"], say=said.append, agent_wait_s=0.2)
    assert code == 0
    assert len(said) == 1 and "after 0.2 s; is it a Python program?" in said[0]


@pytest.mark.slow
def test_run_reports_why_the_agent_did_not_start(env: dict[str, str], tmp_path: Path) -> None:
    unsafe = tmp_path / "open"
    unsafe.mkdir(mode=0o755)
    unsafe.chmod(0o755)
    env["LEAKSCOPE_SOCKET_DIR"] = str(unsafe)
    done = subprocess.run(
        _leakscope("run", "--", sys.executable, "-c", "print('still runs')"),
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0
    assert done.stdout == "still runs\n"
    assert "no agent in pid" in done.stderr and "refused to start" in done.stderr


def test_run_of_a_missing_command_is_a_usage_error(env: dict[str, str]) -> None:
    done = subprocess.run(
        _leakscope("run", "--", "no-such-command-here"),
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == ExitCode.USAGE
    assert done.stderr.strip() == "leakscope: cannot run 'no-such-command-here': no such executable"


def _python313() -> str | None:
    candidates = [shutil.which("python3.13")]
    for root in (os.environ.get("PYENV_ROOT"), str(Path.home() / ".pyenv")):
        if root:
            candidates += map(str, sorted(Path(root, "versions").glob("3.13*/bin/python3")))
    for candidate in filter(None, candidates):
        # pyenv's shims exist even where they refuse to run.
        if subprocess.run([candidate, "-c", ""], capture_output=True).returncode == 0:
            return candidate
    return None


@pytest.mark.slow
def test_run_a_python_without_leakscope_installed(env: dict[str, str], tmp_path: Path) -> None:
    python = _python313()
    if python is None or sys.version_info[:2] == (3, 13):
        pytest.skip("needs a second Python (3.13) besides the one running the tests")
    program = tmp_path / "program.py"
    program.write_text("import leakscope.agent as a, sys; print(a.socket_path(), sys.path[-1])\n")
    # The CLI finds leakscope in its working directory; the program only through `run`.
    done = subprocess.run(
        _leakscope("run", "--", python, str(program)),
        capture_output=True,
        text=True,
        env=env | {"PYTHONPATH": ""},
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    socket, last_on_path = done.stdout.split()
    assert socket.startswith(env["LEAKSCOPE_SOCKET_DIR"])
    assert Path(last_on_path) == IMPORT_PATH
    # The program printed and ended at once: its agent started, and is said gone.
    pid = socket.rsplit("/", 1)[1][: -len(".sock")]
    assert done.stderr == f"leakscope: python3 (pid {pid}) exited at once; its agent is gone\n"


def test_the_hook_is_only_a_sitecustomize() -> None:
    # Anything else in that directory would be importable by every program run.
    assert sorted(p.name for p in BOOT_DIR.iterdir() if p.suffix == ".py") == [
        "__init__.py",
        "sitecustomize.py",
    ]
    assert parse_report_line("agent 12 /tmp/x/12.sock\n") is not None
    assert parse_report_line("garbage") is None


@pytest.mark.slow
def test_ctrl_c_at_a_terminal_reaches_the_program_once(env: dict[str, str]) -> None:
    # The terminal sends SIGINT to the whole foreground group, `run` included:
    # passing it on too would make Scrapy's graceful stop a forced one.
    # The wake-up fd gets one byte per delivery, even when Python runs the handler once.
    program = (
        "import os, signal, time\n"
        "r, w = os.pipe()\n"
        "os.set_blocking(w, False)\n"
        "signal.set_wakeup_fd(w)\n"
        "signal.signal(signal.SIGINT, lambda *_: None)\n"
        "print('ready', flush=True)\n"
        "first = os.read(r, 1)\n"
        "time.sleep(1.0)\n"
        "os.set_blocking(r, False)\n"
        "try:\n"
        "    more = os.read(r, 100)\n"
        "except BlockingIOError:\n"
        "    more = b''\n"
        "os._exit(len(first + more))\n"
    )
    main, terminal = pty.openpty()

    def take_the_terminal() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    run = subprocess.Popen(
        _leakscope("run", "--", sys.executable, "-c", program),
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env,
        start_new_session=True,
        preexec_fn=take_the_terminal,
    )
    os.close(terminal)
    try:
        seen = b""
        while b"ready" not in seen:
            seen += os.read(main, 1024)
        os.write(main, b"\x03")
        assert run.wait(timeout=60) == 1
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        os.close(main)
