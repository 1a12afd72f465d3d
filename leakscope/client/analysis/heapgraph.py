"""A heap dump as numpy arrays, its roots, and its dominator tree (retained sizes, paths).

Needs the ``analysis`` extra (numpy and igraph); without it `require` raises the one-line
`ExitCode.NEEDS_EXTRA` error. Nothing here talks to a target: the input is a
`leakscope.client.dumps.Dump`.

Nodes are numbered in the order the target packed them (``0 .. n-1``); then come one
pseudo-node per thread frame (its edges are the frame's locals), the super-root ``S`` and
three hubs below it, one per kind of root (`ROOT_KINDS`): modules (``S -> H1 -> module
namespaces``), thread stacks (``S -> H2 -> frames``) and objects held by C code or garbage
(``S -> H3 -> ...``), the last found here: every node no path from H1 or H2 reaches and
that belongs to a "source" strongly connected component of those unreached nodes (nothing
else unreached refers to it: an object no object refers to, or a cycle no object outside it
refers to). See `leakscope.target.census.graph` for the roots' definition.

Dominators: an object ``d`` dominates ``v`` when every path from ``S`` to ``v`` passes through
``d``; ``v``'s retained size is the sum of the shallow sizes of the objects it dominates
(itself included). Most of a heap is leaves referred to once (the str in a row dict) and
small trees of them: such a node's immediate dominator is its one referrer, so they are
peeled off first (`_peel`) and igraph's Lengauer-Tarjan (``Graph.dominator``) runs on
what is left, typically a fifth of the heap. Retained sizes are then summed bottom-up, level
by level of the dominator tree, with numpy.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from leakscope.client.dumps import Dump
from leakscope.client.errors import ExitCode, LeakscopeError
from leakscope.client.reports import PathEdge, RetentionPath

NAME, INDEX, KEY, VALUE, MEMBER = 0, 1, 2, 3, 4
ROOT_KINDS = ("modules", "thread stacks", "held by C code or garbage")
#: Dominator-tree levels past which the sums run as one Python loop instead of a numpy
#: operation per level (a linked list of a million nodes is a million levels).
_MAX_LEVELS = 4096
_HELD_BY_C = "that nothing the GC tracks refers to (held by C code, or garbage)"


def require() -> tuple[Any, Any]:
    """numpy and igraph, or the one-line error that says how to install them."""
    try:
        import igraph
        import numpy
    except ImportError as exc:
        raise LeakscopeError(
            ExitCode.NEEDS_EXTRA,
            f"this command needs numpy and igraph ({exc.name} is missing): "
            "pip install 'leakscope[analysis]'",
        ) from None
    return numpy, igraph


def _bad(source: str, defect: str) -> LeakscopeError:
    return LeakscopeError(ExitCode.BAD_SNAPSHOT, f"{source}: damaged leakscope dump ({defect})")


class HeapGraph:
    """The object graph of one dump, with its roots and dominator tree."""

    def __init__(self, dump: Dump, source: str = "the dump") -> None:
        np, _ = require()
        self.dump = dump
        self.source = source
        self.type_names = dump.types
        self.label_texts = dump.labels
        self.shift = int(dump.meta.get("label_shift", 29))
        order = "<" if dump.meta.get("byteorder") == "little" else ">"
        parts: dict[str, list[Any]] = {k: [] for k in ("ids", "types", "sizes", "counts")}
        parts.update(targets=[], labels=[], groups=[])
        blobs: list[bytes] = []
        offset = 0
        for number, chunk in enumerate(dump.chunks):
            try:
                raw = chunk.payload()
            except Exception:
                raise _bad(source, f"chunk {number + 1} does not decompress") from None
            n, e, v, vb = chunk.nodes, chunk.edges, chunk.values, chunk.value_bytes
            if len(raw) != 24 * n + 12 * e + 8 * v + vb:
                raise _bad(source, f"chunk {number + 1} has the wrong length")
            at = 0
            for key, dtype, count in (
                ("ids", "i8", n),
                ("types", "i4", n),
                ("sizes", "i8", n),
                ("counts", "i4", n),
                ("targets", "i8", e),
                ("labels", "u4", e),
                ("groups", "i4", 2 * v),
            ):
                width = int(dtype[1])
                array = np.frombuffer(raw, order + dtype, count, at)
                at += width * count
                if key == "groups":
                    array = array.astype(np.int64).reshape(-1, 2)
                    array = np.column_stack([array[:, 0] + offset, array[:, 1]])
                parts[key].append(array)
            blobs.append(raw[at:])
            offset += n
        groups = np.concatenate(parts.pop("groups")) if dump.chunks else np.zeros((0, 2), "i8")
        joined = {k: np.concatenate(v) if v else np.zeros(0, "i8") for k, v in parts.items()}
        self.n = n = int(len(joined["ids"]))
        self.ids = joined["ids"].astype(np.int64)
        self.types = joined["types"].astype(np.int32)
        self.sizes = joined["sizes"].astype(np.int64)
        counts = joined["counts"].astype(np.int64)
        if (
            len(self.types) != n
            or (n and (self.types.min() < 0 or self.types.max() >= len(self.type_names)))
            or int(counts.sum()) != len(joined["targets"])
        ):
            raise _bad(source, "its node arrays disagree")
        self.offsets = np.zeros(n + 1, np.int64)
        np.cumsum(counts, out=self.offsets[1:])
        self.labels = joined["labels"].astype(np.uint32)
        # Values: each ended by NUL, in groups of consecutive nodes (first, count).
        self.value_blob = b"".join(blobs)
        ends = np.flatnonzero(np.frombuffer(self.value_blob, np.uint8) == 0)
        starts = np.concatenate([[0], ends + 1])
        firsts, sizes = groups[:, 0], groups[:, 1]
        valued = np.repeat(firsts - np.cumsum(sizes) + sizes, sizes) + np.arange(int(sizes.sum()))
        if len(valued) != len(ends) or (len(valued) and (valued.min() < 0 or valued.max() >= n)):
            raise _bad(source, "its values disagree with its nodes")
        self.value_slot = np.full(n, -1, np.int64)
        self.value_slot[valued] = np.arange(len(valued))
        self.value_starts = starts
        # Edge targets are ids: map them to nodes (an id the dump has no node for, an
        # object made or freed while the walk ran, is -1).
        sorter = np.argsort(self.ids, kind="stable")
        sorted_ids = self.ids[sorter]
        self._sorter, self._sorted_ids = sorter, sorted_ids
        self.targets = self.node_of(joined["targets"])
        self._roots(dump.meta.get("roots") or {})
        self._dominators: Any = None

    # -- ids and values ---------------------------------------------------------------------

    def node_of(self, ids: Any) -> Any:
        """Nodes of these object ids (-1 where the dump has none)."""
        np, _ = require()
        ids = np.asarray(ids, np.int64)
        if not self.n:
            return np.full(len(ids), -1, np.int64)
        pos = np.searchsorted(self._sorted_ids, ids)
        pos = np.minimum(pos, self.n - 1)
        found = self._sorted_ids[pos] == ids
        return np.where(found, self._sorter[pos], -1).astype(np.int64)

    def type_of(self, node: int) -> str:
        """The type name of a node (pseudo-nodes have their own names)."""
        if node < self.n:
            return self.type_names[int(self.types[node])]
        if node < self.n + len(self.frames):
            return "frame"
        return "<roots>"

    def value(self, node: int) -> str | None:
        """The bounded value of a str, bytes, int or float node, as text; else None."""
        if node >= self.n:
            return None
        slot = int(self.value_slot[node])
        if slot < 0:
            return None
        raw = self.value_blob[int(self.value_starts[slot]) : int(self.value_starts[slot + 1]) - 1]
        if self.type_of(node) == "str":
            return repr(raw.decode("utf-8", "surrogatepass"))
        return raw.decode("ascii", "replace")  # numbers, and bytes kept as their repr

    def short(self, node: int, limit: int = 60) -> str:
        """A key or value as a label shows it: its bounded value, or ``<type>``."""
        text = self.value(node)
        if text is None:
            return f"<{self.type_of(node)}>"
        return text if len(text) <= limit else text[: limit - 3] + "..."

    def describe(self, node: int, limit: int = 120) -> str:
        """A bounded repr of a node, made from the dump alone."""
        text = self.value(node)
        kind = self.type_of(node)
        if text is not None:
            return text if len(text) <= limit else text[: limit - 3] + "..."
        if node >= self.n:
            return kind
        edges = int(self.offsets[node + 1] - self.offsets[node])
        if kind in ("list", "tuple", "set", "frozenset", "collections.deque"):
            return f"<{kind} of {edges:,} items>"
        if kind == "dict":
            return f"<dict of {edges // 2:,} items>"
        return f"<{kind} object at {int(self.ids[node]):#x}>"

    # -- roots --------------------------------------------------------------------------------

    def _roots(self, roots: dict[str, Any]) -> None:
        np, _ = require()
        modules = [m for m in roots.get("modules") or () if len(m) == 2]
        nodes = self.node_of([int(m[1]) for m in modules]) if modules else np.zeros(0, np.int64)
        self.module_roots: list[tuple[str, int]] = [
            (str(m[0]), int(node)) for m, node in zip(modules, nodes, strict=True) if node >= 0
        ]
        self.module_name = {node: name for name, node in reversed(self.module_roots)}
        self.frames: list[str] = []
        local_src: list[int] = []
        local_ids: list[int] = []
        self.local_names: list[str] = []
        for frame in roots.get("threads") or ():
            index = self.n + len(self.frames)
            self.frames.append(str(frame.get("root", "thread stack ?")))
            for name, ident in frame.get("locals") or ():
                local_src.append(index)
                local_ids.append(int(ident))
                self.local_names.append(str(name))
        self.local_src = np.asarray(local_src, np.int64)
        self.local_dst = self.node_of(local_ids) if local_ids else np.zeros(0, np.int64)
        first = self.n + len(self.frames)
        self.S, self.H = first, (first + 1, first + 2, first + 3)
        self.total = first + 4

    # -- dominators ---------------------------------------------------------------------------

    @property
    def dominators(self) -> Dominators:
        """The dominator tree, computed on first use."""
        if self._dominators is None:
            self._dominators = Dominators(self)
        return self._dominators

    # -- labels and paths ---------------------------------------------------------------------

    def edge_label(self, src: int, dst: int) -> str:
        """How ``src`` refers to ``dst``, as ``oldest --why`` prints it."""
        if src >= self.n:
            if src < self.n + len(self.frames):
                for at in range(len(self.local_src)):
                    if self.local_src[at] == src and self.local_dst[at] == dst:
                        return f"local {self.local_names[at]}"
                return "local ?"
            return ""
        lo, hi = int(self.offsets[src]), int(self.offsets[src + 1])
        hits = (self.targets[lo:hi] == dst).nonzero()[0]
        if not len(hits):
            return "?"
        at = lo + int(hits[0])
        code = int(self.labels[at])
        kind, arg = code >> self.shift, code & ((1 << self.shift) - 1)
        if kind == NAME:
            return self.label_texts[arg] if arg < len(self.label_texts) else ".?"
        if kind == INDEX:
            return f"[{arg}]"
        if kind == KEY:
            return "<key>"
        if kind == MEMBER:
            return "<member>"
        key = int(self.targets[at - 1]) if at > lo else -1
        if key < 0:
            return "[?]"
        if src in self.module_name and self.type_of(key) == "str":
            value = self.value(key)
            name = value[1:-1] if value else ""
            if name.isidentifier():
                return f".{name}"  # a module's global, as Python spells it
        return f"[{self.short(key)}]"

    def path(self, node: int) -> RetentionPath:
        """The path from a root to ``node`` (modules first, then thread stacks, then C)."""
        chain = self.dominators.chain(node)
        if not chain:
            return RetentionPath(found=False, root=None)
        hub, top, rest = chain[0], chain[1], chain[1:]
        edges: list[PathEdge] = []
        if hub == self.H[0]:
            root = f"module {self.module_name.get(top, '?')}"
            start_kind = root
        elif hub == self.H[1]:
            root = self.frames[top - self.n]
            start_kind = root.split(" frame ", 1)[-1].split(" line ")[0]
        else:
            root = f"{self.type_of(top)} {_HELD_BY_C}"
            start_kind = self.type_of(top)
        for at, (src, dst) in enumerate(zip(rest, rest[1:], strict=False)):
            from_kind = start_kind if at == 0 else self.type_of(src)
            edges.append(PathEdge(from_kind, self.edge_label(src, dst), self.type_of(dst)))
        return RetentionPath(found=True, root=root, edges=tuple(edges))


class Dominators:
    """Immediate dominators, retained sizes and counts, and root paths of a `HeapGraph`."""

    def __init__(self, graph: HeapGraph) -> None:
        np, ig = require()
        self.graph = g = graph
        total, n = g.total, g.n
        S, (H1, H2, H3) = g.S, g.H
        counts = np.diff(g.offsets)
        src = np.repeat(np.arange(n, dtype=np.int64), counts)
        dst = g.targets
        keep = (dst >= 0) & (dst != src)
        frames = np.arange(n, n + len(g.frames), dtype=np.int64)
        modules = np.asarray([node for _, node in g.module_roots], np.int64)
        local_ok = g.local_dst >= 0
        src = np.concatenate(
            [
                src[keep],
                [S, S, S],
                np.full(len(modules), H1),
                np.full(len(frames), H2),
                g.local_src[local_ok],
            ]
        ).astype(np.int64)
        dst = np.concatenate(
            [dst[keep], [H1, H2, H3], modules, frames, g.local_dst[local_ok]]
        ).astype(np.int64)
        del keep, counts
        self.idom = np.full(total, -1, np.int64)
        alive, shared = self._peel(np, src, dst, total)
        self.alive, self.shared = alive, shared
        # The rest goes to igraph, renumbered.
        kept = np.flatnonzero(alive)
        renumber = np.full(total, -1, np.int64)
        renumber[kept] = np.arange(len(kept))
        edge_ok = alive[src] & alive[dst]
        rs, rd = renumber[src[edge_ok]], renumber[dst[edge_ok]]
        # (python-igraph converts a list of pairs about twice as fast as a numpy array)
        pairs = list(zip(rs.tolist(), rd.tolist(), strict=True))
        graph_r = ig.Graph(n=len(kept), edges=pairs, directed=True)
        del pairs
        del rs, rd, edge_ok
        self._held_by_c(np, graph_r, renumber, kept)
        idom_r = np.asarray(graph_r.dominator(int(renumber[S]), mode="out"), np.int64)
        reached = idom_r >= 0
        self.idom[kept[reached]] = kept[idom_r[reached]]
        self.idom[S] = -1
        self.kept, self.renumber, self.graph_r = kept, renumber, graph_r
        self._parents: Any = None
        # Leaves with several referrers hang below the nearest common dominator of their
        # referrers: their lowest common ancestor in the tree of all the others, which is
        # complete now (no shared leaf lies on anyone's way up: see `_peel`).
        if shared.any():
            self.idom[shared] = S
            self._sums(np)
            into = shared[dst]
            self._common_dominators(np, src[into], dst[into])
        del src, dst
        self._sums(np)

    # -- building ------------------------------------------------------------------------

    def _peel(self, np: Any, src: Any, dst: Any, total: int) -> tuple[Any, Any]:
        """Peel off leaves (nodes that refer to nothing left), recursively: a leaf with one
        referrer is immediately dominated by it; one with several ("shared") that refers to
        nothing at all dominates nothing, so it changes no other node's dominator and waits
        for the end. (A shared node that referred to peeled nodes stays: it may be on their
        way up.) Returns (nodes left for the general algorithm, shared leaves)."""
        alive = np.ones(total, bool)
        shared = np.zeros(total, bool)
        live_edge = np.ones(len(src), bool)
        fixed = np.zeros(total, bool)
        fixed[self.graph.S :] = True
        childless = np.bincount(src, minlength=total) == 0
        for _ in range(32):
            s, d = src[live_edge], dst[live_edge]
            indeg = np.bincount(d, minlength=total)
            outdeg = np.bincount(s, minlength=total)
            leaf = alive & ~fixed & (outdeg == 0)
            single = leaf & (indeg == 1)
            several = leaf & (indeg > 1) & childless
            if not (single.any() or several.any()):
                break
            into = single[d]
            self.idom[d[into]] = s[into]
            shared |= several
            gone = single | several
            alive &= ~gone
            live_edge[live_edge] = ~gone[d]
            if gone.sum() < 0.001 * alive.sum():
                break
        return alive, shared

    def _common_dominators(self, np: Any, src: Any, dst: Any) -> None:
        """Set each shared leaf's dominator: the common ancestor of its referrers."""
        pre = self.preorder()
        end = pre + self.subtree_nodes
        total = self.graph.total
        low = np.full(total, np.iinfo(np.int64).max, np.int64)
        high = np.full(total, -1, np.int64)
        np.minimum.at(low, dst, pre[src])
        np.maximum.at(high, dst, pre[src])
        leaves = np.flatnonzero(high >= 0)
        by_pre = np.empty(total, np.int64)
        by_pre[pre] = np.arange(total)
        a = by_pre[low[leaves]]
        target = high[leaves]
        parent = self.parent
        # Climb from the first referrer (in preorder) until its subtree holds the last one.
        for _ in range(512):
            out = ~((pre[a] <= target) & (target < end[a]))
            if not out.any():
                break
            a = np.where(out, parent[a], a)
        else:
            a_l, pre_l, end_l, parent_l = a.tolist(), pre.tolist(), end.tolist(), parent.tolist()
            for i, t in enumerate(target.tolist()):
                while not pre_l[a_l[i]] <= t < end_l[a_l[i]]:
                    a_l[i] = parent_l[a_l[i]]
            a = np.asarray(a_l, np.int64)
        self.idom[leaves] = a

    def _held_by_c(self, np: Any, graph_r: Any, renumber: Any, kept: Any) -> None:
        """Root (under H3) what modules and thread stacks do not reach: see the module doc."""
        g = self.graph
        S_r = int(renumber[g.S])
        reached = np.zeros(len(kept), bool)
        reached[np.asarray(graph_r.subcomponent(S_r, mode="out"), np.int64)] = True
        unreached = np.flatnonzero(~reached)
        if not len(unreached):
            return
        sub = graph_r.induced_subgraph(unreached.tolist(), implementation="create_from_scratch")
        membership = np.asarray(sub.connected_components(mode="strong").membership, np.int64)
        edges = np.asarray(sub.get_edgelist(), np.int64).reshape(-1, 2)
        entered = np.zeros(int(membership.max()) + 1, bool)
        if len(edges):
            cross = membership[edges[:, 0]] != membership[edges[:, 1]]
            entered[membership[edges[cross, 1]]] = True
        sources = unreached[~entered[membership]]
        H3_r = int(renumber[g.H[2]])
        graph_r.add_edges([(H3_r, int(v)) for v in sources])

    def _sums(self, np: Any) -> None:
        g = self.graph
        total, n = g.total, g.n
        parent = self.idom.copy()
        parent[g.S] = g.S
        parent[parent < 0] = g.S  # cannot happen once H3 roots everything; kept safe
        self.depth = _depths(np, parent, g.S)
        order = np.argsort(self.depth, kind="stable")
        levels = np.bincount(self.depth)
        size = np.zeros(total, np.int64)
        size[:n] = g.sizes
        count = np.zeros(total, np.int64)
        count[:n] = 1
        nodes = np.ones(total, np.int64)
        bounds = np.concatenate([[0], np.cumsum(levels)])
        if len(levels) <= _MAX_LEVELS:
            for level in range(len(levels) - 1, 0, -1):
                these = order[bounds[level] : bounds[level + 1]]
                up = parent[these]
                np.add.at(size, up, size[these])
                np.add.at(count, up, count[these])
                np.add.at(nodes, up, nodes[these])
        else:
            size_l, count_l, nodes_l = size.tolist(), count.tolist(), nodes.tolist()
            parent_l = parent.tolist()
            for v in reversed(order[bounds[1] :].tolist()):
                p = parent_l[v]
                size_l[p] += size_l[v]
                count_l[p] += count_l[v]
                nodes_l[p] += nodes_l[v]
            size, count, nodes = np.asarray(size_l), np.asarray(count_l), np.asarray(nodes_l)
        self.parent = parent
        self.order = order
        self.bounds = bounds
        self.retained_size = size
        self.retained_count = count
        self.subtree_nodes = nodes

    # -- answers ---------------------------------------------------------------------------

    def top_down(self, np: Any, values: Any, step: Any) -> Any:
        """Fill ``values`` from the root down, level by level: ``step(nodes, parents, values)``."""
        order, bounds, parent = self.order, self.bounds, self.parent
        for level in range(1, len(bounds) - 1):
            these = order[bounds[level] : bounds[level + 1]]
            if not len(these):
                continue
            values[these] = step(these, parent[these], values)
        return values

    def nearest(self, mask: Any) -> Any:
        """For every node, its nearest strict ancestor in the dominator tree for which
        ``mask`` is true (-1 if none)."""
        np, _ = require()
        found = np.full(self.graph.total, -1, np.int64)
        if len(self.bounds) - 1 <= _MAX_LEVELS:
            return self.top_down(np, found, lambda v, p, vals: np.where(mask[p], p, vals[p]))
        found_l, parent_l, mask_l = found.tolist(), self.parent.tolist(), mask.tolist()
        for v in self.order[self.bounds[1] :].tolist():
            p = parent_l[v]
            found_l[v] = p if mask_l[p] else found_l[p]
        return np.asarray(found_l, np.int64)

    def preorder(self) -> Any:
        """A preorder numbering of the dominator tree (for subtree intervals)."""
        np, _ = require()
        parent, nodes, total = self.parent, self.subtree_nodes, self.graph.total
        # Children grouped by parent: each child's offset among its siblings.
        kids = np.argsort(parent, kind="stable")
        kids = kids[kids != self.graph.S]
        sizes = nodes[kids]
        running = np.cumsum(sizes) - sizes
        group_start = np.zeros(total, np.int64)
        first = np.ones(len(kids), bool)
        first[1:] = parent[kids[1:]] != parent[kids[:-1]]
        starts = running[first]
        group_start[parent[kids[first]]] = starts
        offset = np.zeros(total, np.int64)
        offset[kids] = running - group_start[parent[kids]]
        pre = np.zeros(total, np.int64)
        if len(self.bounds) - 1 <= _MAX_LEVELS:
            return self.top_down(np, pre, lambda v, p, vals: vals[p] + 1 + offset[v])
        pre_l, parent_l, offset_l = pre.tolist(), parent.tolist(), offset.tolist()
        for v in self.order[self.bounds[1] :].tolist():
            pre_l[v] = pre_l[parent_l[v]] + 1 + offset_l[v]
        return np.asarray(pre_l, np.int64)

    def chain(self, node: int) -> list[int]:
        """[hub, root node, ..., node]: the path from a root (see `HeapGraph.path`)."""
        np, _ = require()
        if self._parents is None:
            self._parents = self._bfs_parents(np)
        return self._chain(node, {})

    def _chain(self, node: int, memo: dict[int, list[int]]) -> list[int]:
        found = memo.get(node)
        if found is not None:
            return found
        memo[node] = []  # a cycle through peeled nodes cannot be: stay safe all the same
        g = self.graph
        if node in g.H:
            chain = [node]
        elif self.alive[node]:
            chain = self._reduced_chain(node)
        elif not self.shared[node]:  # peeled with one referrer: its way in
            up = int(self.idom[node])
            chain = self._chain(up, memo) + [node] if up >= 0 else []
        else:
            # A leaf with several referrers: the best of their paths (modules first).
            best: list[int] = []
            for up in self.referrers(node)[:64]:
                candidate = self._chain(up, memo)
                if candidate and (not best or _rank(g, candidate) < _rank(g, best)):
                    best = candidate
            chain = best + [node] if best else []
        memo[node] = chain
        return chain

    def referrers(self, node: int) -> list[int]:
        """The nodes (and roots) that refer to ``node``."""
        np, _ = require()
        g = self.graph
        edges = np.flatnonzero(g.targets == node)
        found = np.searchsorted(g.offsets, edges, side="right") - 1
        out = [int(v) for v in dict.fromkeys(found.tolist())]
        out += [int(v) for v in g.local_src[g.local_dst == node].tolist()]
        if node in g.module_name:
            out.append(g.H[0])
        return out

    def _reduced_chain(self, node: int) -> list[int]:
        g = self.graph
        chain = [node]
        r = int(self.renumber[node])
        hubs = {int(self.renumber[h]) for h in g.H}
        seen = 0
        while r not in hubs:
            r = int(self._parents[r])
            if r < 0 or seen > len(self.kept):
                return []
            chain.append(int(self.kept[r]))
            seen += 1
        chain.reverse()
        return chain

    def _bfs_parents(self, np: Any) -> Any:
        """Breadth-first parents, modules first, then thread stacks, then C-held roots."""
        g = self.graph
        parents = np.full(len(self.kept), -1, np.int64)
        for hub in g.H:
            _, _, found = self.graph_r.bfs(int(self.renumber[hub]), mode="out")
            found = np.asarray(found, np.int64)
            take = (parents < 0) & (found >= 0)
            take[int(self.renumber[hub])] = False
            parents[take] = found[take]
        return parents

    def real_nodes(self) -> Any:
        """The nodes that are objects (not roots, hubs or frames)."""
        np, _ = require()
        return np.arange(self.graph.n)


def _rank(graph: HeapGraph, chain: list[int]) -> tuple[int, int]:
    """Which path is better: from modules, then thread stacks, then C roots; then shorter."""
    return graph.H.index(chain[0]) if chain[0] in graph.H else 3, len(chain)


def _depths(np: Any, parent: Any, root: int) -> Any:
    """Depth of every node in the tree given by ``parent`` (``parent[root] == root``)."""
    total = len(parent)
    depth = np.where(np.arange(total) == root, 0, 1).astype(np.int64)
    jump = parent.copy()
    while True:
        done = jump == root
        if done.all():
            return depth
        depth = depth + np.where(done, 0, depth[jump])
        jump = np.where(done, jump, jump[jump])


def sum_by(np: Any, keys: Any, values: Iterable[Any], size: int) -> list[Any]:
    """Sums of each of ``values`` grouped by the int ``keys`` (bincount)."""
    return [np.bincount(keys, weights=v, minlength=size) for v in values]
