"""Retained sizes on synthetic heap graphs whose dominator trees are known by hand.

Each graph is packed exactly as the target packs a dump (`leakscope.target.census.graph`),
so the whole client side runs: the file format, the id-to-node mapping, the roots, the
peeling of leaves, igraph's dominators and the sums. Sizes are distinct powers of two,
so a retained size names the set of objects it adds up.
"""

from __future__ import annotations

import sys
import zlib
from array import array

import pytest

pytest.importorskip("numpy")
pytest.importorskip("igraph")

from leakscope.client import dumps  # noqa: E402
from leakscope.client.analysis.heapgraph import HeapGraph  # noqa: E402
from leakscope.client.analysis.retained import retained  # noqa: E402

SHIFT = 29
NAME_LABEL = 0  # ".x" in the label table
ROOT_ID = 1000


class Synthetic:
    def __init__(self, dump: dumps.Dump, sizes: dict[str, int], ident: dict[str, int]) -> None:
        self.dump, self.sizes, self.ident = dump, sizes, ident


def make_dump(
    edges: dict[str, list[str]], roots: list[str], extra: tuple[str, ...] = ()
) -> Synthetic:
    """A dump of objects named by letters: ``edges[a]`` are the objects ``a`` refers to.

    ``roots`` are referred to by the one module namespace ("R"); other objects are reached
    only through edges (or not at all)."""
    names = sorted({*edges, *(t for ts in edges.values() for t in ts), *roots, *extra})
    ident = {name: 2000 + 16 * i for i, name in enumerate(names)}
    size = {name: 1 << (i + 4) for i, name in enumerate(names)}
    order = ["R", *names]
    ident["R"], size["R"] = ROOT_ID, 1 << 30
    out = {
        k: array(t)
        for k, t in (
            ("ids", "q"),
            ("types", "i"),
            ("sizes", "q"),
            ("counts", "i"),
            ("targets", "q"),
            ("labels", "I"),
        )
    }
    for name in order:
        refs = roots if name == "R" else edges.get(name, [])
        out["ids"].append(ident[name])
        out["types"].append(0 if name == "R" else 1)
        out["sizes"].append(size[name])
        out["counts"].append(len(refs))
        for ref in refs:
            out["targets"].append(ident[ref])
            out["labels"].append(NAME_LABEL)
    payload = b"".join(
        out[k].tobytes() for k in ("ids", "types", "sizes", "counts", "targets", "labels")
    )
    packed = zlib.compress(payload)
    chunk = dumps.Chunk(
        packed, len(order), len(out["targets"]), 0, 0, len(payload), zlib.crc32(packed)
    )
    meta = {
        "leakscope_dump": 1,
        "pid": 1,
        "time": 0.0,
        "byteorder": sys.byteorder,
        "label_shift": SHIFT,
        "roots": {"modules": [["m", ROOT_ID]], "threads": []},
        "summary": {},
    }
    return Synthetic(dumps.Dump(meta, ("dict", "Node"), (".x",), (chunk,)), size, ident)


def retained_of(made: Synthetic) -> dict[str, tuple[int, int]]:
    """{name: (retained size, retained count)} through a dump file round trip."""
    again = dumps.read_bytes(dumps.to_bytes(made.dump), "synthetic.dump")
    graph = HeapGraph(again)
    dom = graph.dominators
    by_id = {v: k for k, v in made.ident.items()}
    return {
        by_id[int(graph.ids[i])]: (int(dom.retained_size[i]), int(dom.retained_count[i]))
        for i in range(graph.n)
    }


def total(made: Synthetic, names: str) -> tuple[int, int]:
    return sum(made.sizes[n] for n in names), len(names)


def test_chain() -> None:
    dump = make_dump({"a": ["b"], "b": ["c"]}, roots=["a"])
    got = retained_of(dump)
    assert got["a"] == total(dump, "abc")
    assert got["b"] == total(dump, "bc")
    assert got["c"] == total(dump, "c")
    assert got["R"] == total(dump, "Rabc")


def test_diamond() -> None:
    dump = make_dump({"a": ["b", "c"], "b": ["d"], "c": ["d"]}, roots=["a"])
    got = retained_of(dump)
    assert got["a"] == total(dump, "abcd")
    assert got["b"] == total(dump, "b")  # d is reached through c as well
    assert got["c"] == total(dump, "c")
    assert got["d"] == total(dump, "d")


def test_cycle() -> None:
    dump = make_dump({"a": ["b"], "b": ["c"], "c": ["a"]}, roots=["a"])
    got = retained_of(dump)
    assert got["a"] == total(dump, "abc")
    assert got["b"] == total(dump, "bc")
    assert got["c"] == total(dump, "c")


def test_shared_child() -> None:
    dump = make_dump({"a": ["s"], "b": ["s"]}, roots=["a", "b"])
    got = retained_of(dump)
    assert got["a"] == total(dump, "a")
    assert got["b"] == total(dump, "b")
    assert got["s"] == total(dump, "s")
    assert got["R"] == total(dump, "Rabs")


def test_shared_leaf_below_a_common_dominator() -> None:
    # s is shared by b and c, both inside a: a retains it, b and c do not.
    dump = make_dump({"a": ["b", "c"], "b": ["s"], "c": ["s"]}, roots=["a"])
    got = retained_of(dump)
    assert got["a"] == total(dump, "abcs")
    assert got["b"] == total(dump, "b")
    assert got["c"] == total(dump, "c")


def test_self_loop() -> None:
    dump = make_dump({"a": ["a", "b"]}, roots=["a"])
    got = retained_of(dump)
    assert got["a"] == total(dump, "ab")
    assert got["b"] == total(dump, "b")


def test_unreferenced_and_garbage_cycles_are_their_own_roots() -> None:
    # z (referred to by nothing) holds w; x <-> y is a cycle nothing refers to.
    dump = make_dump({"z": ["w"], "x": ["y"], "y": ["x"]}, roots=[], extra=["z"])
    got = retained_of(dump)
    assert got["z"] == total(dump, "zw")
    assert got["x"] == total(dump, "x")  # neither dominates the other
    assert got["y"] == total(dump, "y")
    graph = HeapGraph(dump.dump)
    node = int(graph.node_of([dump.ident["w"]])[0])
    path = graph.path(node)
    assert path.found and "held by C code, or garbage" in (path.root or "")


def test_by_class_counts_nested_instances_once() -> None:
    dump = make_dump({"a": ["b"], "b": ["c"], "d": []}, roots=["a", "d"])
    graph = HeapGraph(dump.dump)
    rows = {row.type: row for row in retained(graph, limit=5, by_class=True).rows}
    node = rows["Node"]
    assert node.count == 4
    assert (node.retained_size, node.retained_count) == total(dump, "abcd")


def test_paths_name_the_edges() -> None:
    dump = make_dump({"a": ["b"]}, roots=["a"])
    graph = HeapGraph(dump.dump)
    node = int(graph.node_of([dump.ident["b"]])[0])
    path = graph.path(node)
    assert path.root == "module m"
    assert [(e.label, e.to_kind) for e in path.edges] == [(".x", "Node"), (".x", "Node")]


def test_shared_leaf_whose_way_up_passes_a_shared_node() -> None:
    # Z (shared by c1 and c2) is the one referrer of W; L is shared by W and d. Peeled
    # leaves first: L, then W and d, then Z. L's dominator is a, above Z.
    edges = {
        "a": ["c", "e", "d"],
        "c": ["z"],
        "e": ["z"],
        "z": ["w"],
        "w": ["l"],
        "d": ["l"],
    }
    dump = make_dump(edges, roots=["a"])
    got = retained_of(dump)
    assert got["a"] == total(dump, "acedzwl")
    assert got["z"] == total(dump, "zw")
    assert got["w"] == total(dump, "w")
    assert got["d"] == total(dump, "d")
    assert got["l"] == total(dump, "l")
