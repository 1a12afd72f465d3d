"""One record: the live objects of one class under one owner (and one site).

``refs[i]`` is a weak reference to the i-th object created and ``times[i]``
its creation time, in creation order, so the oldest live object is the first
entry not yet dead, found from a head index that only moves forward. ``dead``
gets one entry per death (from the weak reference callback), so the live
count is births minus deaths, where births = len(refs) + removed_refs and
deaths = len(dead) + removed_dead. Dead entries are squeezed out once they
outnumber the live ones.

Creation appends without a lock. Compaction and head moves take `LOCK`
without blocking (a weak reference callback may run in any thread, even one
already inside the registry, and must never wait). Readers take no lock: a
generation number that compaction makes odd while it works tells them to read
again (`Record.consistent`); one that keeps failing for `READ_PATIENCE_S`
raises `RegistryBusy` rather than answering 0.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from array import array
from collections.abc import Callable
from itertools import compress
from operator import attrgetter
from typing import Any, TypeVar
from weakref import ref

log = logging.getLogger("leakscope.registry")

# Below this many dead entries a record is not worth compacting.
COMPACT_MIN = 64
_CHUNK = 16384
#: Seconds a reader retries while compactions keep changing a record.
READ_PATIENCE_S = 2.0

_callback_of = attrgetter("__callback__")
_T = TypeVar("_T")


class RegistryBusy(RuntimeError):
    """A record kept changing under a reader for `READ_PATIENCE_S`; the read gave up."""


class _Locks:
    """The registry's locks, replaced in a forked child (a thread holding one may not exist)."""

    def __init__(self) -> None:
        self.compact = threading.Lock()
        self.names = threading.Lock()

    def after_fork_in_child(self) -> None:
        self.compact = threading.Lock()
        self.names = threading.Lock()


LOCKS = _Locks()


class Record:
    """Live objects of one class under one owner (and one site, when on).

    Compaction only rewrites entries below the lengths it saw on entry, with
    slice operations (each atomic under the GIL), so appends racing with it
    land intact after them.
    """

    __slots__ = (
        "cls_ref",
        "owner",
        "site",
        "refs",
        "times",
        "dead",
        "head",
        "gen",
        "removed_refs",
        "removed_dead",
        "holes",
        "died",
        "__weakref__",
    )

    def __init__(self, cls: type, owner: str | None, site: str | None) -> None:
        self.owner = owner
        self.site = site
        self.refs: list[ref[Any]] = []
        self.times = array("d")
        self.dead: list[None] = []
        self.head = 0
        self.gen = 0  # odd while a compaction rewrites refs/times
        self.removed_refs = 0
        self.removed_dead = 0
        self.holes = 0
        self.cls_ref: ref[type] = ref(cls)
        dead = self.dead
        dead_append = dead.append
        refs = self.refs
        me = ref(self)

        def died(_wr: object, compact_min: int = COMPACT_MIN) -> None:
            dead_append(None)
            n_dead = len(dead)
            if n_dead > compact_min and 2 * n_dead > len(refs):
                record = me()
                # Runs in whatever thread dropped the object, maybe during
                # interpreter shutdown: never let an error reach the host.
                with contextlib.suppress(Exception):
                    if record is not None:
                        record.compact()

        self.died = died

    def hot(self) -> tuple[Any, Any, Any]:
        """What the creation path needs, in one tuple (unpacking beats attribute lookups)."""
        return (self.refs.append, self.times.append, self.died)

    # -- compaction ------------------------------------------------------------

    def compact(self) -> None:
        """Drop dead entries, if no one else is compacting right now."""
        lock = LOCKS.compact
        if not lock.acquire(blocking=False):
            return
        try:
            self.gen += 1
            try:
                self._squeeze()
            finally:
                self.gen += 1
        finally:
            lock.release()

    def _squeeze(self) -> None:
        # Slice assignments and deletions are each atomic under the GIL;
        # appends racing with this land after ``end`` and are not touched.
        refs, times, dead = self.refs, self.times, self.dead
        end = min(len(refs), len(times))
        deaths = len(dead) + self.holes
        # Objects mostly die oldest first: drop the dead prefix in one go.
        prefix = 0
        while prefix < end:
            stop = min(prefix + _CHUNK, end)
            # __callback__ is cleared when the object dies; reading it takes
            # no strong reference, so no user code can run here.
            alive = list(map(_callback_of, refs[prefix:stop]))
            first_alive = next(compress(range(len(alive)), alive), None)
            if first_alive is not None:
                prefix += first_alive
                break
            prefix = stop
        # In pieces: freeing the dead weak references is the slow part, and
        # other threads get the GIL between pieces.
        left = prefix
        while left:
            piece = min(left, 4 * _CHUNK)
            del refs[:piece]
            del times[:piece]
            left -= piece
        end -= prefix
        removed = prefix
        holes = max(deaths - prefix, 0)
        if holes * 4 > end:
            removed += self._fill_holes(end)
            holes = 0
        self.holes = holes  # dead entries left behind, roughly
        k = len(dead)
        del dead[:k]
        self.removed_refs += removed
        self.removed_dead += k
        self.head = 0

    def _fill_holes(self, end: int) -> int:
        """Remove dead entries from ``[:end]``, chunk by chunk so that other
        threads get the GIL in between. Returns how many went."""
        refs, times = self.refs, self.times
        pos = removed = 0
        while pos < end:
            stop = min(pos + _CHUNK, end)
            seg = refs[pos:stop]
            alive = list(map(_callback_of, seg))
            n_alive = len(alive) - alive.count(None)
            if n_alive == len(alive):
                pos = stop
                continue
            refs[pos:stop] = list(compress(seg, alive))
            times[pos:stop] = array("d", compress(times[pos:stop], alive))
            gone = len(alive) - n_alive
            removed += gone
            end -= gone
            pos = stop - gone
        return removed

    # -- reading (any thread, no lock) ------------------------------------------

    def consistent(self, read: Callable[[], _T], what: str) -> tuple[_T, int]:
        """``(read(), generation)`` from a moment no compaction overlapped.

        Retries while a compaction runs (or ran meanwhile); raises
        `RegistryBusy`, after logging it, when that lasts `READ_PATIENCE_S`.
        ``read`` may raise IndexError when entries moved under it: it is retried.
        """
        deadline: float | None = None
        while True:
            g = self.gen
            if not g & 1:
                try:
                    value = read()
                except IndexError:
                    pass
                else:
                    if self.gen == g:
                        return value, g
            now = time.monotonic()
            if deadline is None:
                deadline = now + READ_PATIENCE_S
            elif now > deadline:
                cls = self.cls_ref()
                name = getattr(cls, "__qualname__", "?")
                log.warning("leakscope registry: gave up reading %s of %s", what, name)
                raise RegistryBusy(
                    f"the registry of {name} kept changing for {READ_PATIENCE_S:g} s "
                    f"while reading its {what}; try again"
                )
            time.sleep(0 if now - (deadline - READ_PATIENCE_S) < 0.01 else 0.001)

    def count(self) -> int:
        """Number of live objects (births minus deaths)."""
        n, _ = self.consistent(
            lambda: len(self.refs) + self.removed_refs - len(self.dead) - self.removed_dead,
            "count",
        )
        return max(n, 0)

    def _first_alive(self) -> tuple[int, float | None]:
        refs, times = self.refs, self.times
        i = self.head
        n = min(len(refs), len(times))
        while i < n and refs[i].__callback__ is None:
            i += 1
        return (i, times[i]) if i < n else (i, None)

    def oldest(self) -> tuple[int, float] | None:
        """(index, time) of the first entry not known dead; moves the head forward."""
        (i, t), g = self.consistent(self._first_alive, "oldest entry")
        if i > self.head and LOCKS.compact.acquire(blocking=False):
            try:
                if self.gen == g and self.head < i:
                    self.head = i
            finally:
                LOCKS.compact.release()
        return None if t is None else (i, t)

    def oldest_object(self) -> tuple[object, float] | None:
        """The oldest live object and its time (skips ones dying right now)."""

        def read() -> tuple[object, float] | None:
            refs, times = self.refs, self.times
            i, _ = self._first_alive()
            n = min(len(refs), len(times))
            while i < n:
                obj = refs[i]()
                if obj is not None:
                    return obj, times[i]
                i += 1
            return None

        found, _ = self.consistent(read, "oldest object")
        return found

    def snapshot(self) -> tuple[list[ref[Any]], array[float]]:
        """Consistent copies of the entries from the head on."""

        def read() -> tuple[list[ref[Any]], array[float]]:
            refs, times = self.refs, self.times
            head = self.head
            n = min(len(refs), len(times))
            r, t = refs[head:n], times[head:n]
            if len(r) != len(t):
                raise IndexError("entries moved")
            return r, t

        copies, _ = self.consistent(read, "entries")
        return copies

    def forget(self, obj: object) -> bool:
        """Stop counting *obj* (Scrapy's ``del live_refs[cls][obj]``); True if it was here.

        Its weak reference is swapped for a dead one and dropped, so its
        callback never runs; the death is booked by hand.
        """
        lock = LOCKS.compact
        while not lock.acquire(timeout=0.01):
            pass
        try:
            refs = self.refs
            for i in range(self.head, len(refs)):
                if refs[i]() is obj:
                    refs[i] = _DEAD_REF
                    self.dead.append(None)
                    return True
            return False
        finally:
            lock.release()


class _Gone:
    pass


def _dead_ref() -> ref[Any]:
    thing = _Gone()
    wr = ref(thing)
    del thing
    return wr


#: A weak reference whose object is gone and whose callback is None: a hole.
_DEAD_REF = _dead_ref()
