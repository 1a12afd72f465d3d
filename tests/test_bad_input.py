"""Bad input, odd processes, odd files: one line, a documented exit code, nothing replaced.

The table runs the real CLI (a subprocess, as a user would) on inputs a new
user or an adversary would try, against a real target where one is needed,
in an empty working directory. For every row: the expected exit code, exactly
one line on stderr starting ``leakscope:``, no traceback, no "internal
error", and no file created or replaced in the working directory.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from leakscope.client.errors import ExitCode
from tests.conftest import REPO


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """The real `leakscope` command in a subprocess, run in *cwd*."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "leakscope", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


SNAPSHOT = {
    "leakscope_snapshot": 1,
    "leakscope_version": "0.1.0",
    "time": 1000.0,
    "pid": 4242,
    "argv": ["app.py"],
    "python": "3.11.7",
    "host": "box",
    "collected": False,
    "prefs": {"rows": [{"class": "app.Page", "count": 10, "oldest_age_s": 5.0}]},
    "prefs_by": {},
    "memory": None,
    "heap": None,
}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Snapshot files, good and bad, in a directory of their own."""
    d = tmp_path_factory.mktemp("snapshots")
    good = json.dumps(SNAPSHOT)
    made = {
        "snap": good,
        "damaged": json.dumps({**SNAPSHOT, "prefs": {"rows": [{"class": "x", "count": "x"}]}}),
        "marker_true": json.dumps({**SNAPSHOT, "leakscope_snapshot": True}),
        "newer": json.dumps({**SNAPSHOT, "leakscope_snapshot": 99}),
        "foreign": json.dumps({"hello": "world"}),
        "truncated": good[: len(good) // 2],
        "empty": "",
        "binary": "\udcff",
    }
    out = {}
    for name, text in made.items():
        path = d / f"{name}.json"
        path.write_bytes(text.encode("utf-8", "surrogateescape"))
        out[name] = str(path)
    out["dir"] = str(d)
    return out


@pytest.fixture(scope="module")
def sleeper() -> object:
    """A process that is not Python."""
    proc = subprocess.Popen(["sleep", "600"])
    yield proc
    proc.kill()
    proc.wait()


# (arguments, expected exit code, what is wrong); {pid} is a live target, {sleep} a
# process that is not Python, {name} a file of the `files` fixture.
ROWS: list[tuple[list[str], ExitCode, str]] = [
    (["prefs", "--timeout", "nan"], ExitCode.USAGE, "NaN seconds"),
    (["prefs", "--timeout", "inf"], ExitCode.USAGE, "infinite seconds"),
    (["prefs", "--timeout", "-1"], ExitCode.USAGE, "negative seconds"),
    (["prefs", "--pid", "{pid}", "--watch", "nan"], ExitCode.USAGE, "NaN watch period"),
    (["diff", "--pid", "{pid}", "--interval", "nan"], ExitCode.USAGE, "NaN interval"),
    (["demo", "--pause", "nan"], ExitCode.USAGE, "NaN pause"),
    (["history", "Widget", "--since", "nan"], ExitCode.USAGE, "NaN since"),
    (["snapshot", "--pid", "{pid}", "-o", ""], ExitCode.USAGE, "empty file name"),
    (["snapshot", "--pid", "{pid}", "-o", "{dir}"], ExitCode.USAGE, "a directory as file"),
    (
        ["oldest", "Widget", "--pid", "{pid}", "--why", "--graph", "/nonexistent/g.dot"],
        ExitCode.CANNOT_WRITE,
        "graph into a missing directory",
    ),
    (["snapshot", "--pid", "{pid}", "-o", "{dir}/no/x.json"], ExitCode.CANNOT_WRITE, "no dir"),
    (["dump", "--pid", "{pid}", "-o", "-", "--json"], ExitCode.USAGE, "dump on stdout, json"),
    (["oldest", "Widget", "--pid", "{pid}", "--graph", "g.dot"], ExitCode.USAGE, "--graph alone"),
    (["heap", "--pid", "{pid}", "--by-type", "--by-via", "dict"], ExitCode.USAGE, "two partitions"),
    (["heap", "--pid", "{pid}", "--by-module", "--by-size"], ExitCode.USAGE, "two partitions"),
    (["heap", "--pid", "{pid}", "--by-referrer", ""], ExitCode.USAGE, "empty type"),
    (["prefs", "--all", "--pid", "{pid}"], ExitCode.USAGE, "--all with --pid"),
    (["prefs", "--pid", "{pid}", "--pid", "{pid}"], ExitCode.USAGE, "a PID twice"),
    (["diff", "{snap}", "{snap}", "--pid", "{pid}"], ExitCode.USAGE, "files with --pid"),
    (["diff", "{snap}"], ExitCode.USAGE, "one file"),
    (
        ["snapshot", "--pid", "{pid}", "--collect", "-o", "x.json"],
        ExitCode.USAGE,
        "collect no heap",
    ),
    (["memory", "--trim", "--all"], ExitCode.USAGE, "--trim with --all"),
    (["all", "Widget", "--pid", "{pid}", "--limit", "0"], ExitCode.USAGE, "limit 0"),
    (["oldest", "", "--pid", "{pid}"], ExitCode.USAGE, "empty class"),
    (["history", "", "--pid", "{pid}"], ExitCode.USAGE, "empty class"),
    (["oldest", "a b", "--pid", "{pid}"], ExitCode.USAGE, "not a class name"),
    (["oldest", "Nope", "--pid", "{pid}"], ExitCode.UNKNOWN_CLASS, "unknown class"),
    (["history", "Nope", "--pid", "{pid}"], ExitCode.UNKNOWN_CLASS, "unknown class"),
    (["heap", "--pid", "{pid}", "--by-via", "NoSuchType"], ExitCode.UNKNOWN_CLASS, "unknown type"),
    (["prefs", "--pid", "999999"], ExitCode.NO_SUCH_PROCESS, "no such process"),
    (["prefs", "--pid", "0"], ExitCode.USAGE, "PID 0"),
    (["prefs", "--pid", "abc"], ExitCode.USAGE, "PID not a number"),
    (["prefs", "--pid", "{sleep}"], ExitCode.NOT_PYTHON, "not a Python process"),
    (["diff", "{damaged}", "{snap}"], ExitCode.BAD_SNAPSHOT, "damaged rows"),
    (["diff", "{marker_true}", "{snap}"], ExitCode.BAD_SNAPSHOT, "marker true"),
    (["diff", "{newer}", "{snap}"], ExitCode.BAD_SNAPSHOT, "newer schema"),
    (["diff", "{foreign}", "{snap}"], ExitCode.BAD_SNAPSHOT, "foreign JSON"),
    (["diff", "{truncated}", "{snap}"], ExitCode.BAD_SNAPSHOT, "truncated"),
    (["diff", "{empty}", "{snap}"], ExitCode.BAD_SNAPSHOT, "empty"),
    (["diff", "{binary}", "{snap}"], ExitCode.BAD_SNAPSHOT, "not text"),
    (["diff", "missing.json", "{snap}"], ExitCode.BAD_SNAPSHOT, "no such file"),
    (["--remote", "false", "prefs"], ExitCode.TRANSPORT, "prefix fails"),
    (["--remote", "sh -c 'echo gone >&2; exit 3'", "prefs"], ExitCode.TRANSPORT, "prefix exits 3"),
    (["--remote", "", "prefs"], ExitCode.USAGE, "empty prefix"),
    (["--remote", "/nonexistent/ssh box", "prefs"], ExitCode.USAGE, "no such program"),
    (["attach", "999999"], ExitCode.NO_SUCH_PROCESS, "attach to nothing"),
    (["run", "--", "/nonexistent/program"], ExitCode.USAGE, "run a missing program"),
    (["nosuchcommand"], ExitCode.USAGE, "unknown command"),
    (["prefs", "--nosuchoption"], ExitCode.USAGE, "unknown option"),
]


#: Rows that also run in the fast subset (`pytest -m "not slow"`): one of each kind.
FAST_ROWS = {"NaN seconds", "two partitions", "unknown class", "no such process", "damaged rows"}


@pytest.mark.parametrize(
    ("args", "code", "what"),
    [pytest.param(*row, marks=() if row[2] in FAST_ROWS else pytest.mark.slow) for row in ROWS],
    ids=[r[2] for r in ROWS],
)
def test_bad_input_is_one_line_and_a_documented_code(
    args: list[str],
    code: ExitCode,
    what: str,
    basic_target,
    files: dict[str, str],
    sleeper,
    tmp_path: Path,
) -> None:
    values = {"pid": str(basic_target.pid), "sleep": str(sleeper.pid), **files}
    argv = [a.format(**values) for a in args]
    before = sorted(p.name for p in tmp_path.iterdir())
    result = run_cli(*argv, cwd=tmp_path, timeout=60)
    lines = result.stderr.splitlines()
    assert result.returncode == code, (what, result.returncode, result.stderr)
    assert len(lines) == 1 and lines[0].startswith("leakscope: "), (what, result.stderr)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before, what
    assert result.stdout == "", (what, result.stdout)


def test_every_exit_code_is_documented() -> None:
    readme = (REPO / "README.md").read_text()
    page = (REPO / "man" / "leakscope.1").read_text()
    for code in ExitCode:
        assert f"| {int(code)} |" in readme, code
        assert f"\\fB{int(code)}\\fR" in page, code


# -- output files: written as a shell redirection would ------------------------------


def _snapshot(pid: int, output: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli("snapshot", "--pid", str(pid), "-o", output, cwd=cwd)


@pytest.mark.slow
def test_snapshot_follows_a_symlink_and_keeps_it(basic_target, tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    done = _snapshot(basic_target.pid, str(link))
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert json.loads(real.read_text())["pid"] == basic_target.pid
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "real.json"]


@pytest.mark.slow
def test_snapshot_into_a_fifo_writes_into_it(basic_target, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    done = _snapshot(basic_target.pid, str(fifo))
    reader.join(timeout=30)
    assert done.returncode == 0, done.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert json.loads(got[0])["pid"] == basic_target.pid


def test_snapshot_to_stdout(basic_target, tmp_path: Path) -> None:
    done = _snapshot(basic_target.pid, "-", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["pid"] == basic_target.pid
    assert list(tmp_path.iterdir()) == []  # no file named "-"


@pytest.mark.slow
def test_snapshot_to_a_full_device_fails_and_leaves_it_a_device(basic_target, tmp_path) -> None:
    # A private twin of /dev/full (character device 1, 7): a regression must not be able
    # to replace the machine's own device node with a file.
    full = tmp_path / "full"
    try:
        os.mknod(full, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
    except OSError as exc:
        pytest.skip(f"cannot make a device node here: {exc}")
    done = _snapshot(basic_target.pid, str(full))
    assert done.returncode == ExitCode.CANNOT_WRITE, done.stderr
    assert "No space left on device" in done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert stat.S_ISCHR(os.lstat(full).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full"]  # no temporary file


@pytest.mark.slow
def test_snapshot_on_a_full_disk_leaves_no_temporary_file(basic_target, tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        (disk / "old.json").write_text("kept")
        done = _snapshot(basic_target.pid, str(disk / "old.json"))
        assert done.returncode == ExitCode.CANNOT_WRITE, done.stderr
        assert "No space left on device" in done.stderr
        assert sorted(p.name for p in disk.iterdir()) == ["old.json"]
        assert (disk / "old.json").read_text() == "kept"
    finally:
        subprocess.run(["umount", str(disk)], check=True)


# -- processes that are not what they seem -------------------------------------------


@pytest.mark.slow
def test_a_zombie_is_gone(target_factory, socket_dir: Path) -> None:
    live = target_factory("basic", "1", "1")
    dead = target_factory("basic", "1", "1")
    dead.proc.send_signal(signal.SIGKILL)  # killed, and not reaped: a zombie
    deadline = time.monotonic() + 10
    while Path(f"/proc/{dead.pid}/stat").read_text().split(")")[1].split()[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    sock = socket_dir / f"{dead.pid}.sock"
    assert sock.exists()  # SIGKILL left it
    result = run_cli("prefs", "--pid", str(dead.pid))
    assert result.returncode == ExitCode.STALE_SOCKET, result.stderr
    assert "zombie" in result.stderr and not sock.exists()
    # Without --pid, the live one is the only agent.
    assert run_cli("prefs", "--json").returncode == 0
    listed = json.loads(run_cli("ps", "--json").stdout)
    assert [a["pid"] for a in listed] == [live.pid]
    dead.proc.wait()


def test_an_unsafe_socket_directory_is_refused_and_said(target_factory, socket_dir: Path) -> None:
    target_factory("basic", "1", "1")
    socket_dir.chmod(0o777)
    try:
        ps = run_cli("ps")
        assert ps.returncode == 0
        assert "refusing an unsafe socket directory" in ps.stderr and "0777" in ps.stderr
        prefs = run_cli("prefs")
        assert prefs.returncode == ExitCode.PERMISSION, prefs.stderr
        assert "unsafe socket directory" in prefs.stderr
    finally:
        socket_dir.chmod(0o700)


@pytest.mark.slow
def test_remote_timeout_covers_the_whole_call() -> None:
    began = time.monotonic()
    result = run_cli("--remote", "sh -c 'sleep 100'", "prefs", "--timeout", "2")
    took = time.monotonic() - began
    assert result.returncode == ExitCode.TIMEOUT, result.stderr
    assert took < 8, took  # 2 s and start-up, not 22 s
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.slow
def test_a_full_backlog_is_waited_for_not_refused(basic_target) -> None:
    """While the agent cannot accept (its process stopped) and its listen backlog is
    full, a new client retries until --timeout instead of failing at once."""
    path = basic_target.socket
    os.kill(basic_target.pid, signal.SIGSTOP)
    fillers: list[socket.socket] = []
    try:
        while True:  # fill the backlog until the kernel says EAGAIN
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(path)
            except BlockingIOError:
                s.close()
                break
            fillers.append(s)
            assert len(fillers) < 10_000
        waiting = subprocess.Popen(
            [sys.executable, "-m", "leakscope", "prefs", "--pid", str(basic_target.pid)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ, PYTHONPATH=str(REPO)),
        )
        time.sleep(1.5)
        assert waiting.poll() is None, waiting.communicate()  # still waiting, not refused
    finally:
        for s in fillers:
            s.close()
        os.kill(basic_target.pid, signal.SIGCONT)
    out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, err
    assert "Widget" in out
