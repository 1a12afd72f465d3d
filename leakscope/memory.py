"""The memory picture of this process, and whether its growth is a leak.

RSS can grow for three different reasons, and each needs a different fix:

* live Python objects pile up (a real leak: look at what grows);
* Python freed the objects but the allocator keeps the memory ("leaks without
  leaks"): pymalloc returns a 1 MiB arena to the system only when every block
  in it is free, so one survivor in fifty small dicts pins the whole arena;
  glibc keeps freed chunks of larger objects in its heap, and ``malloc_trim(0)``
  can give their pages back (it cannot help pymalloc's arenas);
* native code (C extensions, ctypes, numpy buffers) allocates outside Python's
  object allocators.

``memory_figures()`` gathers the numbers, ``verdict()`` tells the three apart,
``trim()`` asks glibc to return free pages. Everything runs inside the target,
returns plain data and never raises: a figure that cannot be had is ``None``.

How pymalloc's figures are read: CPython exports ``_PyObject_DebugMallocStats
(FILE *out)`` (the function behind ``sys._debugmallocstats()``), in 3.11 and
3.13 alike. We call it through ``ctypes.pythonapi`` (so it runs holding the GIL,
as it must) with a ``FILE *`` from libc's ``fmemopen`` over a private buffer,
and parse the text. Nothing touches file descriptor 2 or the C ``stderr``
variable, so the host's own stderr output can never be swallowed or mixed.
Reading ``_PyRuntime`` with ctypes would break with every layout change, and
``/proc/self/smaps`` cannot tell arenas apart (the kernel merges neighbouring
anonymous mappings) nor used from free blocks. Cost, measured on 2 cores:
about 1 ms with 700 MB in 3M small dicts (it walks arena and pool headers, not
blocks); the GIL is held for that time.

Other costs: ``sys.getallocatedblocks()`` walks the same headers (about 1.5 ms
at 3M objects); USS/swap come from psutil's ``/proc/self/smaps_rollup`` read,
which walks the page tables (about 16 ms at 700 MB, GIL released);
``mallinfo2`` takes each glibc arena lock and walks the free lists.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import sys
import threading
import tracemalloc
from typing import Any

_MIB = 1024 * 1024

# Mean size of a block too large for pymalloc, measured with tracemalloc in a
# process that imported Scrapy and Twisted (7,457 blocks, mean 1.17 KiB).
_TYPICAL_LARGE_BLOCK = 1024
# When judging growth, a new large block may stand for up to this much of the
# growth of glibc's heap (list arrays, big bytes/str such as response bodies).
_GROWTH_PER_LARGE_BLOCK = 64 * 1024

# Below these, growth or held memory is noise for a Python process.
_GROWTH_FLOOR = 4 * _MIB
_GROWTH_SHARE = 0.10
_HELD_FLOOR = 16 * _MIB
_HELD_SHARE = 0.30
_TRIM_FLOOR = 16 * _MIB
_TRIM_SHARE = 0.10

_STATS_BUFFER = 1 << 16  # the stats text is about 3 KB

_libc_lock = threading.Lock()
_libc: Any = None
_libc_tried = False


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


class _MallInfo(ctypes.Structure):
    # The pre-2.33 struct has int fields that wrap at 4 GiB; read them unsigned.
    _fields_ = [(field[0], ctypes.c_uint) for field in _MallInfo2._fields_]


def _load_libc() -> Any:
    """The C library of this process, with the few functions we call typed, or None."""
    global _libc, _libc_tried
    if _libc_tried:  # once loaded, no lock: readers never wait on one
        return _libc
    with _libc_lock:
        if _libc_tried:
            return _libc
        try:
            libc = ctypes.CDLL(None)
            if hasattr(libc, "mallinfo2"):
                libc.mallinfo2.restype = _MallInfo2
                libc.mallinfo2.argtypes = []
            elif hasattr(libc, "mallinfo"):
                libc.mallinfo.restype = _MallInfo
                libc.mallinfo.argtypes = []
            if hasattr(libc, "malloc_trim"):
                libc.malloc_trim.restype = ctypes.c_int
                libc.malloc_trim.argtypes = [ctypes.c_size_t]
            if hasattr(libc, "fmemopen"):
                libc.fmemopen.restype = ctypes.c_void_p
                libc.fmemopen.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
                libc.fflush.restype = ctypes.c_int
                libc.fflush.argtypes = [ctypes.c_void_p]
                libc.ftell.restype = ctypes.c_long
                libc.ftell.argtypes = [ctypes.c_void_p]
                libc.fclose.restype = ctypes.c_int
                libc.fclose.argtypes = [ctypes.c_void_p]
            _libc = libc
        except Exception:
            _libc = None
        _libc_tried = True
        return _libc


# -- process figures ----------------------------------------------------------


def _statm() -> tuple[int, int] | None:
    """(rss, file-backed resident) in bytes from /proc/self/statm, or None."""
    try:
        with open("/proc/self/statm", "rb") as f:
            fields = f.read().split()
        page = os.sysconf("SC_PAGE_SIZE")
        return int(fields[1]) * page, int(fields[2]) * page
    except Exception:
        return None


def _rss_and_anon() -> tuple[int | None, int | None]:
    """Resident bytes, and the anonymous (heap-like) part of them when known."""
    statm = _statm()
    if statm is not None:
        rss, shared = statm
        return rss, max(0, rss - shared)
    try:
        import psutil

        return int(psutil.Process().memory_info().rss), None
    except Exception:
        return None, None


def _uss_and_swap() -> tuple[int | None, int | None]:
    try:
        import psutil

        full = psutil.Process().memory_full_info()
    except Exception:
        return None, None
    uss = getattr(full, "uss", None)
    swap = getattr(full, "swap", None)
    return (
        int(uss) if uss is not None else None,
        int(swap) if swap is not None else None,
    )


# -- pymalloc -----------------------------------------------------------------

_STAT_LINE = re.compile(r"^(.*?)\s*=\s*([\d,]+)\s*$")
_ARENAS_LINE = re.compile(r"^(\d+) arenas \* (\d+) bytes/arena")
_CLASS_ROW = re.compile(r"^\s*\d+\s+\d+\s+\d+\s+(\d+)\s+\d+\s*$")


def _pymalloc_text() -> str | None:
    """The text of ``_PyObject_DebugMallocStats``, written to memory, or None."""
    libc = _load_libc()
    if libc is None or not hasattr(libc, "fmemopen"):
        return None
    try:
        stats = ctypes.pythonapi._PyObject_DebugMallocStats
    except AttributeError:
        return None
    stats.restype = ctypes.c_int
    stats.argtypes = [ctypes.c_void_p]
    buf = ctypes.create_string_buffer(_STATS_BUFFER)
    fp = libc.fmemopen(buf, _STATS_BUFFER, b"w")
    if not fp:
        return None
    try:
        in_use = stats(fp)  # 0 when pymalloc is not the object allocator
        libc.fflush(fp)
        size = libc.ftell(fp)
    finally:
        libc.fclose(fp)
    if not in_use or size <= 0:
        return None
    return buf.raw[: min(size, _STATS_BUFFER)].decode("ascii", "replace")


def _parse_pymalloc(text: str) -> dict[str, Any] | None:
    """Arena, block and byte figures from the pymalloc stats text, or None."""
    values: dict[str, int] = {}
    blocks_in_use = 0
    arena_size = None
    for line in text.splitlines():
        row = _CLASS_ROW.match(line)
        if row:
            blocks_in_use += int(row.group(1))
            continue
        arenas = _ARENAS_LINE.match(line)
        if arenas:
            arena_size = int(arenas.group(2))
            continue
        stat = _STAT_LINE.match(line)
        if stat:
            values.setdefault(stat.group(1).strip(), int(stat.group(2).replace(",", "")))
    try:
        current = values["# arenas allocated current"]
        used = values["# bytes in allocated blocks"]
    except KeyError:
        return None
    if arena_size is None:
        return None
    arena_bytes = current * arena_size
    return {
        "arenas_total": values.get("# arenas allocated total"),
        "arenas_reclaimed": values.get("# arenas reclaimed"),
        "arenas_highwater": values.get("# arenas highwater mark"),
        "arenas_in_use": current,
        "arena_size": arena_size,
        "arena_bytes": arena_bytes,
        "used_bytes": used,
        "free_bytes_in_arenas": max(0, arena_bytes - used),
        "utilisation": round(used / arena_bytes, 4) if arena_bytes else 0.0,
        "blocks_in_use": blocks_in_use,
    }


def pymalloc_figures() -> dict[str, Any] | None:
    """pymalloc's arenas: how many, how full; None when pymalloc is not in use."""
    try:
        text = _pymalloc_text()
        return _parse_pymalloc(text) if text else None
    except Exception:
        return None


# -- glibc malloc -------------------------------------------------------------


def malloc_figures() -> dict[str, int] | None:
    """glibc's heap (mallinfo2): bytes in use, free but held, mmapped; None elsewhere."""
    libc = _load_libc()
    if libc is None:
        return None
    try:
        if hasattr(libc, "mallinfo2"):
            info: Any = libc.mallinfo2()
        elif hasattr(libc, "mallinfo"):
            info = libc.mallinfo()
        else:
            return None
        return {
            "arena": int(info.arena),
            "in_use": int(info.uordblks),
            "free_held": int(info.fordblks),
            "top_releasable": int(info.keepcost),
            "mmap": int(info.hblkhd),
        }
    except Exception:
        return None


def _releasable(malloc: dict[str, int], anon: int | None, pymalloc: dict[str, Any] | None) -> int:
    """Free glibc bytes that are probably still resident (what malloc_trim can return).

    glibc still counts chunks as free after malloc_trim gave their pages back,
    so free_held alone would call for a trim forever; cap it by the anonymous
    resident memory not explained by pymalloc arenas and glibc's used bytes.
    """
    free = malloc["free_held"]
    if anon is None:
        return free
    arenas = pymalloc["arena_bytes"] if pymalloc else 0
    unexplained = anon - arenas - malloc["in_use"] - malloc["mmap"]
    return max(0, min(free, unexplained))


# -- the figures --------------------------------------------------------------


def _python_objects_bytes(
    blocks: int | None,
    pymalloc: dict[str, Any] | None,
    malloc: dict[str, int] | None,
    census_bytes: int | None,
) -> tuple[int | None, str | None]:
    if census_bytes is not None:
        return census_bytes, "census"
    if tracemalloc.is_tracing():
        return tracemalloc.get_traced_memory()[0], "tracemalloc"
    if pymalloc is None or blocks is None:
        return None, None
    large = max(0, blocks - pymalloc["blocks_in_use"])
    large_bytes = large * _TYPICAL_LARGE_BLOCK
    if malloc is not None:
        large_bytes = min(large_bytes, malloc["in_use"] + malloc["mmap"])
    return (
        pymalloc["used_bytes"] + large_bytes,
        f"estimate: pymalloc bytes in use + {large:,} larger blocks x ~1 KiB",
    )


def memory_figures(census_bytes: int | None = None) -> dict[str, Any]:
    """The process and allocator figures, in bytes; None for what cannot be had.

    ``census_bytes``, when a heap census has just summed object sizes, replaces
    the estimate of the bytes held by Python objects.
    """
    out: dict[str, Any] = {
        "rss": None,
        "uss": None,
        "swap": None,
        "allocated_blocks": None,
        "tracemalloc": None,
        "pymalloc": None,
        "malloc": None,
        "python_objects_bytes": None,
        "python_objects_source": None,
    }
    try:
        rss, anon = _rss_and_anon()
        out["rss"] = rss
        out["uss"], out["swap"] = _uss_and_swap()
        with contextlib.suppress(Exception):
            out["allocated_blocks"] = sys.getallocatedblocks()
        if tracemalloc.is_tracing():
            current, peak = tracemalloc.get_traced_memory()
            out["tracemalloc"] = {"current": current, "peak": peak}
        pymalloc = pymalloc_figures()
        out["pymalloc"] = pymalloc
        malloc = malloc_figures()
        if malloc is not None:
            malloc["releasable"] = _releasable(malloc, anon, pymalloc)
        out["malloc"] = malloc
        out["python_objects_bytes"], out["python_objects_source"] = _python_objects_bytes(
            out["allocated_blocks"], pymalloc, malloc, census_bytes
        )
    except Exception:
        pass
    return out


def memory_summary(figures: dict[str, Any]) -> dict[str, Any]:
    """A flat, small form of ``memory_figures()`` for keeping many samples."""
    pymalloc = figures.get("pymalloc") or {}
    malloc = figures.get("malloc") or {}
    traced = figures.get("tracemalloc") or {}
    return {
        "rss": figures.get("rss"),
        "uss": figures.get("uss"),
        "allocated_blocks": figures.get("allocated_blocks"),
        "python_objects_bytes": figures.get("python_objects_bytes"),
        "traced_bytes": traced.get("current"),
        "pymalloc_used": pymalloc.get("used_bytes"),
        "pymalloc_free": pymalloc.get("free_bytes_in_arenas"),
        "pymalloc_blocks": pymalloc.get("blocks_in_use"),
        "malloc_in_use": malloc.get("in_use"),
        "malloc_mmap": malloc.get("mmap"),
        "malloc_free_held": malloc.get("free_held"),
        "malloc_releasable": malloc.get("releasable"),
    }


def trim() -> dict[str, Any]:
    """Ask glibc to give free heap pages back (``malloc_trim(0)``); RSS before and after.

    It cannot return pymalloc arenas: those go back only when wholly empty.
    glibc holds its arena locks while it walks the heap; the GIL is released.
    """
    out: dict[str, Any] = {"rss_before": None, "rss_after": None, "trimmed": False}
    out["supported"] = False
    try:
        out["rss_before"] = _rss_and_anon()[0]
        libc = _load_libc()
        if libc is None or not hasattr(libc, "malloc_trim"):
            return out
        out["supported"] = True
        out["trimmed"] = bool(libc.malloc_trim(0))
        out["rss_after"] = _rss_and_anon()[0]
    except Exception:
        pass
    return out


# -- the verdict --------------------------------------------------------------


def _num(value: Any) -> float | None:
    if type(value) in (int, float):
        return float(value)
    return None


def _point(d: dict[str, Any]) -> dict[str, float | None]:
    """The figures the verdict needs, from ``memory_figures()`` or a flat summary/sample."""
    pymalloc = d.get("pymalloc") if isinstance(d.get("pymalloc"), dict) else None
    malloc = d.get("malloc") if isinstance(d.get("malloc"), dict) else None
    traced = d.get("tracemalloc") if isinstance(d.get("tracemalloc"), dict) else None

    def pick(nested: dict | None, key: str, flat: str) -> float | None:
        return _num(nested.get(key)) if nested is not None else _num(d.get(flat))

    census = d.get("python_objects_source") == "census"
    return {
        "t": _num(d.get("t")),
        "rss": _num(d.get("rss")),
        "blocks": _num(d.get("allocated_blocks")),
        "py": _num(d.get("python_objects_bytes")),
        "census": _num(d.get("python_objects_bytes")) if census else None,
        "traced": pick(traced, "current", "traced_bytes"),
        "pm_used": pick(pymalloc, "used_bytes", "pymalloc_used"),
        "pm_free": pick(pymalloc, "free_bytes_in_arenas", "pymalloc_free"),
        "pm_blocks": pick(pymalloc, "blocks_in_use", "pymalloc_blocks"),
        "m_in_use": pick(malloc, "in_use", "malloc_in_use"),
        "m_mmap": pick(malloc, "mmap", "malloc_mmap"),
        "m_free": pick(malloc, "free_held", "malloc_free_held"),
        "m_releasable": pick(malloc, "releasable", "malloc_releasable"),
    }


def _known(*values: float | None) -> bool:
    return all(v is not None for v in values)


def _python_growth(base: dict[str, float | None], now: dict[str, float | None]) -> float | None:
    """Bytes by which live Python objects grew between two points, best source first."""
    for key in ("traced", "census"):
        b, n = base[key], now[key]
        if b is not None and n is not None:
            return n - b
    parts = ("pm_used", "pm_blocks", "blocks", "m_in_use", "m_mmap")
    before = [base[k] for k in parts]
    after = [now[k] for k in parts]
    if _known(*before, *after):
        b_used, b_pm_blocks, b_blocks, b_in_use, b_mmap = (float(v or 0) for v in before)
        n_used, n_pm_blocks, n_blocks, n_in_use, n_mmap = (float(v or 0) for v in after)
        small = n_used - b_used
        # Blocks too big for pymalloc go to glibc; their sizes are unknown here.
        large = (n_blocks - n_pm_blocks) - (b_blocks - b_pm_blocks)
        heap = (n_in_use + n_mmap) - (b_in_use + b_mmap)
        return small + min(max(large, 0.0) * _GROWTH_PER_LARGE_BLOCK, max(heap, 0.0))
    if base["py"] is not None and now["py"] is not None:
        return now["py"] - base["py"]
    py, blocks, base_blocks = now["py"], now["blocks"], base["blocks"]
    if py is not None and blocks and base_blocks is not None:
        return (blocks - base_blocks) * py / blocks
    return None


def _held(p: dict[str, float | None]) -> float | None:
    if p["pm_free"] is None and p["m_releasable"] is None:
        return None
    return (p["pm_free"] or 0.0) + (p["m_releasable"] or 0.0)


def _mib(n: float | None) -> str:
    return "?" if n is None else f"{n / _MIB:,.1f} MiB"


def _held_words(p: dict[str, float | None]) -> str:
    return (
        f"{_mib(p['pm_free'])} free in pymalloc arenas, "
        f"{_mib(p['m_releasable'])} free in glibc's heap"
    )


def _trim_words(trim_may_help: bool, p: dict[str, float | None]) -> str:
    if trim_may_help:
        return " malloc_trim(0) can give glibc's free pages back to the system."
    if (p["pm_free"] or 0.0) >= (p["m_releasable"] or 0.0):
        return " malloc_trim would not help: pymalloc returns an arena only when it is empty."
    return " malloc_trim would give back little."


def verdict(samples: list[dict[str, Any]], now: dict[str, Any]) -> dict[str, Any]:
    """Is memory growth live objects, allocator-held free memory, native code, or none?

    ``samples`` are earlier ``memory_figures()`` results or history samples (the
    earliest one is the baseline); ``now`` is a fresh ``memory_figures()``.
    """
    try:
        return _verdict(samples, now)
    except Exception as exc:  # the host must never see this
        return {
            "verdict": "no-growth",
            "reason": f"could not judge the figures ({type(exc).__name__})",
            "trim_may_help": False,
        }


def _verdict(samples: list[dict[str, Any]], now_figures: dict[str, Any]) -> dict[str, Any]:
    now = _point(now_figures)
    rss = now["rss"]
    if rss is None:
        return {"verdict": "no-growth", "reason": "RSS is unknown here", "trim_may_help": False}
    releasable = now["m_releasable"] or 0.0
    trim_may_help = releasable >= max(_TRIM_FLOOR, _TRIM_SHARE * rss)
    held = _held(now) or 0.0
    mostly_held = held >= max(_HELD_FLOOR, _HELD_SHARE * rss)

    points = [_point(s) for s in samples if isinstance(s, dict)]
    points = [p for p in points if p["rss"] is not None]
    points.sort(key=lambda p: p["t"] if p["t"] is not None else float("-inf"))
    base = points[0] if points else None

    def result(kind: str, reason: str) -> dict[str, Any]:
        if kind == "allocator-held":
            reason += _trim_words(trim_may_help, now)
        return {"verdict": kind, "reason": reason, "trim_may_help": trim_may_help}

    base_rss = base["rss"] if base is not None else None
    if base is None or base_rss is None:
        since = "no earlier sample to compare"
    elif rss - base_rss < max(_GROWTH_FLOOR, _GROWTH_SHARE * base_rss):
        floor = max(_GROWTH_FLOOR, _GROWTH_SHARE * base_rss)
        since = f"RSS {_mib(base_rss)} -> {_mib(rss)}, less than {_mib(floor)} of growth"
    else:
        since = ""
    if since:
        if mostly_held:
            return result(
                "allocator-held",
                f"{since}; RSS {_mib(rss)} of which {_mib(held)} is memory Python freed "
                f"but the allocators keep ({_held_words(now)}); live Python objects "
                f"take about {_mib(now['py'])}.",
            )
        return result("no-growth", f"{since}; RSS {_mib(rss)}, allocators hold {_mib(held)} free.")

    assert base is not None and base_rss is not None
    d_rss = rss - base_rss
    d_py = _python_growth(base, now)
    base_held = _held(base)
    d_held = held - base_held if base_held is not None else held
    d_native = d_rss - max(d_py or 0.0, 0.0) - max(d_held, 0.0)
    span = ""
    if base["t"] is not None and now["t"] is not None:
        span = f" over {now['t'] - base['t']:,.0f} s"
    figures = (
        f"RSS grew {_mib(d_rss)}{span} ({_mib(base['rss'])} -> {_mib(rss)}): live Python "
        f"objects {_mib(d_py)}, free memory kept by allocators {_mib(d_held)} "
        f"({_held_words(now)}), the rest {_mib(d_native)}."
    )
    shares = {"live-objects": d_py or 0.0, "allocator-held": d_held, "native": d_native}
    kind = max(shares, key=lambda k: shares[k])
    if d_py is None and kind == "native":
        # Without pymalloc (PYTHONMALLOC=malloc) objects and native code share
        # glibc's heap; the census can tell them apart, these figures cannot.
        return result(
            "live-objects",
            figures + " Python's allocator figures are not available here, so live objects"
            " and native memory cannot be told apart: a heap census can.",
        )
    advice = {
        "live-objects": " Live objects grow: see which classes and types grow.",
        "allocator-held": " Python freed these objects, but the allocators keep the memory.",
        "native": " Growth is outside Python's object allocators: C extensions, ctypes,"
        " native libraries, numpy-like buffers.",
    }[kind]
    return result(kind, figures + advice)
