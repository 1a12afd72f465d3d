"""Optional census engines: guppy3 (``hpy().heap()``) and Pympler (``muppy``), when installed.

They are imported only when asked for. Their answers take the same shape as
the built-in census. Both change or stall the target more than the built-in
engine: guppy3 creates the ``__dict__`` of every instance it meets on 3.11 and
3.12 and holds the GIL for the whole walk; muppy lists only objects the GC
tracks plus their direct referents.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from leakscope.target import Refused
from leakscope.target.census.kinds import kind_matches, type_module

_PARTITIONS = {"guppy": ("type", "via", "referrer", "module", "size"), "muppy": ("type",)}


def _rows(pairs: list[tuple[str, int, int]], limit: int) -> list[dict[str, Any]]:
    ordered = sorted(pairs, key=lambda p: (-p[2], -p[1], p[0]))
    return [{"kind": k, "count": c, "size": s} for k, c, s in ordered[:limit]]


def _answer(backend: str, partition: str, of: str | None, pairs: list, t0: float, limit: int):
    elapsed = time.perf_counter() - t0
    return {
        "partition": partition,
        "of": of,
        "total_count": sum(p[1] for p in pairs),
        "total_size": sum(p[2] for p in pairs),
        "elapsed_s": round(elapsed, 6),
        # Neither engine lets other threads run while it walks.
        "max_pause_s": round(elapsed, 6),
        "partial": False,
        "backend": backend,
        "rows": _rows(pairs, limit),
    }


def census(backend: str, partition: str, *, of: str | None, limit: int) -> dict[str, Any]:
    """Run ``backend`` ("guppy" or "muppy") for ``partition``; refused if not installed."""
    if partition not in _PARTITIONS[backend]:
        raise Refused(
            "bad-argument",
            f"backend {backend} supports partition {', '.join(_PARTITIONS[backend])} only",
        )
    if backend == "guppy":
        return _guppy(partition, of, limit)
    return _muppy(limit)


def _guppy(partition: str, of: str | None, limit: int) -> dict[str, Any]:
    try:
        from guppy import hpy  # type: ignore[import-not-found]
    except ImportError:
        raise Refused(
            "unavailable", "backend guppy needs guppy3 installed in the target: pip install guppy3"
        ) from None
    t0 = time.perf_counter()
    heap = hpy().heap()
    # guppy3's own bymodule sorts module objects from the rest; "module" here means the
    # module that defines each object's type, as in the built-in census: fold bytype.
    views: dict[str, Callable[[Any], Any]] = {
        "type": lambda h: h.bytype,
        "module": lambda h: h.bytype,
        "size": lambda h: h.bysize,
    }
    if partition in ("via", "referrer"):
        chosen = _guppy_of(heap.bytype, of or "")
        part = chosen.byvia if partition == "via" else chosen.byrcs
    else:
        part = views[partition](heap)
    pairs = []
    for index in range(len(part)):
        row = part[index]
        pairs.append((_guppy_kind(row), row.count, row.size))
        if partition == "module":
            cls = getattr(row.kind, "arg", None)
            module = type_module(cls) if isinstance(cls, type) else "?"
            pairs[-1] = (module, row.count, row.size)
    del part, heap
    if partition == "module":
        folded: dict[str, list[int]] = {}
        for module, count, size in pairs:
            total = folded.setdefault(module, [0, 0])
            total[0] += count
            total[1] += size
        pairs = [(module, count, size) for module, (count, size) in folded.items()]
    return _answer("guppy", partition, of, pairs, t0, limit)


def _guppy_kind(row: Any) -> str:
    # guppy3 wraps some kinds ("<via '.meta'>", "<referred by: list>"): keep what is inside.
    try:
        text = str(row.kind.brief)
    except Exception:
        try:
            text = str(row.kind)
        except Exception:
            return "?"
    for wrapper in ("<via ", "<referred by: "):
        if text.startswith(wrapper) and text.endswith(">"):
            return text[len(wrapper) : -1]
    return text


def _guppy_of(bytype: Any, of: str) -> Any:
    for index in range(len(bytype)):
        row = bytype[index]
        cls = getattr(row.kind, "arg", None)
        if isinstance(cls, type) and kind_matches(cls, of):
            return row
    raise Refused("unknown-class", f"no objects of type {of!r} in the heap")


def _muppy(limit: int) -> dict[str, Any]:
    try:
        from pympler import muppy, summary  # type: ignore[import-not-found]
    except ImportError:
        raise Refused(
            "unavailable",
            "backend muppy needs Pympler installed in the target: pip install pympler",
        ) from None
    t0 = time.perf_counter()
    objects = muppy.get_objects()
    rows = summary.summarize(objects)
    del objects
    pairs = [(str(name), int(count), int(size)) for name, count, size in rows]
    return _answer("muppy", "type", None, pairs, t0, limit)
