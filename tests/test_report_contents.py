"""What `leakscope report` gathers from heap dumps, on small graphs known by hand.

The dumps are packed as the target packs them (`tests.test_dominators.make_dump`) and go
through the real file format, `HeapGraph` and dominator tree; the live side of
`leakscope.client.report_contents` is run by `tests/test_report.py` against real targets.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("numpy")
pytest.importorskip("igraph")

from leakscope.client import dumps  # noqa: E402
from leakscope.client.analysis.heapgraph import HeapGraph  # noqa: E402
from leakscope.client.report_contents import (  # noqa: E402
    RetainedObject,
    dump_snapshot,
    from_files,
    retained_tree,
)
from tests.test_dominators import Synthetic, make_dump  # noqa: E402

#: a holds b (which holds c) and e; d holds f. Sizes grow with the letter, so d (with f)
#: retains more than a (with b, c and e).
EDGES = {"a": ["b", "e"], "b": ["c"], "d": ["f"]}


def shape(made: Synthetic, node: RetainedObject) -> tuple[str, tuple]:
    """A retained tree by the letters of its objects: (letter, (children...))."""
    letter = {v: k for k, v in made.ident.items()}[node.id]
    return letter, tuple(shape(made, child) for child in node.children)


def test_retained_tree_nests_objects_as_the_dominator_tree() -> None:
    made = make_dump(EDGES, roots=["a", "d"])
    tree = retained_tree(HeapGraph(made.dump))
    # d comes after a's subtree in the preorder: a sibling of a, not inside it.
    assert [shape(made, root) for root in tree.roots] == [
        ("R", (("a", (("b", (("c", ()),)), ("e", ()))), ("d", (("f", ()),))))
    ]
    (root,) = tree.roots
    a, d = root.children
    assert (a.size, a.retained_size, a.retained_count) == (
        made.sizes["a"],
        sum(made.sizes[n] for n in "abce"),
        4,
    )
    assert (d.type, d.retained_size) == ("Node", made.sizes["d"] + made.sizes["f"])
    assert (tree.pid, tree.total_count, tree.total_size) == (1, 7, sum(made.sizes.values()))


def test_retained_tree_keeps_the_biggest_retainers() -> None:
    made = make_dump(EDGES, roots=["a", "d"])
    tree = retained_tree(HeapGraph(made.dump), limit=3)
    assert [shape(made, root) for root in tree.roots] == [("R", (("d", (("f", ()),)),))]


def test_heap_of_a_dump_sums_the_types_that_share_a_name() -> None:
    made = make_dump(EDGES, roots=["a", "d"])
    meta = {**made.dump.meta, "pid": 42, "time": 1234.5, "host": "box", "argv": ["app.py"]}
    # Two type indexes named alike (classes made at run time): one row, as a census counts.
    twins = replace(made.dump, meta=meta, types=("Node", "Node"))
    snap = dump_snapshot(HeapGraph(twins))
    assert (snap.pid, snap.time, snap.host, snap.argv) == (42, 1234.5, "box", ("app.py",))
    assert snap.prefs.rows == ()
    assert snap.heap is not None and snap.heap.backend == "dump"
    assert [(r.kind, r.count, r.size) for r in snap.heap.rows] == [
        ("Node", 7, sum(made.sizes.values()))
    ]


def test_two_dump_files_give_suspects_and_the_newest_heap(tmp_path: Path) -> None:
    before = make_dump({"a": ["b"]}, roots=["a"]).dump
    after = make_dump({"a": list("bcdefgh")}, roots=["a"]).dump
    paths = []
    # Given newest first: the files are put in time order.
    for name, dump, when in (("after", after, 112.5), ("before", before, 100.0)):
        path = tmp_path / f"{name}.dump"
        path.write_bytes(dumps.to_bytes(replace(dump, meta={**dump.meta, "time": when})))
        paths.append(str(path))
    contents = from_files(tuple(paths), "leakscope report after.dump before.dump")
    assert contents.interval_s == 12.5 and contents.files == tuple(paths)
    assert contents.suspects is not None and contents.suspects_note is None
    (suspect,) = contents.suspects.suspects
    assert (suspect.kind, suspect.count_before, suspect.count_after) == ("Node", 2, 8)
    assert contents.snapshot.time == 112.5 and contents.snapshot.heap is not None
    assert {r.kind: r.count for r in contents.snapshot.heap.rows} == {"dict": 1, "Node": 8}
    assert contents.retained is not None and contents.retained.total_count == 9
    assert contents.history is None and contents.growth is None
