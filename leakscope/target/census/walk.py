"""Walk every object the interpreter holds, in chunks, letting other threads run.

``gc.get_objects()`` lists only the objects the GC tracks. Strings, ints,
floats, bytes, and the dicts and tuples the GC has untracked (those holding
only atoms) are reached through the containers that hold them: the walk
follows ``gc.get_referents`` from every tracked object, then from every
untracked container it finds, until nothing new turns up. Code objects are
not GC objects, so their constants, names and line tables are read through
their stored attributes.

Deduplicating what it finds is the costly part of such a walk (a set of ids
costs ~60 bytes an object). Most untracked objects have exactly one referrer
(the string in a row dict, the float in a tuple), and an object with one
reference can only be met once; so the walk reads the reference count and
keeps ids only of objects referenced more than once.

The walk never touches ``__dict__`` or other lazily created attributes (it
uses ``type()``, ``gc.get_referents``, ``sys.getrefcount``) and never calls
``gc.collect()``. It starts with a snapshot of the tracked objects taken
before it creates anything, so its own lists, sets and ints are never in what
it reports. Objects created or freed by other threads while it runs may be
missed or seen late: the figures are those of a live process.
"""

from __future__ import annotations

import gc
import sys
import time
import types
from collections import defaultdict
from collections.abc import Callable, Iterator
from itertools import filterfalse, islice

CHUNK = 4096
_SLICE = 1 << 16
_CODE_CHUNK = 512  # a code object's referents are read one attribute at a time
_HAVE_GC = 1 << 14
_FLAGS = type.__dict__["__flags__"]
_LEAF, _CONTAINER, _CODE = 0, 1, 2
# Stored attributes of a code object: reading them creates nothing (``co_code`` and
# ``co_varnames`` are built on demand, so they are not read).
CODE_FIELDS = (
    "co_consts",
    "co_names",
    "co_filename",
    "co_name",
    "co_qualname",
    "co_linetable",
    "co_exceptiontable",
)


class Pacer:
    """Gives the GIL away between chunks and remembers the longest stretch without a break."""

    def __init__(self, slice_s: float = 0.005, started: float | None = None) -> None:
        self.slice_s = slice_s
        # ``started`` lets the stretch that took the GC snapshot count as the first pause.
        self.started = self.last_break = time.perf_counter() if started is None else started
        self.max_pause_s = 0.0

    def tick(self) -> None:
        """Called between chunks: yields the GIL once the current stretch is long enough."""
        now = time.perf_counter()
        stretch = now - self.last_break
        if stretch >= self.slice_s:
            if stretch > self.max_pause_s:
                self.max_pause_s = stretch
            # sleep(0) drops the GIL; a thread that asked for it takes it before we go on.
            time.sleep(0)
            self.last_break = time.perf_counter()

    def finish(self) -> tuple[float, float]:
        """(elapsed seconds, longest stretch without a break) for the whole walk."""
        now = time.perf_counter()
        self.max_pause_s = max(self.max_pause_s, now - self.last_break)
        return now - self.started, self.max_pause_s


def _single_ref_baseline() -> int:
    # The count ``sys.getrefcount`` shows, inside ``_sort_found``'s loop, for an object that
    # one container holds: measured, not assumed, as it differs between versions.
    holder = [float(len(sys.argv) + 0.5)]
    refs = gc.get_referents(holder)
    getrc = sys.getrefcount
    for obj in filterfalse(gc.is_tracked, islice(iter(refs), _SLICE)):
        return getrc(obj)
    return 4


_SINGLE = _single_ref_baseline()


def _sort_found(refs: list, seen_ids: set[int], pacer: Pacer) -> defaultdict[type, list]:
    """The untracked objects in ``refs`` not met before, by exact type."""
    found: defaultdict[type, list] = defaultdict(list)
    getrc = sys.getrefcount
    single = _SINGLE
    remember = seen_ids.add
    is_tracked = gc.is_tracked
    items = iter(refs)
    # One huge container (a list of millions) must not hold the GIL in one go: take its
    # referents a slice at a time. Slicing the list itself would add a reference to each.
    for start in range(0, len(refs), _SLICE):
        if start:
            pacer.tick()
        # Keep this loop shaped like _single_ref_baseline's: the baseline depends on it.
        for obj in filterfalse(is_tracked, islice(items, _SLICE)):
            if getrc(obj) > single:
                key = id(obj)
                if key in seen_ids:
                    continue
                remember(key)
            found[type(obj)].append(obj)
    return found


def _locals_offsets() -> tuple[int, int] | None:
    """Word offsets of ``co_localsplusnames`` / ``co_localspluskinds`` in a code object.

    Python does not expose these two (``co_varnames`` builds a new tuple, and on
    3.12+ caches it in the code object), yet guppy3 counts them: a tuple of
    names and a bytes object per code object. They sit just before
    ``co_filename``, ``co_name`` and ``co_qualname`` in 3.11 to 3.13; the
    layout is found and checked on a probe code object, and not used if the
    check fails.
    """
    try:
        import ctypes

        def probe(a: int, b: int) -> int:
            c = a + b
            return c

        code = probe.__code__
        words = (
            ctypes.c_ssize_t * (code.__sizeof__() // ctypes.sizeof(ctypes.c_ssize_t))
        ).from_address(id(code))
        wanted = (id(code.co_filename), id(code.co_name), id(code.co_qualname))
        for index in range(2, len(words) - 3):
            if tuple(words[index : index + 3]) != wanted:
                continue
            names_at, kinds_at = words[index - 2], words[index - 1]
            head = (ctypes.c_ssize_t * 6).from_address(names_at)
            if head[1] != id(tuple) or head[2] != 3:
                return None
            if tuple(head[3:6]) != tuple(map(id, ("a", "b", "c"))):
                return None
            if (ctypes.c_ssize_t * 2).from_address(kinds_at)[1] != id(bytes):
                return None
            return index - 2, index - 1
    except Exception:
        return None
    return None


_LOCALS_OFFSETS = _locals_offsets()

_MANAGED_DICT = 1 << 4  # Py_TPFLAGS_MANAGED_DICT


def _hidden_dict_offset() -> int | None:
    """Byte offset of an instance's managed-dict pointer, where the GC cannot see the dict.

    On 3.13 an instance keeps its attribute values inline; once someone reads its
    ``__dict__`` a dict exists too, but ``gc.get_referents`` of the instance does not
    show it and the GC does not track it, so a walk would miss it (guppy3 counts it).
    The pointer sits just before the object header; its place is found and checked
    on a probe here (never on a user's object), and None is returned — nothing to
    do — where the dict is visible anyway (3.11, 3.12) or the check fails.
    """
    try:
        import ctypes

        class Probe:
            def __init__(self) -> None:
                self.x = 1

        shown, hidden = Probe(), Probe()
        materialised = shown.__dict__
        if any(r is materialised for r in gc.get_referents(shown)):
            return None
        if not type.__dict__["__flags__"].__get__(Probe) & _MANAGED_DICT:
            return None
        for offset in (-24, -32, -16):
            here = ctypes.c_ssize_t.from_address(id(shown) + offset).value
            if here == id(materialised):
                if ctypes.c_ssize_t.from_address(id(hidden) + offset).value != 0:
                    return None
                return offset
    except Exception:
        return None
    return None


_HIDDEN_DICT_OFFSET = _hidden_dict_offset()


def _hidden_dicts(by_type: dict[type, list]) -> list:
    """The materialised but invisible instance dicts of these objects (3.13)."""
    offset = _HIDDEN_DICT_OFFSET
    if offset is None:
        return []
    import ctypes

    word = ctypes.c_ssize_t.from_address
    as_object = ctypes.py_object.from_address
    flags = _FLAGS.__get__
    out = []
    for cls, objects in by_type.items():
        if not flags(cls) & _MANAGED_DICT:
            continue
        for obj in objects:
            address = id(obj) + offset
            if word(address).value:
                out.append(as_object(address).value)
    return out


def _code_referents(codes: list) -> list:
    refs: list = []
    for code in codes:
        for field in CODE_FIELDS:
            value = getattr(code, field, None)
            if value is not None:
                refs.append(value)
    if _LOCALS_OFFSETS is not None:
        import ctypes

        slot = ctypes.py_object.from_address
        names_at, kinds_at = (8 * offset for offset in _LOCALS_OFFSETS)
        for code in codes:
            address = id(code)
            try:
                refs.append(slot(address + names_at).value)
                refs.append(slot(address + kinds_at).value)
            except ValueError:  # a NULL slot
                pass
    return refs


class HeapWalk:
    """One walk over the heap; iterate `batches()` once.

    ``tracked`` must be ``gc.get_objects()`` taken by the caller before it
    created its own bookkeeping, so that bookkeeping stays out of the walk.
    With ``untracked=False`` the walk yields the tracked objects only: enough
    when looking for the referrers of a type whose instances are always
    tracked, since an untracked container can hold only untracked objects.
    """

    def __init__(
        self,
        tracked: list,
        *,
        max_objects: int | None = None,
        progress: Callable[[int], None] | None = None,
        pacer: Pacer | None = None,
        untracked: bool = True,
    ) -> None:
        self.tracked = tracked
        self.untracked = untracked
        self.max_objects = max_objects
        self.progress = progress
        self.pacer = pacer or Pacer()
        self.count = 0
        self.partial = False
        self._roles: dict[type, int] = {}

    def _role(self, cls: type) -> int:
        role = self._roles.get(cls)
        if role is None:
            if cls is types.CodeType:
                role = _CODE
            elif _FLAGS.__get__(cls) & _HAVE_GC:
                role = _CONTAINER
            else:
                role = _LEAF
            self._roles[cls] = role
        return role

    def _between_chunks(self, added: int) -> bool:
        """Book-keeping after a chunk; False when the walk must stop (max_objects)."""
        self.count += added
        self.pacer.tick()
        if self.progress is not None:
            try:
                self.progress(self.count)
            except Exception:
                self.progress = None
        if self.max_objects is not None and self.count >= self.max_objects:
            self.partial = True
            return False
        return True

    def batches(self) -> Iterator[dict[type, list]]:
        """Yield every object once, as {exact type: [objects]} per chunk; with
        ``max_objects``, exactly that many (the walk is then marked partial)."""
        if self.max_objects is None:
            yield from self._batches()
            return
        left = self.max_objects
        for batch in self._batches():
            size = sum(map(len, batch.values()))
            if size <= left:
                left -= size
                yield batch
                continue
            trimmed: dict[type, list] = {}
            for cls, objects in batch.items():
                if left <= 0:
                    break
                trimmed[cls] = objects[:left]
                left -= len(trimmed[cls])
            self.partial = True
            yield trimmed
            return

    def _batches(self) -> Iterator[dict[type, list]]:
        tracked = self.tracked
        get_referents = gc.get_referents
        seen_ids: set[int] = set()
        containers: list = []
        codes: list = []
        for start in range(0, len(tracked), CHUNK):
            chunk = tracked[start : start + CHUNK]
            own: defaultdict[type, list] = defaultdict(list)
            for obj in chunk:
                own[type(obj)].append(obj)
            yield own
            if not self.untracked:
                del chunk, own
                if not self._between_chunks(min(CHUNK, len(tracked) - start)):
                    return
                continue
            refs = get_referents(*chunk)
            if _HIDDEN_DICT_OFFSET is not None:
                refs.extend(_hidden_dicts(own))
            found = _sort_found(refs, seen_ids, self.pacer)
            del chunk, refs, own
            self._queue(found, containers, codes)
            yield found
            added = min(CHUNK, len(tracked) - start) + sum(map(len, found.values()))
            del found
            if not self._between_chunks(added):
                return
        while containers or codes:
            if codes:
                chunk = codes[-_CODE_CHUNK:]
                del codes[-_CODE_CHUNK:]
                refs = _code_referents(chunk)
            else:
                chunk = containers[-CHUNK:]
                del containers[-CHUNK:]
                refs = get_referents(*chunk)
            del chunk
            found = _sort_found(refs, seen_ids, self.pacer)
            del refs
            self._queue(found, containers, codes)
            yield found
            added = sum(map(len, found.values()))
            del found
            if not self._between_chunks(added):
                return

    def _queue(self, found: dict[type, list], containers: list, codes: list) -> None:
        for cls, objects in found.items():
            role = self._role(cls)
            if role == _CONTAINER:
                containers.extend(objects)
            elif role == _CODE:
                codes.extend(objects)
