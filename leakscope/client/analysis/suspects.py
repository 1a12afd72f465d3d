"""Leak suspects from two heap dumps: what grew, what holds it, and (given) where it is made.

An object of the second dump is *new* unless the first dump had an object with the same id
and the same type. New objects are then sorted out along the dominator tree of the second
dump, so that what only a suspect keeps alive counts in that suspect and is no suspect of
its own (the leaking class first, not the strings it carries):

* an atom (str, bytes, int, float...) or a plain container (tuple, list, dict, set...) new
  object is *owned* by its nearest new dominator, whatever its kind;
* any other new object (an instance of a class, a function...) is owned by its nearest new
  dominator that is neither an atom nor a plain container: so a class instance wrapped in a
  new tuple is still a suspect of its own, and the tuple keeps only its own share;
* new objects owned by none are the *top* new objects (not those only the C-held roots
  reach, garbage waiting for the collector, nor leakscope's own bookkeeping: objects of
  its types and what they alone keep alive). New objects that several kinds of roots
  reach (a module's cache and a thread's local, say) are kept: no single object
  dominates them, and their holder is then found on their paths from the roots. A top
  object's exclusive size is its retained size less that of the top objects inside it; a
  kind's score is the sum of the exclusive sizes of its top objects. Kinds that grew
  (count) and score are the suspects, highest score first (down to `MINOR` of the first
  one's score), each held by an object of the program (not only by roots, not by
  leakscope's own bookkeeping).

A suspect's *holder* (the accumulation point) is the object that dominates most of its new
instances among their nearest dominators that existed before (in the first dump): the list
they are appended to, the dict they are stored in. ``share`` is the fraction of the new
instances it holds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from leakscope.client.analysis.heapgraph import HeapGraph, require
from leakscope.client.dumps import Client as DumpSource
from leakscope.client.reports import LeakHolder, LeakSite, LeakSuspect, RetentionPath

if TYPE_CHECKING:
    from leakscope.client.dumps import Dump
    from leakscope.client.reports import LeaksReport


class Watched(DumpSource, Protocol):
    """What `watch` needs of a live process's client (`leakscope.client.api.Client`)."""

    def trace_start(self, seconds: float) -> bool: ...

    def trace_stop(self) -> Any: ...

    def leak_sites(self, kinds: tuple[str, ...]) -> dict[str, Any]: ...


#: A suspect must keep alive at least this share of what the first suspect keeps alive.
MINOR = 0.05
ATOMS = frozenset({"str", "bytes", "int", "float", "complex", "bool", "bytearray"})
CARRIERS = frozenset(
    {
        "tuple",
        "list",
        "dict",
        "set",
        "frozenset",
        "collections.deque",
        "collections.OrderedDict",
        "collections.defaultdict",
        "types.CellType",
        "types.MethodType",
    }
)


def new_objects(before: HeapGraph, after: HeapGraph) -> Any:
    """A bool per node of ``after``: True unless ``before`` had the same id with the same type."""
    np, _ = require()
    found = before.node_of(after.ids)
    translate = np.full(len(before.type_names), -1, np.int64)
    index = {name: i for i, name in enumerate(after.type_names)}
    for i, name in enumerate(before.type_names):
        translate[i] = index.get(name, -1)
    same = np.zeros(after.n, bool)
    hit = found >= 0
    same[hit] = translate[before.types[found[hit]]] == after.types[hit]
    return ~same


def watch(
    client: Watched,
    interval: float,
    sites: bool,
    limit: int,
    take: Callable[[str], Dump] | None = None,
    say: Callable[[str], None] = lambda message: None,
) -> tuple[LeaksReport, HeapGraph, HeapGraph]:
    """Watch a live process for *interval* seconds: a heap dump, the wait (creation sites
    traced meanwhile with *sites*, and tracing stopped afterwards whatever happens), a
    second dump; the suspects, and the two graphs. *take* makes a dump (its argument says
    which: " (before)" or " (after)"); by default `leakscope.client.dumps.take`."""
    from leakscope.client import dumps
    from leakscope.client.reports import LeaksReport

    def default(which: str) -> Dump:
        return dumps.take(client)

    take = take or default
    before = HeapGraph(take(" (before)"), f"pid {client.pid}")
    traced = client.trace_start(interval + 300.0) if sites else False
    found: Mapping[str, Mapping[str, Any]] = {}
    try:
        say(f"waiting {interval:g} s for the leak to grow...")
        time.sleep(interval)
        if sites:
            found = client.leak_sites(())
    finally:
        if traced:
            client.trace_stop()
    after = HeapGraph(take(" (after)"), f"pid {client.pid}")
    say("computing the dominator tree...")
    note = None
    if sites and not traced:
        note = "tracemalloc was already on in the program: its traces were used"
    # What grew, grew between the two dumps: their times apart, not the interval asked
    # (a dump of a large heap takes seconds of its own).
    seconds = dump_seconds(before, after) or interval
    ranked = suspects(before, after, seconds, limit, found)
    report = LeaksReport(client.pid, round(seconds, 3), ranked, sites_asked=sites, note=note)
    return report, before, after


def dump_seconds(before: HeapGraph, after: HeapGraph) -> float:
    """Seconds from one dump to the other (negative when given newest first; 0 unknown)."""
    try:
        return float(after.dump.meta.get("time", 0.0)) - float(before.dump.meta.get("time", 0.0))
    except (TypeError, ValueError):
        return 0.0


def seconds_text(seconds: float) -> str:
    """``4.4``, ``30``, ``3,600``: a duration as a finding says it."""
    if abs(seconds) >= 100:
        return f"{seconds:,.0f}"
    return f"{seconds:.1f}".removesuffix(".0")


def kind_totals(graph: HeapGraph) -> tuple[dict[str, int], dict[str, int]]:
    """Count and total shallow size per kind (types that share a name summed, as a census)."""
    np, _ = require()
    kinds = len(graph.type_names)
    counts = np.bincount(graph.types, minlength=kinds)
    sizes = np.bincount(graph.types, weights=graph.sizes, minlength=kinds)
    count_of: dict[str, int] = {}
    size_of: dict[str, int] = {}
    for i, name in enumerate(graph.type_names):
        if counts[i]:
            count_of[name] = count_of.get(name, 0) + int(counts[i])
            size_of[name] = size_of.get(name, 0) + int(sizes[i])
    return count_of, size_of


def growing_kinds(before: HeapGraph, after: HeapGraph, limit: int = 20) -> list[str]:
    """Kinds whose count grew, largest growth in bytes first (candidates for sites)."""
    count_a, size_a = kind_totals(before)
    count_b, size_b = kind_totals(after)
    grew = [k for k in count_b if count_b[k] > count_a.get(k, 0)]
    grew.sort(key=lambda k: -(size_b[k] - size_a.get(k, 0)))
    return grew[:limit]


def suspects(
    before: HeapGraph,
    after: HeapGraph,
    interval_s: float,
    limit: int = 5,
    sites: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[LeakSuspect, ...]:
    """The leak suspects between two dumps of one process, best first (see the module doc)."""
    np, _ = require()
    dom = after.dominators
    n, total = after.n, after.total
    fresh = np.zeros(total, bool)
    fresh[:n] = new_objects(before, after)
    names = after.type_names
    atom_kind = np.array([name in ATOMS for name in names], bool)
    carrier_kind = np.array([name in CARRIERS for name in names], bool)
    plain = np.zeros(total, bool)
    plain[:n] = atom_kind[after.types] | carrier_kind[after.types]
    new_any = dom.nearest(fresh)
    new_owner = dom.nearest(fresh & ~plain)
    owner = np.where(plain, new_any, new_owner)
    top = fresh & (owner < 0)
    # New objects only reachable from the C-held roots are garbage waiting for the
    # collector (or C's own): no suspects. Nor is leakscope's own bookkeeping.
    c_root = np.zeros(total, bool)
    c_root[after.H[2]] = True
    held = dom.nearest(c_root) < 0
    top &= held
    old_holder = dom.nearest(~fresh)
    top &= old_holder != after.H[2]
    # leakscope's own bookkeeping: objects of its types, and what they alone keep alive
    # (the weak references and times of its registry's records).
    own_kind = np.array([name.startswith("leakscope.") for name in names], bool)
    own = np.zeros(total, bool)
    own[:n] = own_kind[after.types]
    top &= ~own & (dom.nearest(own) < 0)
    above = dom.nearest(top)
    inner = np.flatnonzero(top & (above >= 0))
    retained = dom.retained_size.astype(np.float64)
    inside = np.zeros(total, np.float64)
    np.add.at(inside, above[inner], retained[inner])
    exclusive = retained - inside
    tops = np.flatnonzero(top[:n])
    kinds = len(names)
    score = np.bincount(after.types[tops], weights=exclusive[tops], minlength=kinds)
    count_a, size_a = kind_totals(before)
    count_b, size_b = kind_totals(after)
    ranked = [
        int(k)
        for k in np.argsort(-score, kind="stable")
        if score[k] > 0 and count_b.get(names[k], 0) > count_a.get(names[k], 0)
    ][: 4 * limit]  # some are dropped below (no holder of the program's)
    # Kinds whose new objects keep alive a sliver of what the first one's do are noise.
    ranked = [k for k in ranked if score[k] >= MINOR * score[ranked[0]]]
    out = []
    for k in ranked:
        kind = names[k]
        # Its new objects that the program holds: not garbage, nor those made while the
        # dump ran and added to a container already walked (no referrer in the dump).
        members = np.flatnonzero(fresh[:n] & (after.types == k) & held[:n])
        holder = _holder(after, old_holder[members]) if len(members) else None
        if len(members) and (holder is None or holder.id == 0 or holder.share < 0.5):
            # No one object dominates them (several roots reach them): the holder is then
            # the first old object on their paths from the roots.
            holder = _holder(after, _first_old_on_paths(after, fresh, members)) or holder
        if holder is None or holder.id == 0 or _is_own(holder):
            # Held by no object of the program (only by roots: a thread's frame, C code,
            # garbage) or by leakscope's own bookkeeping: not the program's leak.
            continue
        found = (sites or {}).get(kind) or {}
        site_rows = tuple(
            LeakSite(str(r.get("site", "?")), str(r.get("function", "")), int(r.get("count", 0)))
            for r in found.get("sites") or ()
        )
        suspect = LeakSuspect(
            kind=kind,
            count_before=count_a.get(kind, 0),
            count_after=count_b.get(kind, 0),
            size_delta=size_b.get(kind, 0) - size_a.get(kind, 0),
            retained_size=int(score[k]),
            holder=holder,
            sites=site_rows,
            finding="",
            sites_source=found.get("source"),
        )
        out.append(_with_finding(suspect, interval_s))
        if len(out) == limit:
            break
    return tuple(out)


def _is_own(holder: LeakHolder) -> bool:
    """True when the holder belongs to leakscope: its type, or its path's root module."""
    root = holder.path.root or ""
    return holder.type.startswith("leakscope.") or root.startswith("module leakscope.")


def _first_old_on_paths(graph: HeapGraph, fresh: Any, members: Any) -> Any:
    """For each member, the first object that is not new on its way up its path from a
    root (the breadth-first tree of `HeapGraph.path`); -1 where none is found."""
    np, _ = require()
    dom = graph.dominators
    dom.chain(int(members[0]))  # makes the breadth-first parents
    parents = dom._parents
    nodes = members.copy()
    # Peeled members have one referrer: their immediate dominator, until a node that is
    # in the reduced graph (shared leaves have no single way up: left out).
    for _ in range(64):
        down = ~dom.alive[nodes] & ~dom.shared[nodes] & fresh[nodes]
        if not down.any():
            break
        nodes = np.where(down, dom.idom[nodes], nodes)
    out = np.full(len(nodes), -1, np.int64)
    done = ~fresh[nodes]
    out[done] = nodes[done]
    live = ~done & dom.alive[nodes]
    cur = np.where(live, dom.renumber[nodes], -1)
    for _ in range(10_000):
        going = live & ~done & (cur >= 0)
        if not going.any():
            break
        cur = np.where(going, parents[np.maximum(cur, 0)], cur)
        node = np.where(cur >= 0, dom.kept[np.maximum(cur, 0)], -1)
        hit = going & (node >= 0) & ~fresh[np.maximum(node, 0)]
        out[hit] = node[hit]
        done |= hit
    return out


def _holder(graph: HeapGraph, holders: Any) -> LeakHolder | None:
    np, _ = require()
    holders = holders[holders >= 0]
    if not len(holders):
        return None
    values, counts = np.unique(holders, return_counts=True)
    best = int(values[int(np.argmax(counts))])
    share = float(counts.max()) / float(len(holders))
    dom = graph.dominators
    if best >= graph.n:  # a root itself: a thread's frame, or the roots of C-held objects
        what = graph.frames[best - graph.n] if best < graph.S else "roots"
        path = RetentionPath(found=best < graph.S, root=what)
        return LeakHolder(graph.type_of(best), 0, path, 0, 0, round(share, 4), what)
    return LeakHolder(
        type=graph.type_of(best),
        id=int(graph.ids[best]),
        path=graph.path(best),
        retained_size=int(dom.retained_size[best]),
        retained_count=int(dom.retained_count[best]),
        share=round(share, 4),
        repr=graph.describe(best),
    )


def path_text(path: RetentionPath) -> str:
    """A path on one line: ``module app → .audit → .pending``."""
    if not path.found:
        return "no path from a root"
    return " → ".join([path.root or "?", *(edge.label for edge in path.edges)])


def _size(n: float) -> str:
    # The finding is words, made here (renderers format tables, not sentences).
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def _with_finding(suspect: LeakSuspect, interval_s: float) -> LeakSuspect:
    short = suspect.kind.rsplit(".", 1)[-1]
    text = (
        f"{suspect.count_delta:+,} {short} objects in {seconds_text(interval_s)} s "
        f"({_size(suspect.retained_size)} kept alive by them)"
    )
    holder = suspect.holder
    if holder is not None:
        text += (
            f"; {holder.share:.0%} of the new ones are held by the {holder.type} at "
            f"{path_text(holder.path)}"
        )
    if suspect.sites:
        first = suspect.sites[0]
        where = f"{first.function}() at {first.site}" if first.function else first.site
        text += f"; made in {where}"
    return replace(suspect, finding=text + ".")
