"""Answers of the live commands, from a heap dump: the heap by type, and one object of a class
with its retention path (``oldest --why`` offline).

The same typed reports as the live commands (`HeapReport`, `ObjectInfo`), so the same
renderers and ``--json`` shapes serve both.
"""

from __future__ import annotations

from leakscope.client.analysis.heapgraph import HeapGraph, require
from leakscope.client.reports import HeapReport, HeapRow, ObjectInfo


def heap_by_type(graph: HeapGraph, limit: int = 50) -> HeapReport:
    """The census by type of the dumped heap (``heap FILE``)."""
    np, _ = require()
    kinds = len(graph.type_names)
    counts = np.bincount(graph.types, minlength=kinds)
    sizes = np.bincount(graph.types, weights=graph.sizes, minlength=kinds).astype(np.int64)
    # Two types may share a name (classes made at run time): one row per name, as a census.
    tally: dict[str, list[int]] = {}
    for k in range(kinds):
        if counts[k]:
            row = tally.setdefault(graph.type_names[k], [0, 0])
            row[0] += int(counts[k])
            row[1] += int(sizes[k])
    ordered = sorted(tally.items(), key=lambda item: (-item[1][1], -item[1][0], item[0]))
    rows = tuple(HeapRow(kind, count, size) for kind, (count, size) in ordered)
    summary = graph.dump.summary
    return HeapReport(
        pid=graph.dump.pid,
        partition="type",
        of=None,
        total_count=graph.n,
        total_size=int(graph.sizes.sum()),
        elapsed_s=float(summary.get("elapsed_s") or 0.0),
        max_pause_s=float(summary.get("max_pause_s") or 0.0),
        partial=False,
        backend="dump",
        rows=rows[:limit],
    )


def matching_kinds(graph: HeapGraph, cls: str) -> list[int]:
    """Type indexes whose name is ``cls``, or ends with ``.cls``."""
    return [i for i, name in enumerate(graph.type_names) if name == cls or name.endswith("." + cls)]


def one_object(graph: HeapGraph, cls: str, why: bool = True) -> ObjectInfo | None:
    """One object of class ``cls`` in the dump, with its path: the first the walk met, which
    is the oldest as far as the GC knows (a dump lists the oldest generation first)."""
    np, _ = require()
    kinds = matching_kinds(graph, cls)
    if not kinds:
        return None
    nodes = np.flatnonzero(np.isin(graph.types, kinds))
    if not len(nodes):
        return None
    node = int(nodes[0])
    return ObjectInfo(
        cls=graph.type_of(node),
        id=int(graph.ids[node]),
        age_s=None,
        repr=graph.describe(node),
        why=graph.path(node) if why else None,
        tracked=False,
        note=f"from a dump: {len(nodes):,} objects of that class, no ages (shown oldest GC "
        "generation first)",
    )
