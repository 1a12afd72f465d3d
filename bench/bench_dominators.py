"""Which library computes the dominator tree of a heap: igraph, rustworkx, networkx, or numpy
with Cooper-Harvey-Kennedy, on the same graphs in the same run.

The graphs are real: the heap of ``bench_census.py`` (dict rows, small objects with three
attributes, atom tuples) dumped by leakscope's own walk, with its roots. Each contender runs
in a fresh process on the same edge list, twice: on the whole graph, and on the graph
leakscope actually hands to the library (leaves peeled off first, see
``leakscope/client/analysis/heapgraph.py``). Times include building the library's graph
from numpy arrays, since a command pays for that too. Every contender's immediate
dominators are checked against igraph's.

    python bench/bench_dominators.py                 # the 200k and 2M heaps
    python bench/bench_dominators.py --quick         # 200k only
    python bench/bench_dominators.py --python /venv/bin/python   # where rustworkx etc. live

networkx and the pure numpy/Python CHK get a time limit (``--limit``, default 600 s).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
SIZES = {"200k": 16_700, "2M": 167_000}
CONTENDERS = ("igraph", "rustworkx", "networkx", "numpy-chk")


def make_graphs(n: int, out: str) -> dict:
    """Build the heap, dump it in-process, and save both edge lists (whole, peeled)."""
    import base64

    import numpy as np
    from bench_census import build_heap

    from leakscope.client.analysis.heapgraph import HeapGraph
    from leakscope.client.dumps import _CHUNK_KEYS, Chunk, Dump
    from leakscope.target.census.graph import GraphDump

    heap = build_heap(n)
    walk = GraphDump(10**9)
    start = walk.start()
    types: dict[int, str] = {}
    labels: dict[int, str] = {}
    chunks = []
    while True:
        answer = walk.next_chunk()
        types.update({i: t for i, t in answer["types"]})
        labels.update({i: t for i, t in answer["labels"]})
        for part in answer["chunks"]:
            data = base64.b64decode(part["data"])
            chunks.append(Chunk(data, *(part[k] for k in _CHUNK_KEYS)))
        if answer["done"]:
            break
    dump = Dump(
        {**start, "pid": os.getpid(), "summary": answer["summary"]},
        tuple(types[i] for i in range(len(types))),
        tuple(labels[i] for i in range(len(labels))),
        tuple(chunks),
    )
    graph = HeapGraph(dump)
    dom = graph.dominators
    g = graph
    counts = np.diff(g.offsets)
    src = np.repeat(np.arange(g.n, dtype=np.int64), counts)
    keep = (g.targets >= 0) & (g.targets != src)
    edges = [src[keep], g.targets[keep]]
    modules = np.asarray([v for _, v in g.module_roots], np.int64)
    frames = np.arange(g.n, g.n + len(g.frames))
    ok = g.local_dst >= 0
    whole_src = np.concatenate(
        [edges[0], [g.S] * 3, [g.H[0]] * len(modules), [g.H[1]] * len(frames), g.local_src[ok]]
    )
    whole_dst = np.concatenate([edges[1], list(g.H), modules, frames, g.local_dst[ok]])
    # Everything the C-held hub roots (computed by leakscope) joins the whole graph too, so
    # that every node is reachable in both.
    h3 = np.asarray(
        [dom.kept[t] for s, t in dom.graph_r.get_edgelist() if s == dom.renumber[g.H[2]]],
        np.int64,
    )
    whole_src = np.concatenate([whole_src, np.full(len(h3), g.H[2])]).astype(np.int64)
    whole_dst = np.concatenate([whole_dst, h3]).astype(np.int64)
    reduced = np.asarray(dom.graph_r.get_edgelist(), np.int64).reshape(-1, 2)
    np.savez(
        out,
        whole=np.stack([whole_src, whole_dst], 1),
        whole_n=g.total,
        whole_root=g.S,
        reduced=reduced,
        reduced_n=len(dom.kept),
        reduced_root=int(dom.renumber[g.S]),
        idom_whole=dom.idom,
        idom_reduced=np.asarray(dom.graph_r.dominator(int(dom.renumber[g.S])), np.int64),
    )
    del heap
    return {
        "objects": g.n,
        "edges_whole": len(whole_src),
        "edges_reduced": len(reduced),
        "nodes_reduced": len(dom.kept),
    }


def run_contender(name: str, path: str, which: str) -> dict:
    import numpy as np

    data = np.load(path)
    edges, n, root = data[which], int(data[f"{which}_n"]), int(data[f"{which}_root"])
    expected = data[f"idom_{which}"]
    t0 = time.perf_counter()
    if name == "igraph":
        import igraph

        # As leakscope builds it: python-igraph converts a list of pairs faster than an array.
        pairs = list(zip(edges[:, 0].tolist(), edges[:, 1].tolist(), strict=True))
        graph = igraph.Graph(n=n, edges=pairs, directed=True)
        built = time.perf_counter()
        idom = np.asarray(graph.dominator(root, mode="out"), np.int64)
    elif name == "rustworkx":
        import rustworkx

        graph = rustworkx.PyDiGraph()
        graph.add_nodes_from(range(n))
        graph.add_edges_from_no_data(
            list(zip(edges[:, 0].tolist(), edges[:, 1].tolist(), strict=True))
        )
        built = time.perf_counter()
        found = rustworkx.immediate_dominators(graph, root)
        idom = np.full(n, -1, np.int64)
        keys = np.fromiter(found.keys(), np.int64, len(found))
        idom[keys] = np.fromiter(found.values(), np.int64, len(found))
    elif name == "networkx":
        import networkx

        graph = networkx.DiGraph()
        graph.add_nodes_from(range(n))
        graph.add_edges_from(zip(edges[:, 0].tolist(), edges[:, 1].tolist(), strict=True))
        built = time.perf_counter()
        found = networkx.immediate_dominators(graph, root)
        idom = np.full(n, -1, np.int64)
        for k, v in found.items():
            idom[k] = v
    else:
        idom, built = chk(n, edges, root)
    done = time.perf_counter()
    idom[root] = -1
    want = expected.copy()
    want[root] = -1
    agree = bool((idom[want >= 0] == want[want >= 0]).all())
    return {
        "build_s": built - t0,
        "dominators_s": done - built,
        "total_s": done - t0,
        "agree": agree,
    }


def chk(n: int, edges, root: int):
    """Cooper, Harvey and Kennedy's iterative algorithm: numpy for the graph, Python for the
    fixpoint (it is sequential by nature: each node needs its predecessors' answers)."""
    import numpy as np

    order = np.argsort(edges[:, 0], kind="stable")
    dst = edges[order, 1]
    start = np.searchsorted(edges[order, 0], np.arange(n + 1))
    porder = np.argsort(edges[:, 1], kind="stable")
    psrc = edges[porder, 0].tolist()
    pstart = np.searchsorted(edges[porder, 1], np.arange(n + 1)).tolist()
    built = time.perf_counter()
    dst_l, start_l = dst.tolist(), start.tolist()
    post = [-1] * n
    rpo: list[int] = []
    seen = [False] * n
    stack = [(root, start_l[root])]
    seen[root] = True
    while stack:
        node, at = stack[-1]
        if at < start_l[node + 1]:
            stack[-1] = (node, at + 1)
            child = dst_l[at]
            if not seen[child]:
                seen[child] = True
                stack.append((child, start_l[child]))
        else:
            stack.pop()
            post[node] = len(rpo)
            rpo.append(node)
    rpo.reverse()
    idom = [-1] * n
    idom[root] = root
    changed = True
    while changed:
        changed = False
        for node in rpo[1:]:
            new = -1
            for p in psrc[pstart[node] : pstart[node + 1]]:
                if idom[p] == -1:
                    continue
                if new == -1:
                    new = p
                    continue
                a, b = p, new
                while a != b:
                    while post[a] < post[b]:
                        a = idom[a]
                    while post[b] < post[a]:
                        b = idom[b]
                new = a
            if idom[node] != new:
                idom[node] = new
                changed = True
    return np.asarray(idom, np.int64), built


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the 200k heap only")
    parser.add_argument("--python", default=sys.executable, help="interpreter of the contenders")
    parser.add_argument("--limit", type=float, default=600.0, help="seconds per contender")
    parser.add_argument("--make", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--run", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make:
        print(json.dumps(make_graphs(int(args.make[0]), args.make[1])))
        return
    if args.run:
        print(json.dumps(run_contender(*args.run)))
        return
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    sizes = ["200k"] if args.quick else list(SIZES)
    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} cpus; contenders run by {args.python}\n"
    )
    header = (
        f"{'heap':>5} {'graph':8} {'nodes':>9} {'edges':>9} {'contender':10} "
        f"{'build s':>8} {'dom s':>8} {'total s':>8}  agree"
    )
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            path = os.path.join(tmp, f"{size}.npz")
            made = subprocess.run(
                [sys.executable, __file__, "--make", str(SIZES[size]), path],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            )
            facts = json.loads(made.stdout)
            for which in ("reduced", "whole"):
                nodes = facts["nodes_reduced"] if which == "reduced" else facts["objects"]
                edges = facts[f"edges_{which}"]
                times: dict[str, float] = {}
                for name in CONTENDERS:
                    try:
                        done = subprocess.run(
                            [args.python, __file__, "--run", name, path, which],
                            capture_output=True,
                            text=True,
                            env=env,
                            timeout=args.limit,
                        )
                    except subprocess.TimeoutExpired:
                        print(
                            f"{size:>5} {which:8} {nodes:9,} {edges:9,} {name:10} "
                            f"over the {args.limit:.0f} s limit"
                        )
                        continue
                    if done.returncode != 0:
                        last = (done.stderr.strip().splitlines() or ["?"])[-1]
                        print(f"{size:>5} {which:8} {nodes:9,} {edges:9,} {name:10} error: {last}")
                        continue
                    r = json.loads(done.stdout)
                    times[name] = r["total_s"]
                    print(
                        f"{size:>5} {which:8} {nodes:9,} {edges:9,} {name:10} "
                        f"{r['build_s']:8.2f} {r['dominators_s']:8.2f} {r['total_s']:8.2f}"
                        f"  {r['agree']}"
                    )
                if "igraph" in times:
                    ratios = ", ".join(
                        f"{k} {v / times['igraph']:.1f}x" for k, v in times.items() if k != "igraph"
                    )
                    print(
                        f"{'':>5} {which:8} vs igraph (time, lower is better for igraph): {ratios}"
                    )


if __name__ == "__main__":
    main()
