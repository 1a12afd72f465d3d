"""Snapshot files: one self-describing JSON document per process and moment.

A snapshot keeps what a later ``leakscope diff`` needs after the process is
gone: who and when (schema, leakscope version, time, pid, command line, Python
version, host), the live-ref rows (per class, and per owner and per site where
those were recorded), the memory figures, and with ``--heap`` a by-type
census. Its size grows with the number of classes and groups, not objects.

Format (``"schema": 1``)::

    {"leakscope_snapshot": 1, "leakscope_version": "0.1.0", "time": 1795679067.8,
     "pid": 4242, "argv": ["python", "app.py"], "python": "3.11.7", "host": "box",
     "prefs": {"rows": [{"class", "count", "oldest_age_s", "source"}]},
     "prefs_by": {"owner": {"rows": [... "group" ...]}, "site": {...}},
     "memory": {"verdict", "figures": {...}},
     "heap": {"partition": "type", "total_count", "total_size", "rows": [...]} | null}
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from leakscope import __version__
from leakscope.errors import ExitCode, LeakscopeError

SCHEMA = 1
MARKER = "leakscope_snapshot"


def take(pid: int | None, with_heap: bool, timeout: float, collect: bool = False) -> dict[str, Any]:
    """Take a snapshot of a live process through its agent."""
    from leakscope import client
    from leakscope.snapshot import HeapReport, MemoryReport, PrefsReport

    with client.connect(pid, timeout) as c:
        hello = c.hello
        prefs = PrefsReport.from_json(c.call("prefs", (), None))
        prefs_by: dict[str, Any] = {
            "owner": PrefsReport.from_json(c.call("prefs", (), "owner")).to_json()
        }
        if hello.get("sites"):  # the handshake says whether creation sites are on
            prefs_by["site"] = PrefsReport.from_json(c.call("prefs", (), "site")).to_json()
        mem = MemoryReport.from_json(c.call("memory", False)).to_json()
        mem.pop("samples", None)
        heap = None
        if with_heap:
            heap = HeapReport.from_json(
                c.call("heap", "type", None, 10_000, None, "builtin", collect)
            ).to_json()
    return {
        MARKER: SCHEMA,
        "leakscope_version": __version__,
        "time": time.time(),
        "pid": c.pid,
        "argv": hello.get("argv", []),
        "python": hello.get("python"),
        "host": socket.gethostname(),
        "collected": bool(collect and with_heap),
        "prefs": prefs.to_json(),
        "prefs_by": prefs_by,
        "memory": mem,
        "heap": heap,
    }


def write(data: dict[str, Any], path: str) -> None:
    """Write a snapshot atomically (a half-written file is never left behind)."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(data, separators=(",", ":")) + "\n")
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise LeakscopeError(
            ExitCode.USAGE, f"cannot write snapshot {path}: {exc.strerror}"
        ) from None


def read(path: str) -> dict[str, Any]:
    """Read and check a snapshot file; every defect is one clear error (BAD_SNAPSHOT)."""

    def bad(what: str) -> LeakscopeError:
        return LeakscopeError(ExitCode.BAD_SNAPSHOT, f"{path}: {what}")

    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise bad("no such file") from None
    except UnicodeDecodeError:
        raise bad("not a leakscope snapshot (not text)") from None
    except OSError as exc:
        raise bad(f"cannot read it ({exc.strerror})") from None
    if not text.strip():
        raise bad("empty file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()) - 1:
            raise bad("truncated JSON (the file ends early)") from None
        raise bad(f"not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict) or MARKER not in data:
        raise bad("not a leakscope snapshot (no 'leakscope_snapshot' key)")
    if data[MARKER] != SCHEMA:
        raise bad(
            f"snapshot schema {data[MARKER]!r} is not supported by leakscope {__version__} "
            f"(it reads schema {SCHEMA})"
        )
    prefs = data.get("prefs")
    if not isinstance(prefs, dict) or not isinstance(prefs.get("rows"), list):
        raise bad("snapshot has no prefs rows (damaged?)")
    return data
