"""Creation sites of live objects, from the standard library's ``tracemalloc``, for an interval.

``tracemalloc`` records where every allocation was made. It costs the host while it runs
(allocations are several times slower: see ``bench/bench_leaks.py``), so `start` turns it
on for one interval only, with a deadline kept by a daemon timer thread *in the target*:
tracing stops at the deadline even if the client that asked is gone, and the service
also stops it when that client's connection closes. A tracing the program started itself
is left alone (never stopped by us).

`sites` then says, for the live objects of some types, where those made while tracing was
on were made (``file:line`` of the first frame outside the standard library and leakscope,
and its function), most frequent first; objects made before tracing started, or already
freed, have no trace and are not counted.
"""

from __future__ import annotations

import gc
import sys
import threading
import tracemalloc
import types
from collections import Counter
from typing import Any

from leakscope.target.census.sizes import _GC_HEADER, _PRE_HEADER, _PRE_HEADER_FLAGS
from leakscope.target.registry.sites import _is_internal

#: Frames kept per allocation: enough to step out of a factory or two in a library, and
#: cheaper than more (see ``bench/bench_leaks.py``).
FRAMES = 4
#: Most objects of one type whose traceback is read.
MAX_OBJECTS = 200_000

_lock = threading.Lock()
_session: dict[str, Any] = {"token": 0, "ours": False, "timer": None}
_HAVE_GC = 1 << 14
_FLAGS = type.__dict__["__flags__"]


def start(seconds: float) -> dict[str, Any]:
    """Turn tracing on for at most ``seconds`` (unless it is on already). Returns a token."""
    with _lock:
        _cancel_timer()
        if tracemalloc.is_tracing() and not _session["ours"]:
            return {"tracing": True, "already": True, "token": 0}
        if not tracemalloc.is_tracing():
            tracemalloc.start(FRAMES)
        _session["token"] += 1
        _session["ours"] = True
        token = _session["token"]
        timer = threading.Timer(seconds, stop, args=(token,))
        timer.name = "leakscope-tracemalloc-deadline"
        timer.daemon = True
        timer.start()
        _session["timer"] = timer
        return {"tracing": True, "already": False, "token": token, "deadline_s": seconds}


def stop(token: int | None = None) -> bool:
    """Stop the tracing we started (``token``: only that session's). True if it stopped."""
    with _lock:
        if not _session["ours"] or (token is not None and token != _session["token"]):
            return False
        _cancel_timer()
        _session["ours"] = False
        try:
            tracemalloc.stop()
        except Exception:
            return False
        return True


def _cancel_timer() -> None:
    timer = _session.get("timer")
    _session["timer"] = None
    if timer is not None and timer is not threading.current_thread():
        timer.cancel()


def is_ours() -> bool:
    """Whether tracing is on because we turned it on."""
    return bool(_session["ours"]) and tracemalloc.is_tracing()


def sites(
    classes: list[type], limit: int = 10, most_types: int = 40
) -> dict[type, tuple[list[dict[str, Any]], int]]:
    """For each class: ([{"site", "function", "count"}], objects with a trace) over its live
    instances, in one pass over the GC's objects. No classes: every type with traced
    objects (the ``most_types`` with the most)."""
    every = not classes
    wanted = {cls for cls in classes if _FLAGS.__get__(cls) & _HAVE_GC}
    counts: dict[type, Counter[tuple[str, int]]] = {cls: Counter() for cls in wanted}
    traced: Counter[type] = Counter()
    seen: Counter[type] = Counter()
    raw: dict[type, bool] = {}
    if tracemalloc.is_tracing() and (wanted or every):
        for obj in gc.get_objects():
            cls = type(obj)
            if not every and cls not in wanted:
                continue
            seen[cls] += 1
            if seen[cls] > MAX_OBJECTS:
                continue
            direct = raw.get(cls)
            if direct is None:
                direct = raw[cls] = _RAW is not None and bool(
                    _FLAGS.__get__(cls) & _PRE_HEADER_FLAGS
                )
            frames = _traceback(obj, direct)
            if frames:
                traced[cls] += 1
                found = counts.get(cls)
                if found is None:
                    found = counts[cls] = Counter()
                found[_first_outside(frames)] += 1
    if every:
        classes = [cls for cls, _ in traced.most_common(most_types)]
    top = {cls: counts.get(cls, Counter()).most_common(limit) for cls in classes}
    codes = _codes_of({filename for rows in top.values() for (filename, _), _ in rows})
    out: dict[type, tuple[list[dict[str, Any]], int]] = {}
    for cls in classes:
        rows = [
            {
                "site": f"{filename}:{line}",
                "function": _function_at(codes, filename, line),
                "count": n,
            }
            for (filename, line), n in top[cls]
        ]
        out[cls] = (rows, traced.get(cls, 0))
    return out


def _codes_of(filenames: set[str]) -> dict[str, list[types.CodeType]]:
    """The code objects (functions and those nested in them) of these files, in one pass."""
    found: dict[str, list[types.CodeType]] = {name: [] for name in filenames}
    if not filenames:
        return found
    seen: set[int] = set()
    for obj in gc.get_objects():
        if type(obj) is types.FunctionType:
            code = obj.__code__
            if code.co_filename in found and id(code) not in seen:
                todo = [code]
                while todo:
                    one = todo.pop()
                    if id(one) in seen:
                        continue
                    seen.add(id(one))
                    found[code.co_filename].append(one)
                    todo.extend(c for c in one.co_consts if type(c) is types.CodeType)
    return found


def _traceback(obj: object, direct: bool) -> list[tuple[str, int]] | None:
    """(filename, line) frames of the allocation of ``obj``, most recent first, or None.

    ``direct``: ask at the allocation's real address. 3.11's get_object_traceback asks at
    the wrong one for objects with a pre-header (their dict and weakref pointers live
    before the GC header) and finds nothing."""
    if direct:
        found = _RAW(0, id(obj) - _GC_HEADER - _PRE_HEADER)
        return [(str(f), int(n)) for f, n in found] if found else None
    trace = tracemalloc.get_object_traceback(obj)
    if trace is None:
        return None
    # A Traceback runs from the oldest frame to the most recent one.
    return [(frame.filename, frame.lineno) for frame in reversed(trace)]


def _raw_lookup() -> Any:
    if sys.version_info >= (3, 12):
        return None
    try:
        import ctypes

        lookup = ctypes.pythonapi._PyTraceMalloc_GetTraceback
        lookup.restype = ctypes.py_object
        lookup.argtypes = (ctypes.c_uint, ctypes.c_size_t)
        return lookup
    except Exception:
        return None


_RAW = _raw_lookup()


def _first_outside(frames: list[tuple[str, int]]) -> tuple[str, int]:
    for filename, line in frames:  # most recent call first
        if not _is_internal(filename):
            return filename, line
    return frames[0] if frames else ("?", 0)


def _function_at(codes: dict[str, list[types.CodeType]], filename: str, line: int) -> str:
    """The innermost function of ``filename`` whose code holds ``line`` ("<module>" if none)."""
    best: tuple[int, str] | None = None
    for code in codes.get(filename, ()):
        if code.co_firstlineno > line or (best is not None and code.co_firstlineno < best[0]):
            continue
        if any(ln == line for _, _, ln in code.co_lines()):
            best = (code.co_firstlineno, code.co_qualname)
    return best[1] if best is not None else "<module>"
