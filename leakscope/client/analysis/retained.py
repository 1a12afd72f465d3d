"""Retained sizes from a heap dump: the objects (or classes) that keep the most memory alive.

``retained`` reads the dominator tree of a `HeapGraph` (see there for the roots and the
algorithm): each object's retained size is what would be freed with it. With ``by_class``
the instances of a class are taken together, as Eclipse MAT's "group by class" does: an
instance dominated by another instance of the same class is counted once, inside it.
"""

from __future__ import annotations

from leakscope.client.analysis.heapgraph import HeapGraph, require
from leakscope.client.reports import RetainedReport, RetainedRow


def retained(
    graph: HeapGraph, limit: int = 20, by_class: bool = False, source: str = ""
) -> RetainedReport:
    """The ``limit`` largest retainers of the heap (objects, or classes with ``by_class``)."""
    np, _ = require()
    dom = graph.dominators
    n = graph.n
    size = dom.retained_size[:n]
    count = dom.retained_count[:n]
    if not by_class:
        top = np.argsort(-size, kind="stable")[:limit]
        rows = tuple(
            RetainedRow(
                type=graph.type_of(int(v)),
                id=int(graph.ids[v]),
                size=int(graph.sizes[v]),
                retained_size=int(size[v]),
                retained_count=int(count[v]),
                path=graph.path(int(v)),
                repr=graph.describe(int(v)),
            )
            for v in top
        )
    else:
        rows = _by_class(graph, limit)
    return RetainedReport(
        pid=graph.dump.pid,
        total_count=n,
        total_size=int(graph.sizes.sum()),
        rows=rows,
        by_class=by_class,
        source=source,
        max_pause_s=graph.dump.summary.get("max_pause_s"),
    )


def _by_class(graph: HeapGraph, limit: int) -> tuple[RetainedRow, ...]:
    np, _ = require()
    dom = graph.dominators
    n, total = graph.n, graph.total
    pre = dom.preorder()[:n]
    end = pre + dom.subtree_nodes[:n]
    types = graph.types.astype(np.int64)
    # Instances sorted by class, then in preorder: one inside an earlier instance of its
    # class (in that one's subtree interval) is nested. Offsets keep the classes apart in
    # one running maximum.
    order = np.lexsort((pre, types))
    offset = types[order] * (total + 1)
    reach = np.maximum.accumulate(end[order] + offset)
    before = np.concatenate([[-1], reach[:-1]])
    outer = order[(pre[order] + offset) >= before]
    kinds = len(graph.type_names)
    r_size = np.bincount(types[outer], weights=dom.retained_size[outer], minlength=kinds)
    r_count = np.bincount(types[outer], weights=dom.retained_count[outer], minlength=kinds)
    instances = np.bincount(types, minlength=kinds)
    shallow = np.bincount(types, weights=graph.sizes, minlength=kinds)
    ranked = np.argsort(-r_size, kind="stable")[:limit]
    return tuple(
        RetainedRow(
            type=graph.type_names[int(t)],
            id=None,
            size=int(shallow[t]),
            retained_size=int(r_size[t]),
            retained_count=int(r_count[t]),
            count=int(instances[t]),
        )
        for t in ranked
        if instances[t]
    )
