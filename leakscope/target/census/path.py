"""The retention path of one object: the chain of references from a root that keeps it alive.

Breadth first from the roots, level by level (no recursion: a linked list of a
million nodes is a million levels, not a million stack frames), in chunks of
``gc.get_referents``; the walk keeps every level so that, once it meets the
object, it can go back up one level at a time to a root. Like the census, it
keeps ids only of objects referenced more than once.

Roots, in order (the first that reaches the object wins):

1. module globals, through ``sys.modules``: ``module myapp``;
2. the stacks of the other threads, through ``sys._current_frames()``:
   ``thread stack MainThread frame f() line 12``. On 3.11/3.12 reading a
   frame's locals refreshes its ``f_locals`` dict (as ``inspect`` and
   debuggers do), so this phase runs only when modules do not reach the object;
3. the same roots with weak references followed (marked ``weak``): the
   object is then only weakly reachable;
4. the referrers the GC knows, followed back until none is left: the object
   is held by C code or is garbage in a cycle.
"""

from __future__ import annotations

import gc
import sys
import types
import weakref
from collections.abc import Callable, Iterable
from itertools import islice, repeat
from operator import is_
from typing import Any

from leakscope.target.census.kinds import type_kind
from leakscope.target.census.labels import Labeller
from leakscope.target.census.walk import CHUNK, CODE_FIELDS, Pacer, module_spaces, stack_locals

_REF_CALL = weakref.ref.__call__

#: Searches of one path: the heap may change under a search (the program runs between its
#: chunks), so that the way back up from the object is lost; it is searched again.
ATTEMPTS = 3


def _single_ref_baseline() -> int:
    holder = [float(len(sys.argv) + 0.25)]
    refs = gc.get_referents(holder)
    getrc = sys.getrefcount
    for obj in islice(iter(refs), _SLICE):
        return getrc(obj)
    return 4


_SLICE = 1 << 16
_SINGLE = _single_ref_baseline()


def _fresh(refs: list, seen_ids: set[int], pacer: Pacer) -> list:
    """Objects of ``refs`` not met before."""
    out = []
    getrc = sys.getrefcount
    single = _SINGLE
    remember = seen_ids.add
    items = iter(refs)
    for start in range(0, len(refs), _SLICE):
        if start:
            pacer.tick()
        # Shaped like _single_ref_baseline's loop: the baseline depends on it.
        for obj in islice(items, _SLICE):
            if getrc(obj) > single:
                key = id(obj)
                if key in seen_ids:
                    continue
                remember(key)
            out.append(obj)
    return out


def _referents(chunk: list, weak: bool) -> list:
    refs = gc.get_referents(*chunk)
    for obj in chunk:
        cls = type(obj)
        if cls is types.CodeType:
            refs.extend(v for v in (getattr(obj, f, None) for f in CODE_FIELDS) if v is not None)
        elif weak and issubclass(cls, weakref.ref):
            referent = _REF_CALL(obj)
            if referent is not None:
                refs.append(referent)
    return refs


def _refers_to(container: object, obj: object, weak: bool) -> bool:
    return any(map(is_, _referents([container], weak), repeat(obj)))


class _Search:
    """One breadth-first search from a set of roots."""

    def __init__(self, target: object, budget: int | None, pacer: Pacer) -> None:
        self.target = target
        self.budget = budget
        self.pacer = pacer
        self.visited = 0
        self.exhausted = False

    def run(self, roots: list, seen_ids: set[int], weak: bool) -> list | None:
        """The chain [root object, ..., target] or None."""
        target = self.target
        levels: list[list] = [roots]
        if any(map(is_, roots, repeat(target))):
            return [target]
        while levels[-1]:
            level = levels[-1]
            nxt: list = []
            for start in range(0, len(level), CHUNK):
                new = _fresh(_referents(level[start : start + CHUNK], weak), seen_ids, self.pacer)
                self.visited += len(new)
                if any(map(is_, new, repeat(target))):
                    return self._chain(levels, start, weak)
                nxt.extend(new)
                self.pacer.tick()
                if self.budget is not None and self.visited >= self.budget:
                    self.exhausted = True
                    return None
            levels.append(nxt)
        return None

    def _chain(self, levels: list[list], start: int, weak: bool) -> list:
        # Go back up: in each level find the object that refers to the one below.
        child = self.target
        chain = [child]
        chunk_start: int | None = start
        for level in reversed(levels):
            parent = _find_parent(level, child, chunk_start, weak)
            chain.append(parent)
            child = parent
            chunk_start = None
        chain.reverse()
        return chain


def _find_parent(level: list, child: object, chunk_start: int | None, weak: bool) -> object:
    starts: Iterable[int] = (
        [chunk_start] if chunk_start is not None else range(0, len(level), CHUNK)
    )
    for start in starts:
        chunk = level[start : start + CHUNK]
        if any(map(is_, _referents(chunk, weak), repeat(child))):
            for container in chunk:
                if _refers_to(container, child, weak):
                    return container
    raise LookupError("retention path lost its parent")  # the heap changed under us


def _module_roots() -> tuple[list, dict[int, str]]:
    spaces = module_spaces()
    return [space for _, space in spaces], {id(space): f"module {n}" for n, space in spaces}


def _thread_roots() -> tuple[list, dict[int, str], dict[int, str]]:
    """Local values of the other threads' frames: (values, root names, edge labels)."""
    module_ids = {id(space) for _, space in module_spaces()}
    values: list = []
    roots: dict[int, str] = {}
    labels: dict[int, str] = {}
    for where, local_items in stack_locals(module_ids, skip_leakscope=False):
        for name, value in local_items:
            if id(value) not in roots:
                values.append(value)
                roots[id(value)] = where
                labels[id(value)] = f"local {name}"
    return values, roots, labels


def _global_name(space: dict, value: object) -> str | None:
    """``.name`` for the global ``name`` of a module namespace that holds ``value``, as
    one writes it from outside the module (``app.audit``), not ``['audit']``."""
    try:
        items = list(space.items())
    except Exception:
        return None
    for key, held in items:
        if held is value and type(key) is str and key.isidentifier():
            return f".{key}"
    return None


def _identity(wanted: object) -> Callable[[object], bool]:
    return lambda candidate: candidate is wanted


def _edges(chain: list, labels: Labeller, weak: bool) -> list[dict[str, Any]]:
    edges = []
    for parent, child in zip(chain, chain[1:], strict=False):
        found = labels.edges(parent, _identity(child), exact=True)
        is_weak = weak and issubclass(type(parent), weakref.ref) and not found
        label = found[0][0] if found else ("()" if is_weak else "?")
        edges.append(
            {
                "from_kind": type_kind(type(parent)),
                "label": label,
                "to_kind": type_kind(type(child)),
                "weak": is_weak,
            }
        )
    return edges


def retention_path(obj: object, *, max_objects: int | None = None) -> dict[str, Any]:
    """The chain of references from a root to ``obj``; see the module docstring for roots.

    Returns {"found", "elapsed_s", "max_pause_s", "partial", "root", "edges": [{"from_kind",
    "label", "to_kind", "weak"}]}; the first edge starts at the root (``from_kind`` is the
    root's own description, e.g. ``module myapp``). When the program changed the heap
    under every attempt, the answer is not found, with ``"changing": true``.
    """
    for _ in range(ATTEMPTS - 1):
        try:
            return _retention_path(obj, max_objects)
        except (LookupError, RuntimeError):  # lost its parent; a dict changed size
            continue
    try:
        return _retention_path(obj, max_objects)
    except (LookupError, RuntimeError):
        return {"found": False, "root": None, "edges": [], "partial": True, "changing": True}


def _retention_path(obj: object, max_objects: int | None) -> dict[str, Any]:
    pacer = Pacer()
    search = _Search(obj, max_objects, pacer)
    labels = Labeller()
    answer: dict[str, Any] = {"found": False, "root": None, "edges": [], "partial": False}
    chain: list | None = None
    root = ""
    first_label: str | None = None
    weak = False
    for weak in (False, True):
        roots, names = _module_roots()
        seen_ids = set(names)
        chain = search.run(roots, seen_ids, weak)
        if chain is not None:
            root = names.get(id(chain[0]), "module ?")
            break
        if search.exhausted:
            break
        values, where, local_labels = _thread_roots()
        chain = search.run(values, set(where), weak) if values else None
        del values
        if chain is not None:
            root = where.get(id(chain[0]), "thread stack ?")
            first_label = local_labels.get(id(chain[0]))
            break
        if search.exhausted:
            break
    if chain is not None:
        edges = _edges(chain, labels, weak)
        if root.startswith("module "):
            # The module's dict is the root: the first edge starts at the module itself.
            if edges:
                edges[0]["from_kind"] = root
                edges[0]["label"] = _global_name(chain[0], chain[1]) or edges[0]["label"]
        else:
            edges.insert(
                0,
                {
                    "from_kind": root.split(" frame ", 1)[-1].split(" line ")[0],
                    "label": first_label or "local ?",
                    "to_kind": type_kind(type(chain[0])),
                    "weak": False,
                },
            )
        answer.update(found=True, root=root, edges=edges)
    elif not search.exhausted:
        search.target = None  # else the search itself is a referrer
        answer.update(_referrer_chain(obj))
    answer["partial"] = search.exhausted
    elapsed, pause = pacer.finish()
    answer["elapsed_s"] = round(elapsed, 6)
    answer["max_pause_s"] = round(pause, 6)
    return answer


def _referrer_chain(obj: object, steps: int = 64) -> dict[str, Any]:
    """Follow the GC's referrers back from ``obj`` until none is left (C-held or garbage)."""
    chain = [obj]
    on_chain = {id(obj)}
    labels = Labeller()
    while len(chain) <= steps:
        referrers = [
            r
            for r in gc.get_referrers(chain[-1])
            if r is not chain and id(r) not in on_chain and type(r) is not types.FrameType
        ]
        if not referrers:
            break
        chain.append(referrers[0])
        on_chain.add(id(referrers[0]))
    chain.reverse()
    edges = _edges(chain, labels, weak=False)
    top = type_kind(type(chain[0]))
    return {
        "found": len(chain) > 1,
        "root": f"{top} that nothing the GC tracks refers to (held by C code, or garbage)",
        "edges": edges,
    }
