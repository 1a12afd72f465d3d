"""fork(): the child never answers on the parent's socket (issue 3, point 7).

By default a forked child starts an agent of its own under its own PID
(``LEAKSCOPE_FORK_AGENT=0`` turns that off), the parent's agent carries on,
and a child's exit leaves the parent's socket alone. Children made by
``subprocess`` (with or without ``preexec_fn``) get no agent and work as usual.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from leakscope.client.errors import ExitCode

from .conftest import run_cli, target_env


def socket_inodes(pid: int) -> set[str]:
    """The sockets a process holds open, as 'socket:[inode]' strings."""
    found = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:"):
            found.add(link)
    return found


def listening_inode(path: str) -> str:
    """The inode of the listening socket bound at *path* (from /proc/net/unix)."""
    with open("/proc/net/unix") as fh:
        for line in fh:
            fields = line.split()
            if len(fields) >= 8 and fields[7] == path:
                return f"socket:[{fields[6]}]"
    raise AssertionError(f"nothing listens on {path}")


def wait_for(path: Path, present: bool = True, timeout: float = 10) -> bool:
    """Wait until *path* exists (or is gone)."""
    deadline = time.monotonic() + timeout
    while path.exists() != present and time.monotonic() < deadline:
        time.sleep(0.02)
    return path.exists() == present


def wait_gone(pid: int, timeout: float = 10) -> None:
    """Wait until *pid* has exited (a zombie counts: the parent reaps it later)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return
        except OSError:
            return
        time.sleep(0.02)
    raise AssertionError(f"process {pid} did not exit")


def hello_pid(pid: int) -> int:
    """The PID the agent found for *pid* says it runs in (via the real CLI)."""
    done = run_cli("prefs", "--pid", str(pid), "--json")
    assert done.returncode == 0, done.stderr
    return int(json.loads(done.stdout)["pid"])


@pytest.mark.slow
def test_forked_child_gets_its_own_agent(start_target: Any, sock_dir: Path, tmp_path: Path) -> None:
    t = start_target()
    parent_listener = listening_inode(t.socket)
    stopfile = tmp_path / "stop"
    child = t.ask(f"fork {stopfile}")["child"]
    child_socket = sock_dir / f"{child}.sock"
    assert wait_for(child_socket), "the child started no agent of its own"
    # The child holds no copy of the parent's listening socket ...
    assert parent_listener not in socket_inodes(child)
    # ... so whoever connects to the parent's socket reaches the parent, every time.
    assert {hello_pid(t.pid) for _ in range(3)} == {t.pid}
    assert hello_pid(child) == child
    # The child exits normally (atexit runs): its socket goes, the parent's stays.
    stopfile.write_text("")
    assert wait_for(child_socket, present=False)
    assert os.path.exists(t.socket)
    assert hello_pid(t.pid) == t.pid


@pytest.mark.slow
def test_child_exit_without_atexit_leaves_the_parent_alone(
    start_target: Any, sock_dir: Path, tmp_path: Path
) -> None:
    t = start_target()
    stopfile = tmp_path / "stop"
    child = t.ask(f"fork {stopfile} _exit")["child"]
    assert wait_for(sock_dir / f"{child}.sock")
    stopfile.write_text("")
    wait_gone(child)
    assert os.path.exists(t.socket)
    assert hello_pid(t.pid) == t.pid


@pytest.mark.slow
def test_fork_agent_off(start_target: Any, sock_dir: Path, tmp_path: Path) -> None:
    t = start_target(env=target_env(sock_dir, LEAKSCOPE_FORK_AGENT="0"))
    stopfile = tmp_path / "stop"
    child = t.ask(f"fork {stopfile}")["child"]
    time.sleep(0.5)  # well past the child's grace period
    assert not (sock_dir / f"{child}.sock").exists()
    assert listening_inode(t.socket) not in socket_inodes(child)
    done = run_cli("prefs", "--pid", str(child))
    assert done.returncode == ExitCode.NO_AGENT, (done.returncode, done.stderr)
    stopfile.write_text("")
    assert hello_pid(t.pid) == t.pid


@pytest.mark.slow
def test_fork_then_exec_leaves_no_socket(start_target: Any, sock_dir: Path, tmp_path: Path) -> None:
    t = start_target()
    child = t.ask(f"fork {tmp_path / 'never'} exec")["child"]
    time.sleep(0.5)
    try:
        assert Path(f"/proc/{child}/comm").read_text().strip() == "sleep"
        assert not (sock_dir / f"{child}.sock").exists()
    finally:
        os.kill(child, 9)
    assert hello_pid(t.pid) == t.pid


@pytest.mark.slow
def test_multiprocessing_fork_children(start_target: Any, sock_dir: Path, tmp_path: Path) -> None:
    t = start_target()
    stopfile = tmp_path / "stop"
    answer = t.ask(f"mp {stopfile}")
    child, child_socket = answer["child"], answer["socket"]
    assert child_socket == str(sock_dir / f"{child}.sock")
    assert listening_inode(t.socket) not in socket_inodes(child)
    assert hello_pid(child) == child
    assert hello_pid(t.pid) == t.pid
    stopfile.write_text("")  # the worker returns; multiprocessing ends it with os._exit
    wait_gone(child)
    assert os.path.exists(t.socket)
    assert hello_pid(t.pid) == t.pid


def test_subprocess_children_work_and_get_no_agent(start_target: Any, sock_dir: Path) -> None:
    t = start_target()
    answer = t.ask("subprocess")
    assert answer["codes"] == [0, 0], answer
    assert answer["stderr"] == ""
    for pid in answer["pids"]:
        assert not (sock_dir / f"{pid}.sock").exists()
    assert sorted(p.name for p in sock_dir.iterdir()) == [f"{t.pid}.sock"]
    assert hello_pid(t.pid) == t.pid


def test_child_uses_the_directory_the_parent_was_started_with(
    start_target: Any, sock_dir: Path, tmp_path: Path
) -> None:
    chosen = sock_dir.parent / "chosen"
    t = start_target("--no-start")
    assert t.ask(f"start {chosen}")["socket"] == str(chosen / f"{t.pid}.sock")
    stopfile = tmp_path / "stop"
    child = t.ask(f"fork {stopfile}")["child"]
    try:
        assert wait_for(chosen / f"{child}.sock")
    finally:
        stopfile.write_text("")
    wait_gone(child)
