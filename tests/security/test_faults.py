"""Clients and targets dying at the worst moment (issue 3, point 6), and stop()."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from leakscope.client.errors import ExitCode

from .conftest import run_cli, target_env


def cli(*args: str) -> subprocess.Popen[str]:
    """Start the real CLI in the background."""
    return subprocess.Popen(
        [sys.executable, "-m", "leakscope", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_client_killed_mid_call(start_target: Any) -> None:
    # SIGPIPE restored to its default: a write to the dead client must not kill the host.
    t = start_target(
        "--objects", "20", "--repr", "slow", "--repr-seconds", "0.05", "--sigpipe-default"
    )
    victim = cli("all", "Leaky", "--pid", str(t.pid))
    time.sleep(0.5)  # the agent is now describing objects, one slow repr at a time
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    time.sleep(1.5)  # the agent finishes the call and writes to a dead socket
    assert t.alive()
    done = run_cli("prefs", "--pid", str(t.pid), "--json")
    assert done.returncode == 0, done.stderr
    assert t.ask("ping")["pong"] is True


@pytest.mark.slow
def test_target_killed_mid_call(start_target: Any) -> None:
    t = start_target("--objects", "20", "--repr", "slow", "--repr-seconds", "0.5")
    running = cli("all", "Leaky", "--pid", str(t.pid))
    time.sleep(1.5)  # connected, handshake done, `all` in progress (10 s of reprs)
    assert running.poll() is None
    t.kill()
    out, err = running.communicate(timeout=20)
    assert running.returncode == ExitCode.TARGET_EXITED, (running.returncode, err)
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("leakscope: "), err
    assert str(t.pid) in err


def test_target_exits_normally_and_removes_its_socket(start_target: Any) -> None:
    t = start_target()
    assert os.path.exists(t.socket)
    assert t.finish() == 0
    assert not os.path.exists(t.socket)


@pytest.mark.slow
def test_killed_target_leaves_a_socket_that_is_swept(start_target: Any, sock_dir: Path) -> None:
    env = dict(os.environ, LEAKSCOPE_SOCKET_DIR=str(sock_dir))
    first, second = start_target(), start_target()
    first.kill()
    second.kill()
    assert os.path.exists(first.socket) and os.path.exists(second.socket)  # left behind
    # Asked by PID: the stale socket is named, removed, and the code says so.
    done = run_cli("prefs", "--pid", str(first.pid), env=env)
    assert done.returncode == ExitCode.STALE_SOCKET, (done.returncode, done.stderr)
    assert not os.path.exists(first.socket)
    # Listing sweeps too; after that the PID is simply gone.
    done = run_cli("ps", "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert second.pid not in [a["pid"] for a in json.loads(done.stdout or "[]")]
    assert not os.path.exists(second.socket)
    done = run_cli("prefs", "--pid", str(second.pid), env=env)
    assert done.returncode == ExitCode.NO_SUCH_PROCESS, (done.returncode, done.stderr)


@pytest.mark.slow
def test_stop_does_not_hang_with_clients_connected(start_target: Any) -> None:
    t = start_target("--objects", "20", "--repr", "slow", "--repr-seconds", "0.5")
    busy = cli("all", "Leaky", "--pid", str(t.pid))  # mid-call when stop() comes
    idle = [cli("oldest", "Leaky", "--pid", str(t.pid)) for _ in range(3)]
    time.sleep(1.5)
    answer = t.ask("stop")
    assert answer["running"] is False
    assert answer["stopped_s"] < 5, answer  # a hang, not a speed test
    assert not os.path.exists(t.socket)
    for proc in [busy, *idle]:
        proc.communicate(timeout=30)
    assert busy.returncode == ExitCode.TARGET_EXITED
    # and the agent can start again, in the same process
    again = t.ask("start")["socket"]
    assert again == t.socket and os.path.exists(again)
    assert run_cli("prefs", "--pid", str(t.pid)).returncode == 0


def test_start_never_raises(start_target: Any, tmp_path: Path) -> None:
    """Impossible places: None back, a log line, the host untouched."""
    log = tmp_path / "agent.log"
    t = start_target("--no-start", "--log", str(log))
    (tmp_path / "a-file").write_text("")
    for where in [
        "/proc/leakscope-cannot-be-here",
        str(tmp_path / "a-file"),
        str(tmp_path / ("x" * 120)),  # longer than a Unix socket path may be
    ]:
        assert t.ask(f"start {where}") == {"socket": None}, where
    assert log.read_text().count("leakscope agent not started") == 3
    assert t.ask("ping")["pong"] is True
    assert t.ask("start")["socket"] is not None  # the default place still works


def test_environment_start_with_a_bad_directory_keeps_the_host(tmp_path: Path) -> None:
    """LEAKSCOPE_AGENT=1 with an unusable directory: the program runs as if nothing happened."""
    env = target_env(tmp_path / "no" / "such" / "dir", LEAKSCOPE_AGENT="1")
    env["LEAKSCOPE_SOCKET_DIR"] = "/proc/nope"
    done = subprocess.run(
        [sys.executable, "-c", "import leakscope; print('host ok')"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "host ok\n", "")
