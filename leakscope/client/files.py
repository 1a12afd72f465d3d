"""Files leakscope writes and reads: snapshot files, and writing any output safely.

A snapshot keeps what a later ``leakscope diff`` needs after the process is
gone: who and when (schema, leakscope version, time, pid, command line, Python
version, host), the live-ref rows (per class, and per owner and per site where
those were recorded), the memory picture and, with ``--heap``, a by-type
census. Its size grows with the number of classes and groups, not objects.

Format (``"leakscope_snapshot": 1``, the schema)::

    {"leakscope_snapshot": 1, "leakscope_version": "0.1.0", "time": 1795679067.8,
     "pid": 4242, "argv": ["python", "app.py"], "python": "3.11.7", "host": "box",
     "collected": false,
     "prefs": {"rows": [{"class", "count", "oldest_age_s", "source"}]},
     "prefs_by": {"owner": {"rows": [... "group" ...]}, "site": {...}},
     "memory": {"verdict", "reason", "figures": {...}},
     "heap": {"partition": "type", "total_count", "total_size", "rows": [...]} | null}

`write_output` writes as a shell redirection would, never replacing what it
did not create: ``-`` is standard output; a symlink is followed (the file it
points to is updated, the link stays); a FIFO or a device is written into; a
regular file (or a new one) is written to a temporary file beside it and
renamed over it, so a half-written file is never left behind. Every failure
(a full disk, a directory the user cannot write) is one `LeakscopeError`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import stat
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from leakscope import wire
from leakscope.client.api import Client
from leakscope.client.errors import ExitCode, LeakscopeError
from leakscope.client.reports import (
    HeapReport,
    MalformedReport,
    MemoryFigures,
    MemoryReport,
    PrefsReport,
    Snapshot,
    Verdict,
)

SCHEMA = 1
MARKER = "leakscope_snapshot"
#: The rows a snapshot's census keeps (all types, in practice).
HEAP_ROWS = 10_000


def take(client: Client, with_heap: bool, collect: bool = False) -> Snapshot:
    """Take a snapshot of a live process through its agent."""
    hello = client.hello
    prefs_by = {"owner": client.prefs(group_by="owner")}
    if hello.sites:  # the handshake says whether creation sites are on
        prefs_by["site"] = client.prefs(group_by="site")
    return Snapshot(
        pid=client.pid,
        time=time.time(),
        host=socket.gethostname(),
        version=wire.VERSION,
        argv=hello.argv,
        python=hello.python,
        prefs=client.prefs(),
        prefs_by=prefs_by,
        memory=client.memory(),
        heap=client.heap("type", limit=HEAP_ROWS, collect=collect) if with_heap else None,
        collected=collect and with_heap,
    )


def to_json(snap: Snapshot) -> dict[str, Any]:
    """The snapshot file's document."""
    memory = None
    if snap.memory is not None:
        memory = {**snap.memory.verdict.to_json(), "figures": snap.memory.figures.to_json()}
    return {
        MARKER: SCHEMA,
        "leakscope_version": snap.version,
        "time": snap.time,
        "pid": snap.pid,
        "argv": list(snap.argv),
        "python": snap.python,
        "host": snap.host,
        "collected": snap.collected,
        "prefs": snap.prefs.to_json(),
        "prefs_by": {k: v.to_json() for k, v in snap.prefs_by.items()},
        "memory": memory,
        "heap": snap.heap.to_json() if snap.heap is not None else None,
    }


def from_json(data: Mapping[str, Any]) -> Snapshot:
    """A snapshot from its file's document (`MalformedReport` for a damaged one)."""
    pid, when = data.get("pid"), data.get("time")
    if type(pid) is not int or not isinstance(when, (int, float)) or type(when) is bool:
        raise MalformedReport("no pid and time")
    prefs = data.get("prefs")
    if not isinstance(prefs, Mapping) or not isinstance(prefs.get("rows"), list):
        raise MalformedReport("no prefs rows")
    prefs_by = data.get("prefs_by") or {}
    if not isinstance(prefs_by, Mapping):
        raise MalformedReport("prefs_by is not an object")
    memory = data.get("memory")
    heap = data.get("heap")
    return Snapshot(
        pid=pid,
        time=float(when),
        host=str(data.get("host", "")),
        version=str(data.get("leakscope_version", "?")),
        argv=tuple(str(a) for a in data.get("argv") or ()),
        python=None if data.get("python") is None else str(data.get("python")),
        prefs=PrefsReport.from_json({"pid": pid, "time": when, **prefs}),
        prefs_by={
            str(k): PrefsReport.from_json({"pid": pid, "time": when, "group_by": k, **v})
            for k, v in prefs_by.items()
            if isinstance(v, Mapping)
        },
        memory=_memory(pid, memory) if isinstance(memory, Mapping) else None,
        heap=HeapReport.from_json({"pid": pid, **heap}) if isinstance(heap, Mapping) else None,
        collected=bool(data.get("collected", False)),
    )


def _memory(pid: int, data: Mapping[str, Any]) -> MemoryReport:
    verdict = Verdict.from_json(data) if "verdict" in data else Verdict("no-growth", "")
    figures = data.get("figures", {})
    if not isinstance(figures, Mapping):
        raise MalformedReport("memory figures are not an object")
    return MemoryReport(pid=pid, figures=MemoryFigures.from_json(figures), verdict=verdict)


def read(path: str) -> Snapshot:
    """Read and check a snapshot file; every defect is one clear error (BAD_SNAPSHOT)."""
    data = read_json(path, MARKER, SCHEMA, "snapshot")
    try:
        return from_json(data)
    except MalformedReport as exc:
        raise LeakscopeError(ExitCode.BAD_SNAPSHOT, f"{path}: damaged snapshot ({exc})") from None


def read_json(path: str, marker: str, schema: int, what: str) -> Mapping[str, Any]:
    """A JSON document of ours: its marker key holds *schema*. Defects are BAD_SNAPSHOT."""

    def bad(defect: str) -> LeakscopeError:
        return LeakscopeError(ExitCode.BAD_SNAPSHOT, f"{path}: {defect}")

    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise bad("no such file") from None
    except IsADirectoryError:
        raise bad("is a directory, not a file") from None
    except UnicodeDecodeError:
        raise bad(f"not a leakscope {what} (not text)") from None
    except OSError as exc:
        raise bad(f"cannot read it ({exc.strerror})") from None
    if not text.strip():
        raise bad("empty file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if _cut_off(text, exc):
            raise bad("truncated JSON (the file ends early)") from None
        raise bad(f"not JSON ({exc.msg}, line {exc.lineno} column {exc.colno})") from None
    if not isinstance(data, dict) or marker not in data:
        raise bad(f"not a leakscope {what} (no {marker!r} key)")
    found = data[marker]
    if type(found) is not int:
        raise bad(f"not a leakscope {what} ({marker!r} is {found!r:.20}, not a schema number)")
    if found != schema:
        raise bad(
            f"{what} schema {found} is not supported by leakscope {wire.VERSION} "
            f"(it reads schema {schema})"
        )
    return data


_PARTIAL_NUMBER = re.compile(r"-?[0-9]*\.?[0-9]*(?:[eE][-+]?[0-9]*)?\Z")
_PARTIAL_ESCAPE = re.compile(r"\\?u[0-9a-fA-F]{0,4}\Z")


def _cut_off(text: str, error: json.JSONDecodeError) -> bool:
    """True when *text* is valid JSON cut short: it ends inside a string, a number, a
    literal or an escape, or where a value, a comma or a closing bracket should come."""
    if error.msg.startswith("Unterminated string"):
        return True
    rest = text[error.pos :].strip()
    if error.msg.startswith("Invalid \\uXXXX"):
        return bool(_PARTIAL_ESCAPE.match(rest))
    literal = any(word.startswith(rest) for word in ("true", "false", "null"))
    return not rest or literal or bool(_PARTIAL_NUMBER.match(rest))


def write_snapshot(snap: Snapshot, path: str) -> None:
    """Write a snapshot file (see `write_output`)."""
    write_output(path, json.dumps(to_json(snap), separators=(",", ":")) + "\n", "snapshot")


# -- writing any output -------------------------------------------------------------------


def check_output_path(path: str, what: str) -> None:
    """Refuse, before any work, an output path that cannot be written: an empty name or a
    directory (USAGE), a directory that does not exist (CANNOT_WRITE)."""
    if path == "-":
        return
    if not path:
        raise LeakscopeError(ExitCode.USAGE, f"the {what} file name is empty")
    target = Path(path)
    if target.is_dir():
        raise LeakscopeError(ExitCode.USAGE, f"{path} is a directory; name a file for the {what}")
    parent = Path(os.path.realpath(target)).parent
    if not parent.is_dir():
        raise LeakscopeError(
            ExitCode.CANNOT_WRITE,
            f"cannot write the {what} {path}: directory {parent} does not exist",
        )


def write_output(path: str, content: str | bytes, what: str, mode: int = 0o644) -> None:
    """Write *content* to *path* as a shell redirection would (see the module docstring).

    *mode*: of a new file (under the umask); a file written over keeps its own, less what
    *mode* does not allow. Heap dumps pass 0o600: they hold the beginnings of the process's
    strings."""
    data = content.encode() if isinstance(content, str) else content
    if path == "-":
        _write_stream(data, what)
        return
    check_output_path(path, what)
    real = os.path.realpath(path)  # a symlink is followed: the link itself stays
    try:
        info: os.stat_result | None = os.stat(real)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise _cannot_write(path, what, exc) from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        _write_in_place(real, data, path, what)  # a FIFO, a device: write into it
        return
    _write_by_rename(real, data, info, path, what, mode)


def _cannot_write(path: str, what: str, exc: OSError) -> LeakscopeError:
    return LeakscopeError(
        ExitCode.CANNOT_WRITE, f"cannot write the {what} {path}: {exc.strerror or exc}"
    )


def _write_stream(data: bytes, what: str) -> None:
    try:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise _cannot_write("-", what, exc) from None


def _write_in_place(real: str, data: bytes, path: str, what: str) -> None:
    try:
        fd = os.open(real, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise _cannot_write(path, what, exc) from None
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except OSError as exc:
        raise _cannot_write(path, what, exc) from None
    finally:
        os.close(fd)


def _write_by_rename(
    real: str,
    data: bytes,
    info: os.stat_result | None,
    path: str,
    what: str,
    mode: int = 0o644,
) -> None:
    directory, name = os.path.split(real)
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    except OSError as exc:
        raise _cannot_write(path, what, exc) from None
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
            if info is not None:
                # The file written over keeps its mode, but no more open than *mode*
                # allows (a dump over a 0644 file stays its owner's alone).
                os.fchmod(fd, stat.S_IMODE(info.st_mode) & (mode | 0o7000))
        finally:
            os.close(fd)
        os.replace(tmp, real)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise _cannot_write(path, what, exc) from None
