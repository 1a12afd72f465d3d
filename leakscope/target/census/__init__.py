"""Heap census: what the heap is made of, and what keeps one object alive.

Runs inside the target (the agent thread calls it) and returns plain data.

>>> census("type", limit=3)["rows"]            # doctest: +SKIP
[{'kind': 'dict', 'count': 402087, 'size': 56698200},
 {'kind': 'str', 'count': 613859, 'size': 34080237},
 {'kind': 'int', 'count': 600700, 'size': 16824144}]
>>> census("via", of="dict", limit=2)["rows"]  # doctest: +SKIP
[{'kind': '.meta', 'count': 10000, 'size': 1840000}, {'kind': '[*]', ...}]

The built-in engine counts every object the interpreter holds, tracked by the
GC or not (see `walk`), sizes them as guppy3 does (see `sizes`), and names
types as guppy3 does (see `kinds`). It gives the GIL away every few
milliseconds and reports the longest stretch it held it (``max_pause_s``).
The ``guppy`` and ``muppy`` backends run guppy3 or Pympler instead, when the
target has them installed (see `backends`).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

from leakscope.target.census import partitions
from leakscope.target.census.kinds import resolve_type, type_kind
from leakscope.target.census.path import retention_path
from leakscope.target.census.sizes import Sizer
from leakscope.target.census.walk import HeapWalk, Pacer
from leakscope.wire import BACKENDS, PARTITIONS

__all__ = ["census", "retention_path"]


def census(
    partition: str = "type",
    *,
    of: str | None = None,
    limit: int = 50,
    max_objects: int | None = None,
    backend: str = "builtin",
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Partition the heap; rows sorted by size, cut to ``limit`` (totals cover all).

    ``partition``: "type", "module", "size", or "via" / "referrer" with ``of``
    naming a type ("dict", "Request", "myapp.Request"). Raises ValueError for
    a bad partition, backend or type name.
    """
    if partition not in PARTITIONS:
        raise ValueError(f"unknown partition {partition!r}; choose one of {', '.join(PARTITIONS)}")
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if partition in ("via", "referrer") and not of:
        raise ValueError(f"partition {partition!r} needs of=<type name>")
    if type(limit) is not int or limit < 1:
        raise ValueError("limit must be a positive int")
    if max_objects is not None and (type(max_objects) is not int or max_objects < 1):
        raise ValueError("max_objects must be a positive int or None")
    if backend != "builtin":
        from leakscope.target.census.backends import census as other_census

        return other_census(backend, partition, of=of, limit=limit)
    target = resolve_type(of) if of is not None and partition in ("via", "referrer") else None
    # The snapshot comes before anything the census creates: its own objects stay out.
    started = time.perf_counter()
    tracked = gc.get_objects()
    pacer = Pacer(started=started)
    walk = HeapWalk(
        tracked,
        max_objects=max_objects,
        progress=progress,
        pacer=pacer,
        untracked=target is None or _may_be_untracked(target),
    )
    del tracked
    sizer = Sizer()
    if partition == "type":
        tally, count, size = partitions.by_type(walk, sizer)
    elif partition == "module":
        tally, count, size = partitions.by_module(walk, sizer)
    elif partition == "size":
        tally, count, size = partitions.by_size(walk, sizer)
    else:
        assert target is not None
        tally, count, size = partitions.by_edges(walk, sizer, target, partition == "referrer")
    walk.tracked = []
    elapsed, pause = pacer.finish()
    ordered = sorted(tally.items(), key=lambda item: (-item[1][1], -item[1][0], item[0]))
    rows = [{"kind": kind, "count": c, "size": s} for kind, (c, s) in ordered[:limit]]
    return {
        "partition": partition,
        "of": type_kind(target) if target is not None else of,
        "total_count": count,
        "total_size": size,
        "elapsed_s": round(elapsed, 6),
        "max_pause_s": round(pause, 6),
        "partial": walk.partial,
        "backend": "builtin",
        "rows": rows,
    }


def _may_be_untracked(cls: type) -> bool:
    """False for types whose instances the GC always tracks (so do their referrers)."""
    gc_flag = vars(type)["__flags__"].__get__(cls) & (1 << 14)
    return not gc_flag or issubclass(cls, (dict, tuple))
