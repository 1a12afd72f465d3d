"""Where agents put their sockets, and how a client finds them.

One socket per process, named after its PID, in a directory private to the
user: ``$XDG_RUNTIME_DIR/leakscope/`` when that directory exists, else
``/tmp/leakscope-<uid>/`` (``LEAKSCOPE_SOCKET_DIR`` overrides both). The
directory must be a real directory (not a link), owned by the uid and closed to
everyone else (no group/other bits); otherwise nobody uses it.

A client looks for a PID's socket in every place that PID's agent could have
chosen (its own environment, read from ``/proc``, included), so discovery does
not depend on the client's environment matching the target's. Sockets of
processes that are gone are swept when found.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from leakscope import wire
from leakscope.client.errors import ExitCode, LeakscopeError


def _process_environ(pid: int) -> dict[str, str]:
    """The environment a process started with (empty if it cannot be read)."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    env: dict[str, str] = {}
    for item in raw.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep and key in (b"XDG_RUNTIME_DIR", b"LEAKSCOPE_SOCKET_DIR"):
            env[key.decode(errors="replace")] = value.decode(errors="replace")
    return env


# -- facts about a process, from /proc ------------------------------------------


def status_field(pid: int, key: str) -> str | None:
    """The first word of a ``Key:`` line of /proc/PID/status, or None."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return line.split()[1]
    except (OSError, IndexError):
        return None
    return None


def process_uid(pid: int) -> int | None:
    """The real uid of a live process, or None if there is no such process.

    Read from its status, not from the owner of /proc/PID: that is root's when
    the process made itself undumpable.
    """
    uid = status_field(pid, "Uid")
    return int(uid) if uid is not None and uid.isdigit() else None


def stat_fields(pid: int) -> list[bytes] | None:
    """The fields of /proc/PID/stat after the command name (state first), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None


def process_state(pid: int) -> str | None:
    """The one-letter state of *pid* (R, S, D, T, t, Z...), or None if it is gone."""
    fields = stat_fields(pid)
    return fields[0].decode() if fields else None


def process_ppid(pid: int) -> int | None:
    """The parent PID of *pid*, or None."""
    fields = stat_fields(pid)
    return int(fields[1]) if fields and len(fields) > 1 else None


def process_name(pid: int) -> str:
    """The short command name of *pid* (its ``comm``), or "?"."""
    try:
        with open(f"/proc/{pid}/comm") as fh:
            return fh.read().strip()
    except OSError:
        return "?"


def process_cmdline(pid: int) -> tuple[str, ...] | None:
    """The command line of *pid* as `ps` shows it, or None if it cannot be read."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    words = [w.decode(errors="replace") for w in raw.split(b"\0") if w]
    return tuple(words) or None


def process_exe(pid: int) -> str:
    """The executable of *pid*, or "" when it cannot be read (gone, undumpable, not ours)."""
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return ""


_PYTHON_FILE = re.compile(r"(?:libpython|python)(\d)\.(\d+)")


def python_version(pid: int, exe: str) -> tuple[int, int] | None:
    """major.minor of the CPython in *pid*, from its libpython or its executable's name."""
    try:
        with open(f"/proc/{pid}/maps") as fh:
            for line in fh:
                if "libpython" in line:
                    found = _PYTHON_FILE.search(line.rsplit("/", 1)[-1])
                    if found:
                        return int(found.group(1)), int(found.group(2))
    except OSError:
        pass
    found = _PYTHON_FILE.search(os.path.basename(exe))
    if found:
        return int(found.group(1)), int(found.group(2))
    return None


def is_python(pid: int) -> bool:
    """Whether *pid* looks like a Python interpreter: its libpython or executable, else
    (when the executable cannot be read) its command name or first argument."""
    exe = process_exe(pid)
    if python_version(pid, exe) is not None:
        return True
    names = [os.path.basename(exe)] if exe else []
    argv = process_cmdline(pid) or ()
    if not exe:
        names += [os.path.basename(argv[0])] if argv else []
        names.append(process_name(pid))
    return any("python" in name.lower() for name in names)


def user_name(uid: int) -> str:
    """The login name of *uid*, or the number when it has none."""
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (KeyError, ImportError):
        return str(uid)


def check_owner(pid: int, uid: int, verb: str) -> None:
    """Refuse a process of another user (exit code PERMISSION), unless we are root."""
    me = os.geteuid()
    if uid != me and me != 0:
        raise LeakscopeError(
            ExitCode.PERMISSION,
            f"process {pid} belongs to user {user_name(uid)}; only that user or root may {verb}",
        )


def candidate_dirs(pid: int | None = None, uid: int | None = None) -> list[Path]:
    """Every directory where the agent of *pid* (or any agent of *uid*) may live."""
    uid = os.getuid() if uid is None else uid
    dirs: list[Path] = []
    if pid is not None:
        target_env = _process_environ(pid)
        if target_env:
            dirs.append(wire.socket_dir(uid, target_env))
    if uid == os.getuid():
        dirs.append(wire.socket_dir(uid))
    dirs.append(Path(f"/run/user/{uid}/leakscope"))
    dirs.append(Path(f"/tmp/leakscope-{uid}"))
    seen: set[Path] = set()
    unique = []
    for d in dirs:
        if d not in seen:
            seen.add(d)
            unique.append(d)
    return unique


def _is_socket(path: Path) -> bool:
    try:
        return stat.S_ISSOCK(os.lstat(path).st_mode)
    except OSError:
        return False


def find_socket(pid: int) -> Path | None:
    """The socket of *pid*'s agent, in a directory that passes the safety check."""
    uid = process_uid(pid)
    if uid is None:
        uid = os.getuid()
    for directory in candidate_dirs(pid, uid):
        path = directory / f"{pid}{wire.SOCKET_SUFFIX}"
        if _is_socket(path):
            wire.check_directory(directory, uid)
            return path
    return None


@dataclass(frozen=True)
class AgentSocket:
    """A socket file found on disk and the PID it is named after."""

    pid: int
    path: Path
    uid: int


def _scan_dirs(all_users: bool) -> Iterator[tuple[Path, int]]:
    me = os.getuid()
    override = os.environ.get("LEAKSCOPE_SOCKET_DIR")
    if override:
        # An explicit directory names the set of agents to look at (lookups by
        # PID still search everywhere, see find_socket).
        yield Path(override), me
        return
    yielded: set[Path] = set()
    for d in candidate_dirs(None, me):
        if d not in yielded:
            yielded.add(d)
            yield d, me
    if not all_users:
        return
    roots = [Path("/tmp"), Path("/run/user")]
    for root in roots:
        try:
            entries = list(root.iterdir())
        except OSError:
            continue
        for entry in entries:
            if root.name == "tmp" and entry.name.startswith("leakscope-"):
                d = entry
            elif root.name == "user":
                d = entry / "leakscope"
            else:
                continue
            try:
                uid = os.lstat(d).st_uid
            except OSError:
                continue
            if d not in yielded:
                yielded.add(d)
                yield d, uid


def _socket_older_than_process(path: Path, pid: int) -> bool:
    """True when *path* predates the process now holding *pid* (PID reuse)."""
    fields = stat_fields(pid)
    if fields is None:
        return False
    try:
        ticks = int(fields[19])
        with open("/proc/stat", "rb") as fh:
            btime = next(int(line.split()[1]) for line in fh if line.startswith(b"btime"))
        started = btime + ticks / os.sysconf("SC_CLK_TCK")
        return os.lstat(path).st_mtime < started - 1.0
    except (OSError, ValueError, IndexError, StopIteration):
        return False


def is_zombie(pid: int) -> bool:
    """True when *pid* has exited but its parent has not reaped it yet (state Z or X)."""
    state = process_state(pid)
    return state is not None and state in "ZX"


def is_gone(pid: int) -> bool:
    """True when *pid* no longer runs: no such process, or a zombie."""
    return process_uid(pid) is None or is_zombie(pid)


def is_stale(sock: AgentSocket) -> bool:
    """True when the process the socket is named after is gone (or a zombie, or another
    process now)."""
    if is_gone(sock.pid):
        return True
    return _socket_older_than_process(sock.path, sock.pid)


def sweep(sock: AgentSocket) -> bool:
    """Remove a stale socket file; True if it was removed."""
    try:
        sock.path.unlink()
        return True
    except OSError:
        return False


@dataclass
class Scan:
    """What a look through the socket directories found: live agents, and the
    directories refused as unsafe (with the reason)."""

    sockets: list[AgentSocket] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def scan(all_users: bool = False, sweep_stale: bool = True) -> Scan:
    """Sockets of live agents (of this user, or of everyone when *all_users* and root).

    Stale sockets found on the way are removed when *sweep_stale*. A directory
    that holds sockets but is unsafe (wrong owner or mode) is not read; it is
    listed in ``refused`` so that callers can say so.
    """
    found: dict[int, AgentSocket] = {}
    result = Scan()
    for directory, uid in _scan_dirs(all_users):
        try:
            entries = list(directory.iterdir())
        except OSError:
            continue
        try:
            wire.check_directory(directory, uid)
        except wire.UnsafeDirectory as exc:
            if any(e.name.endswith(wire.SOCKET_SUFFIX) for e in entries):
                result.refused.append(str(exc))
            continue
        for entry in entries:
            stem = entry.name[: -len(wire.SOCKET_SUFFIX)]
            if not entry.name.endswith(wire.SOCKET_SUFFIX) or not stem.isdigit():
                continue
            if not _is_socket(entry):
                continue
            sock = AgentSocket(int(stem), entry, uid)
            if is_stale(sock):
                if sweep_stale:
                    sweep(sock)
                continue
            found.setdefault(sock.pid, sock)
    result.sockets = sorted(found.values(), key=lambda s: s.pid)
    return result
