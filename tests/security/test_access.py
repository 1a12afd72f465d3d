"""Who may talk to an agent: its own user and root, nobody else (issue 3, points 1-2)."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any

import pytest
from rpyc.core import brine, consts

from leakscope.client.errors import ExitCode

from .conftest import OTHER_USER, SYSTEM_PYTHON, Target, raw_exchange, run_as, run_cli


def _getroot_frame() -> bytes:
    """A genuine RPyC request frame (HANDLE_GETROOT), as a client would send first."""
    payload = brine.I1.pack(consts.MSG_REQUEST) + brine.dump((1, (consts.HANDLE_GETROOT, ())))
    return len(payload).to_bytes(4, "big") + b"\0" + payload + b"\n"


# The other user only has Debian's Python and the standard library: a raw socket.
_RAW_CLIENT = """
import json, socket, sys
path, frame = sys.argv[1], bytes.fromhex(sys.argv[2])
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
try:
    s.connect(path)
except OSError as exc:
    print(json.dumps({"connected": False, "errno": exc.errno, "error": type(exc).__name__}))
    sys.exit(0)
try:
    s.sendall(frame)
    got = s.recv(65536)
    print(json.dumps({"connected": True, "reply_bytes": len(got)}))
except (BrokenPipeError, ConnectionResetError) as exc:  # closed on us: refused
    print(json.dumps({"connected": True, "reply_bytes": 0, "closed": type(exc).__name__}))
"""


def _raw_client_as(user: str, path: str) -> dict[str, Any]:
    code = f"import sys; sys.argv = ['x', {path!r}, {_getroot_frame().hex()!r}]\n" + _RAW_CLIENT
    done = run_as(user, code)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_socket_and_directory_are_private(start_target: Any) -> None:
    t = start_target()
    sock = os.lstat(t.socket)
    folder = os.lstat(os.path.dirname(t.socket))
    assert stat.S_ISSOCK(sock.st_mode) and stat.S_IMODE(sock.st_mode) == 0o600
    assert stat.S_ISDIR(folder.st_mode) and stat.S_IMODE(folder.st_mode) == 0o700
    assert sock.st_uid == folder.st_uid == os.getuid()


def test_other_user_is_stopped_by_the_filesystem(start_target: Any, other_user: Any) -> None:
    t = start_target()
    result = _raw_client_as(OTHER_USER, t.socket)
    assert result == {"connected": False, "errno": 13, "error": "PermissionError"}


@pytest.mark.parametrize("dir_mode", ["711", "777"])
def test_other_user_is_refused_by_peer_credentials(
    start_target: Any, other_user: Any, tmp_path: Path, sock_dir: Path, dir_mode: str
) -> None:
    log = tmp_path / "agent.log"
    t = start_target("--log", str(log))
    # Control: the very same frame from an allowed peer (root) gets an answer.
    assert len(raw_exchange(t.socket, _getroot_frame(), first=True)) > 0
    os.chmod(sock_dir.parent, 0o711)  # our test directory around the socket directory
    t.ask(f"loosen {dir_mode} 666")
    result = _raw_client_as(OTHER_USER, t.socket)
    assert result["connected"] is True, "the other user could not reach the loosened socket"
    assert result["reply_bytes"] == 0, "the agent answered a client of another uid"
    assert f"refused a client of uid {other_user.pw_uid}" in log.read_text()
    # The agent still serves an allowed peer (the CLI itself now refuses the loose directory).
    assert len(raw_exchange(t.socket, _getroot_frame(), first=True)) > 0


@pytest.mark.slow
def test_root_inspects_another_users_agent_by_pid(
    other_user: Any, world_readable_tree: Path
) -> None:
    check = run_as(
        OTHER_USER, f"import sys; sys.path.insert(0, {str(world_readable_tree)!r}); import rpyc"
    )
    if check.returncode != 0:
        pytest.skip(f"rpyc does not import under {SYSTEM_PYTHON}: {check.stderr[-300:]}")
    base = Path(tempfile.mkdtemp(prefix="lso-"))
    os.chown(base, other_user.pw_uid, other_user.pw_gid)
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(world_readable_tree),
        "LEAKSCOPE_SOCKET_DIR": str(base),
        "LEAKSCOPE_HISTORY_INTERVAL": "0",
        "PYTHONUNBUFFERED": "1",
    }
    t = Target(
        [SYSTEM_PYTHON, str(world_readable_tree / "target.py"), "--objects", "3"], env, OTHER_USER
    )
    try:
        assert t.socket is not None
        assert os.lstat(t.socket).st_uid == other_user.pw_uid
        cli_env = dict(os.environ)
        cli_env.pop("LEAKSCOPE_SOCKET_DIR", None)  # found through the target's own environment
        done = run_cli("prefs", "--pid", str(t.pid), "--json", env=cli_env)
        assert done.returncode == 0, done.stderr
        rows = {r["class"]: r["count"] for r in json.loads(done.stdout)["rows"]}
        assert rows.get("__main__.Leaky") == 3
    finally:
        t.finish()
        shutil.rmtree(base, ignore_errors=True)
    t.assert_quiet()


# -- squatting -------------------------------------------------------------------


def _squat(kind: str, where: Path, other: pwd.struct_passwd | None) -> None:
    if kind == "other-owner":
        assert other is not None
        where.mkdir(mode=0o700)
        os.chown(where, other.pw_uid, other.pw_gid)
    elif kind.startswith("mode-"):
        where.mkdir()
        os.chmod(where, int(kind[5:], 8))
    elif kind == "symlink":
        real = where.parent / "real"
        real.mkdir(mode=0o700)
        where.symlink_to(real)
    elif kind == "file":
        where.write_text("")


@pytest.mark.slow
@pytest.mark.parametrize(
    "kind", ["other-owner", "mode-755", "mode-770", "mode-711", "symlink", "file"]
)
def test_agent_refuses_a_squatted_directory(
    kind: str, start_target: Any, sock_dir: Path, tmp_path: Path, request: Any
) -> None:
    other = request.getfixturevalue("other_user") if kind == "other-owner" else None
    _squat(kind, sock_dir, other)
    before = sorted(p.name for p in sock_dir.parent.rglob("*"))
    log = tmp_path / "agent.log"
    t = start_target("--no-start", "--log", str(log))
    assert t.ask("start") == {"socket": None}
    assert "leakscope agent not started: unsafe socket directory" in log.read_text()
    assert t.ask("ping")["pong"] is True  # the host carries on
    assert sorted(p.name for p in sock_dir.parent.rglob("*")) == before  # no socket anywhere


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["other-owner", "mode-777", "mode-711", "symlink"])
def test_cli_refuses_a_squatted_directory(
    kind: str, start_target: Any, sock_dir: Path, request: Any
) -> None:
    t = start_target()
    assert run_cli("prefs", "--pid", str(t.pid)).returncode == 0  # control
    if kind == "other-owner":
        other = request.getfixturevalue("other_user")
        os.chown(sock_dir, other.pw_uid, other.pw_gid)
    elif kind.startswith("mode-"):
        os.chmod(sock_dir, int(kind[5:], 8))
    else:  # the directory moved away and a link put in its place
        moved = sock_dir.parent / "moved"
        sock_dir.rename(moved)
        sock_dir.symlink_to(moved)
    done = run_cli("prefs", "--pid", str(t.pid))
    assert done.returncode == ExitCode.PERMISSION, (done.returncode, done.stderr)
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("leakscope: ")


@pytest.mark.slow
def test_cli_as_other_user_is_refused_by_pid(
    start_target: Any, other_user: Any, world_readable_tree: Path
) -> None:
    """Another user asking for root's process is told so (exit 8), not connected."""
    t = start_target()
    code = (
        f"import sys; sys.path.insert(0, {str(world_readable_tree)!r})\n"
        "from leakscope.client import local\n"
        "from leakscope.client.errors import LeakscopeError\n"
        "try:\n"
        f"    local.resolve({t.pid})\n"
        "    print('RESOLVED')\n"
        "except LeakscopeError as exc:\n"
        "    print(int(exc.code))\n"
    )
    done = run_as(OTHER_USER, code)
    assert done.stdout.strip() == str(int(ExitCode.PERMISSION)), done.stderr
