"""Walk every object the interpreter holds, in chunks, letting other threads run.

``gc.get_objects()`` lists only the objects the GC tracks. Strings, ints,
floats, bytes, and the dicts and tuples the GC has untracked (those holding
only atoms) are reached through the containers that hold them: the walk
follows ``gc.get_referents`` from every tracked object, then from every
untracked container it finds, until nothing new turns up. Code objects are
not GC objects, so their constants, names and line tables are read through
their stored attributes. The GC does not show the keys of a dict whose keys
are all str (a str cannot be in a cycle): the walk reads the keys of every
dict itself (`_KeyFilter`), so a str that only a dict's key slot holds is
counted, once.

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
from itertools import chain, compress, filterfalse, islice, repeat
from operator import is_, is_not
from typing import Any

CHUNK = 4096
_SLICE = 1 << 16
_CODE_CHUNK = 512  # a code object's referents are read one attribute at a time
_HAVE_GC = 1 << 14
_FLAGS = type.__dict__["__flags__"]
_LEAF, _CONTAINER, _CODE, _DICT = 0, 1, 2, 3
#: Most shared str objects `_KeyFilter` remembers.
_KNOWN_KEYS = 1 << 14
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


_MODULE_DICT: Any = vars(types.ModuleType)["__dict__"]


def module_spaces() -> list[tuple[str, dict]]:
    """The namespace (``__dict__``) of each module in ``sys.modules``, once each, with the
    first name it is listed under: the roots of every walk that follows references."""
    spaces: list[tuple[str, dict]] = []
    seen: set[int] = set()
    for name, module in list(sys.modules.items()):
        if not isinstance(module, types.ModuleType):
            continue
        try:
            space = _MODULE_DICT.__get__(module)
        except Exception:
            continue
        if id(space) not in seen:
            seen.add(id(space))
            spaces.append((str(name), space))
    return spaces


def frame_locals(frame: types.FrameType, module_ids: set[int]) -> list[tuple[Any, Any]]:
    """The local variables of a frame, as (name, value) pairs; none for the frame of a
    module's own code, whose locals are that module's namespace (a root already: its
    globals are written ``module app → .name``, not as a thread's locals)."""
    try:
        local_map = frame.f_locals
        if local_map is frame.f_globals and id(local_map) in module_ids:
            return []
        return list(local_map.items())
    except Exception:
        return []


def stack_locals(
    module_ids: set[int], skip_leakscope: bool, max_frames: int | None = None
) -> Iterator[tuple[str, list[tuple[Any, Any]]]]:
    """The frames of the other threads (not the calling one; with ``skip_leakscope``, not
    leakscope's own threads either), innermost first, at most ``max_frames`` a thread: each
    as its root's name (``thread stack T frame f() line N``) and its `frame_locals`."""
    import _thread

    names: dict[int, str] = {}
    threading = sys.modules.get("threading")
    if threading is not None:
        for thread in threading.enumerate():
            if thread.ident is not None:
                names[thread.ident] = thread.name
    me = _thread.get_ident()
    for ident, top in sys._current_frames().items():
        name = names.get(ident, f"thread {ident}")
        if ident == me or (skip_leakscope and name.startswith("leakscope")):
            continue
        frame: types.FrameType | None = top
        depth = 0
        while frame is not None and (max_frames is None or depth < max_frames):
            where = f"thread stack {name} frame {frame.f_code.co_name}() line {frame.f_lineno}"
            yield where, frame_locals(frame, module_ids)
            frame = frame.f_back
            depth += 1


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


def _sort_found(
    refs: list, seen_ids: set[int], pacer: Pacer, shared: list | None = None
) -> defaultdict[type, list]:
    """The untracked objects in ``refs`` not met before, by exact type; those referred to
    more than once and met for the first time are also added to ``shared`` when given.

    (A Python loop: grouping by type with C loops, one pass per type, is slower for the
    four or five types a list of referents usually holds.)"""
    found: defaultdict[type, list] = defaultdict(list)
    getrc = sys.getrefcount
    single = _SINGLE
    remember = seen_ids.add
    note = shared.append if shared is not None else _ignore
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
                note(obj)
            found[type(obj)].append(obj)
    return found


def _ignore(_obj: object) -> None:
    return None


def group_by_type(objects: list) -> defaultdict[type, list]:
    """{exact type: [objects]}."""
    out: defaultdict[type, list] = defaultdict(list)
    for obj in objects:
        out[type(obj)].append(obj)
    return out


def _unrepeated(keys: list, length: int) -> list:
    """These keys less each that is the very object met ``length`` keys before (so counted
    there): for dicts of one shape, of that length, one key of each place in the dict."""
    if not length or len(keys) <= length:
        return keys
    kept = keys[:length]
    later = islice(keys, length, None)
    kept += compress(later, map(is_not, islice(keys, length, None), keys))
    return kept


def dict_keys(dicts: list, exact: bool) -> list:
    """The keys of these dicts (C loops; a subclass's own ``__iter__`` never runs)."""
    if exact:
        return list(chain.from_iterable(dicts))
    return list(chain.from_iterable(map(dict.keys, dicts)))


class _KeyFilter:
    """The str keys of dicts that ``gc.get_referents`` may not show, less those counted.

    A dict whose keys are all str does not show them to the GC (a str cannot be in a
    cycle), so a walk must read them itself. Most keys are shared: dicts of one shape
    (instance dicts, rows made by one literal, parsed JSON) hold the very same key
    objects in the same order. So the dicts are taken by length, and a key that is the
    very object at the same place in the dict before is dropped (it is read there), with
    C loops. Of what is left, the str objects already counted and held by several dicts
    (remembered by value, `learn`) are dropped too, before the reference-count step."""

    def __init__(self) -> None:
        self.known: dict[str, str] = {}

    def keys(self, dicts: list, exact: bool) -> list:
        # Dropping a key that is the very object met ``length`` keys before is right
        # whatever the lengths of the dicts; they only decide how many are dropped.
        keys = _unrepeated(dict_keys(dicts, exact), len(dicts[0]))
        strs = list(compress(keys, map(is_, map(type, keys), repeat(str))))
        del keys
        known = self.known
        if known and strs:
            strs = list(compress(strs, map(is_not, strs, map(known.get, strs))))
        return strs

    def learn(self, shared: list) -> None:
        """Remember the str objects just counted that more than one holder refers to."""
        known = self.known
        if shared and len(known) < _KNOWN_KEYS:
            strs = list(compress(shared, map(is_, map(type, shared), repeat(str))))
            known.update(zip(strs, strs, strict=True))


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
        self._key_filter = _KeyFilter()

    def _role(self, cls: type) -> int:
        role = self._roles.get(cls)
        if role is None:
            if cls is types.CodeType:
                role = _CODE
            elif issubclass(cls, dict):
                role = _DICT
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

    def _keys(self, batch: dict[type, list]) -> list:
        """The str keys of the dicts in ``batch`` not counted yet (see `_KeyFilter`)."""
        out: list = []
        for cls, objects in batch.items():
            if self._role(cls) == _DICT:
                out += self._key_filter.keys(objects, cls is dict)
        return out

    def _batches(self) -> Iterator[dict[type, list]]:
        tracked = self.tracked
        get_referents = gc.get_referents
        seen_ids: set[int] = set()
        containers: list = []
        codes: list = []
        dicts: list = []
        subclassed: list = []
        queues = (containers, codes, dicts, subclassed)
        shared: list = []
        keys = self._key_filter
        for start in range(0, len(tracked), CHUNK):
            chunk = tracked[start : start + CHUNK]
            own = group_by_type(chunk)
            yield own
            if not self.untracked:
                del chunk, own
                if not self._between_chunks(min(CHUNK, len(tracked) - start)):
                    return
                continue
            refs = get_referents(*chunk)
            if _HIDDEN_DICT_OFFSET is not None:
                refs.extend(_hidden_dicts(own))
            refs += self._keys(own)
            del chunk, own
            found = _sort_found(refs, seen_ids, self.pacer, shared)
            del refs
            keys.learn(shared)
            del shared[:]
            self._queue(found, queues)
            yield found
            added = min(CHUNK, len(tracked) - start) + sum(map(len, found.values()))
            del found
            if not self._between_chunks(added):
                return
        while any(queues):
            if codes:
                chunk = codes[-_CODE_CHUNK:]
                del codes[-_CODE_CHUNK:]
                refs = _code_referents(chunk)
            elif dicts or subclassed:
                exact = bool(dicts)
                todo = dicts if exact else subclassed
                chunk = todo[-CHUNK:]
                del todo[-CHUNK:], todo
                refs = get_referents(*chunk)
                refs += keys.keys(chunk, exact)
            else:
                chunk = containers[-CHUNK:]
                del containers[-CHUNK:]
                refs = get_referents(*chunk)
            del chunk
            found = _sort_found(refs, seen_ids, self.pacer, shared)
            del refs
            keys.learn(shared)
            del shared[:]
            self._queue(found, queues)
            yield found
            added = sum(map(len, found.values()))
            del found
            if not self._between_chunks(added):
                return

    def _queue(self, found: dict[type, list], queues: tuple[list, list, list, list]) -> None:
        """Untracked containers wait for their referents: (others, code, dicts, dict
        subclasses)."""
        containers, codes, dicts, subclassed = queues
        for cls, objects in found.items():
            role = self._role(cls)
            if role == _CONTAINER:
                containers += objects
            elif role == _DICT:
                if cls is dict:
                    dicts += objects
                else:
                    subclassed += objects
            elif role == _CODE:
                codes += objects
