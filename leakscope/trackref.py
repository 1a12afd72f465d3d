"""Registry of live tracked objects, with Scrapy's names and meanings.

Subclass :class:`object_ref` (or decorate a class you cannot change with
:func:`track`) and every instance is recorded with its creation time. Then
``prefs()`` prints how many are alive per class and how old the oldest is,
``get_oldest(name)`` returns that oldest object and ``iter_all(name)`` walks
them oldest first -- the same calls as ``scrapy.utils.trackref``.

What it costs, and why it is built this way:

* Creating a tracked object adds one weak reference with a shared callback,
  one list slot and one float in an ``array('d')`` (about 100 bytes, no lock,
  no hashing of the object: unhashable objects and ones that define
  ``__eq__`` are fine). Scrapy adds a WeakKeyDictionary entry (more bytes,
  more time, and the object must be hashable).
* Per class (and per owner, and per creation site when sites are on) the
  records are append-only, so they are in creation order: the oldest live
  object is the first entry not yet dead, found from a head index that only
  moves forward. Counts come from the weak reference callbacks. So reports
  are O(number of classes), not O(number of objects). Dead entries are
  squeezed out once they outnumber the live ones.
* Classes are held weakly: a class made at run time and dropped leaves the
  registry once its instances are gone.
* Creation takes no lock, and costs the same inside an :class:`owner` as
  outside (the owner is a small int in a context variable). Readers (the
  agent thread) never block: they use a generation number that compaction
  makes odd while it works, and retry. One approximation: when two threads
  create objects of the same class at the same instant, their creation times
  may be swapped (an error of at most one thread switch).
* Creation sites (``set_track_sites(True)``) walk the stack on every
  creation: several times slower, so off unless asked for.

``LEAKSCOPE_TRACK_REFS=0`` at import turns tracking off: ``object_ref`` then
has no ``__new__`` at all and :func:`track` returns the class untouched.
``LEAKSCOPE_TRACK_SITES=1`` at import records creation sites (slower).

It can also read Scrapy's own registry, when Scrapy has loaded it, so Scrapy
users change no class (:func:`scrapy_class_stats`).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import heapq
import inspect
import os
import sys
import sysconfig
import threading
import time
from array import array
from collections.abc import Callable, Iterator, Mapping
from itertools import compress
from operator import attrgetter, itemgetter
from types import NoneType
from typing import Any, NamedTuple, TypeVar
from weakref import getweakrefcount, getweakrefs, ref

from leakscope.describe import qualified_name

__all__ = [
    "ClassStat",
    "all_class_names",
    "class_stats",
    "find_classes",
    "format_live_refs",
    "get_oldest",
    "iter_all",
    "iter_objects",
    "live_refs",
    "object_ref",
    "owner",
    "prefs",
    "print_live_refs",
    "scrapy_class_stats",
    "set_track_sites",
    "track",
    "track_sites",
    "TRACKING",
]

_T = TypeVar("_T", bound=type)


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    return value not in ("0", "false", "no", "off")


#: False when ``LEAKSCOPE_TRACK_REFS=0`` was set at import.
TRACKING: bool = _env_flag("LEAKSCOPE_TRACK_REFS", True)

_sites_on: bool = TRACKING and _env_flag("LEAKSCOPE_TRACK_SITES", False)

_object_new = object.__new__
_time = time.time
_callback_of = attrgetter("__callback__")

# Compaction and head moves take this lock without blocking: a weak reference
# callback may run in any thread, even one already inside the registry, and
# must never wait. Readers do not take it at all (see _Record.gen).
_lock = threading.Lock()

# Below this many dead entries a record is not worth compacting.
_COMPACT_MIN = 64
_CHUNK = 16384
_READ_RETRIES = 200


class _Record:
    """Live objects of one class under one owner (and one site, when on).

    ``refs[i]`` is a weak reference to the i-th object created and
    ``times[i]`` its creation time. ``dead`` gets one entry per death (from
    the weak reference callback), so the live count is births minus deaths,
    where births = len(refs) + removed_refs and deaths = len(dead) +
    removed_dead. Compaction only rewrites entries below the lengths it saw
    on entry, with slice operations (each atomic under the GIL), so appends
    racing with it land intact after them.
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

        def died(_wr: object, compact_min: int = _COMPACT_MIN) -> None:
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
        """What the creation path needs, in one tuple (unpacking beats
        attribute lookups there)."""
        return (self.refs.append, self.times.append, self.died)

    def compact(self) -> None:
        """Drop dead entries, if no one else is compacting right now."""
        if not _lock.acquire(blocking=False):
            return
        try:
            self.gen += 1
            try:
                self._squeeze()
            finally:
                self.gen += 1
        finally:
            _lock.release()

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

    def count(self) -> int:
        """Number of live objects (births minus deaths)."""
        c = 0
        for _ in range(_READ_RETRIES):
            g = self.gen
            if not g & 1:
                c = len(self.refs) + self.removed_refs - len(self.dead) - self.removed_dead
                if self.gen == g:
                    break
            time.sleep(0)
        return max(c, 0)

    def oldest(self) -> tuple[int, float] | None:
        """(index, time) of the first entry not known dead, moving the head."""
        for _ in range(_READ_RETRIES):
            g = self.gen
            if g & 1:
                time.sleep(0)
                continue
            refs, times = self.refs, self.times
            head = i = self.head
            try:
                n = min(len(refs), len(times))
                while i < n and refs[i].__callback__ is None:
                    i += 1
                found = (i, times[i]) if i < n else None
            except IndexError:
                found = None
            if self.gen != g:
                time.sleep(0)
                continue
            if i > head and _lock.acquire(blocking=False):
                try:
                    if self.gen == g and self.head < i:
                        self.head = i
                finally:
                    _lock.release()
            return found
        return None

    def oldest_object(self) -> tuple[object, float] | None:
        """The oldest live object and its time (skips ones dying right now)."""
        for _ in range(_READ_RETRIES):
            first = self.oldest()
            if first is None:
                return None
            g = self.gen
            i = first[0]
            refs, times = self.refs, self.times
            try:
                n = min(len(refs), len(times))
                while i < n:
                    obj = refs[i]()
                    if obj is not None:
                        t = times[i]
                        if self.gen == g:
                            return obj, t
                        break
                    i += 1
                else:
                    if self.gen == g:
                        return None
            except IndexError:
                pass
            time.sleep(0)
        return None

    def snapshot(self) -> tuple[list[ref[Any]], array[float]]:
        """Consistent copies of the entries from the head on."""
        refs, times = self.refs, self.times
        for _ in range(_READ_RETRIES):
            g = self.gen
            if not g & 1:
                head = self.head
                n = min(len(refs), len(times))
                r, t = refs[head:n], times[head:n]
                if self.gen == g and len(r) == len(t):
                    return r, t
            time.sleep(0)
        return [], array("d")


# Every (class, owner, site) has one _Record, found in _registry by
# (id(cls), owner index, site): ids, so that the registry does not keep
# classes alive. The creation path does not look there: a tracked class gets
# its own __new__ (see _fast_new) holding a list, indexed by owner index, of
# _Record.hot tuples. The class holds them, so they die with it. An owner is
# a small int in a context variable, so owners cost nothing extra.
_HOT = "_leakscope_hot"
_MARK = "_leakscope_tracking_new"
_registry: dict[tuple[int, int, str | None], _Record] = {}
_owner_names: list[str | None] = [None]
_owner_ids: dict[str, int] = {}
_owner_var: contextvars.ContextVar[int] = contextvars.ContextVar("leakscope_owner", default=0)
_owner_index = _owner_var.get  # rebound while sites are on, see set_track_sites()
_names_lock = threading.Lock()


def _owner_id(name: str) -> int:
    index = _owner_ids.get(name)
    if index is None:
        with _names_lock:
            index = _owner_ids.get(name)
            if index is None:
                _owner_names.append(name)
                index = _owner_ids[name] = len(_owner_names) - 1
    return index


def _new_record(cls: type, key: tuple[int, int, str | None]) -> _Record:
    record = _Record(cls, _owner_names[key[1]], key[2])
    found = _registry.setdefault(key, record)
    if found is record:
        # The class going away means all its instances are gone: drop the
        # record then, so a class made at run time does not stay forever.
        def class_gone(_wr: object) -> None:
            if _registry.get(key) is record:
                _registry.pop(key, None)

        record.cls_ref = ref(cls, class_gone)
    return found


def _register(obj: object, cls: type) -> None:
    """Record ``obj`` under ``cls`` the slow way (first object of a class under
    an owner, subclasses without their own fast __new__, sites on)."""
    index = _owner_var.get()
    site = _creation_site() if _sites_on else None
    key = (id(cls), index, site)
    record = _registry.get(key)
    if record is None:
        record = _new_record(cls, key)
    record.refs.append(ref(obj, record.died))
    record.times.append(_time())
    if site is None:
        hots = cls.__dict__.get(_HOT)
        if type(hots) is list:
            if len(hots) <= index:
                hots.extend([None] * (index + 1 - len(hots)))
            hots[index] = record.hot()


def _new_below(base: type, klass: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Make and record a ``klass`` instance with the __new__ that follows
    ``base`` in klass's MRO, as Python would have without us (a subclass may
    add a builtin base such as dict, or a mixin with its own __new__)."""
    after = super(base, klass).__new__  # type: ignore[arg-type]
    if after is _object_new:
        obj = _object_new(klass)
    else:
        obj = after(klass, *args, **kwargs)
        if _is_ours(after) or not isinstance(obj, klass):
            return obj  # recorded there already, or not ours to record
    _register(obj, klass)
    return obj


def _fast_new(cls: type, orig: Callable[..., Any] | None) -> Callable[..., Any]:
    """A __new__ for ``cls`` that records each instance with no lookup but a
    list index. ``orig``: the __new__ to call, None for object.__new__."""
    hots: list[Any] = []
    if orig is None:
        # object.__new__ refuses extra arguments once __new__ is overridden.
        def __new__(klass: type, *args: Any, **kwargs: Any) -> Any:
            if klass is not cls:
                return _new_below(cls, klass, args, kwargs)
            obj: Any = _object_new(klass)
            try:
                add_ref, add_time, died = hots[_owner_index()]
                add_ref(ref(obj, died))
                add_time(_time())
                return obj
            except (IndexError, TypeError):  # first under this owner, or sites on
                pass
            _register(obj, klass)
            return obj

    else:

        def __new__(klass: type, *args: Any, **kwargs: Any) -> Any:
            obj = orig(klass, *args, **kwargs)
            # A __new__ may return something else, or an object it made
            # before (a cache, an Enum member): record each object once.
            if not isinstance(obj, klass) or (getweakrefcount(obj) and _is_recorded(obj)):
                return obj
            if type(obj) is cls:
                try:
                    add_ref, add_time, died = hots[_owner_index()]
                    add_ref(ref(obj, died))
                    add_time(_time())
                    return obj
                except (IndexError, TypeError):
                    pass
            _register(obj, type(obj))
            return obj

    __new__.__qualname__ = f"{cls.__qualname__}.__new__"
    __new__.__module__ = cls.__module__
    setattr(__new__, _MARK, True)
    type.__setattr__(cls, _HOT, hots)
    type.__setattr__(cls, "__new__", staticmethod(__new__))
    return __new__


_DIED_CODE = next(
    c for c in _Record.__init__.__code__.co_consts if inspect.iscode(c) and c.co_name == "died"
)


def _is_recorded(obj: object) -> bool:
    """Whether a weak reference of this registry already points at ``obj``."""
    return any(
        getattr(w.__callback__, "__code__", None) is _DIED_CODE
        for w in getweakrefs(obj)
        if isinstance(w, ref)
    )


def _is_ours(new: object) -> bool:
    return getattr(new, _MARK, False) is True


if TRACKING:

    class object_ref:
        """Inherit from this class to have live instances tracked."""

        __slots__ = ("__weakref__",)

        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            # Only reached by classes that have a __new__ of their own
            # (calling super()) or bypass __init_subclass__: the slow way.
            return _new_below(object_ref, cls, args, kwargs)

        def __init_subclass__(cls, **kwargs: Any) -> None:
            super().__init_subclass__(**kwargs)
            inherited = cls.__new__
            # A __new__ written by the user (here or in a base) calls super()
            # and so reaches a registering __new__ already: leave it alone.
            if inherited is object_ref.__new__ or _is_ours(inherited):
                after = super().__new__
                # A metaclass refusing attributes leaves it on the slow path.
                with contextlib.suppress(TypeError, AttributeError):
                    _fast_new(cls, None if after is _object_new else after)

else:

    class object_ref:  # type: ignore[no-redef]
        """Tracking is off (LEAKSCOPE_TRACK_REFS=0): this adds nothing."""

        __slots__ = ("__weakref__",)


# ---------------------------------------------------------------------------
# track(): classes you cannot change


def _is_tracked_class(cls: type) -> bool:
    if TRACKING and issubclass(cls, object_ref):
        return True
    for base in cls.__mro__:
        new = base.__dict__.get("__new__")
        if isinstance(new, staticmethod) and _is_ours(new.__func__):
            return True
    return False


def track(cls: _T) -> _T:
    """Track live instances of ``cls`` (and its subclasses, each under its own
    name) without changing its source. Use as ``@track`` or ``track(Cls)``;
    returns the class. Raises TypeError for classes that cannot be tracked."""
    if not isinstance(cls, type):
        raise TypeError(f"track() takes a class, not {type(cls).__name__}")
    if cls.__weakrefoffset__ == 0:
        raise TypeError(
            f"cannot track {cls.__module__}.{cls.__qualname__}: its instances do not "
            "support weak references (a builtin/C type, or __slots__ without '__weakref__')"
        )
    if not TRACKING or _is_tracked_class(cls):
        return cls
    orig = cls.__new__
    try:
        _fast_new(cls, None if orig is _object_new else orig)
    except (TypeError, AttributeError) as exc:
        raise TypeError(
            f"cannot track {cls.__module__}.{cls.__qualname__}: its type cannot be changed ({exc})"
        ) from None
    return cls


# ---------------------------------------------------------------------------
# owners and creation sites


class owner:
    """Attribute objects created inside to an owner: ``with owner("spider1"):``,
    ``async with owner(...)``, or ``@owner("name")`` on a sync or async function.

    Built on contextvars, so it follows each thread's own context and each
    asyncio task. Objects created outside any owner have owner None. One
    ``owner`` object used with ``with`` belongs to one thread or task at a
    time; the decorator form is safe everywhere.
    """

    __slots__ = ("name", "_index", "_tokens")

    def __init__(self, name: str) -> None:
        if type(name) is not str or not name:
            raise TypeError("owner name must be a non-empty str")
        self.name = name
        self._index = _owner_id(name)
        self._tokens: list[contextvars.Token[int]] = []

    def __enter__(self) -> owner:
        self._tokens.append(_owner_var.set(self._index))
        return self

    def __exit__(self, *exc: object) -> None:
        _owner_var.reset(self._tokens.pop())

    async def __aenter__(self) -> owner:
        return self.__enter__()

    async def __aexit__(self, *exc: object) -> None:
        self.__exit__()

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            # A generator shares its caller's context: setting the owner
            # there would leak it to the caller between yields.
            raise TypeError("owner() cannot decorate a generator function")
        index = self._index
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                token = _owner_var.set(index)
                try:
                    return await func(*args, **kwargs)
                finally:
                    _owner_var.reset(token)

            return run_async

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            token = _owner_var.set(index)
            try:
                return func(*args, **kwargs)
            finally:
                _owner_var.reset(token)

        return run

    def __repr__(self) -> str:
        return f"owner({self.name!r})"


def _internal_prefixes() -> tuple[tuple[str, ...], tuple[str, ...]]:
    paths = sysconfig.get_paths()
    stdlib = {os.path.realpath(paths[k]) for k in ("stdlib", "platstdlib") if k in paths}
    third = {os.path.realpath(paths[k]) for k in ("purelib", "platlib") if k in paths}
    here = os.path.dirname(os.path.realpath(__file__))
    internal = tuple(p + os.sep for p in stdlib) + (here + os.sep,)
    return internal, tuple(p + os.sep for p in third)


_INTERNAL, _THIRD_PARTY = _internal_prefixes()
_file_is_internal: dict[str, bool] = {}
_site_names: dict[tuple[str, int], str] = {}


def _is_internal(filename: str) -> bool:
    if filename.startswith("<frozen"):
        return True
    path = os.path.realpath(filename) if filename.startswith(os.sep) else filename
    if path.startswith(_THIRD_PARTY) and not path.startswith(_INTERNAL[-1]):
        return False
    return path.startswith(_INTERNAL)


def _creation_site() -> str:
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        internal = _file_is_internal.get(filename)
        if internal is None:
            internal = _file_is_internal[filename] = _is_internal(filename)
        if not internal:
            key = (filename, frame.f_lineno)
            site = _site_names.get(key)
            if site is None:
                site = _site_names.setdefault(key, f"{filename}:{frame.f_lineno}")
            return site
        frame = frame.f_back  # type: ignore[assignment]
    return "?"


def _no_fast_path() -> int:
    # No class has a hot entry at this index: every creation takes the slow
    # path, which records the site. Cheaper than testing a flag on the fast path.
    return sys.maxsize


def set_track_sites(on: bool) -> None:
    """Record the creation site ("file:line") of tracked objects from now on."""
    global _sites_on, _owner_index
    _sites_on = bool(on) and TRACKING
    _owner_index = _no_fast_path if _sites_on else _owner_var.get  # type: ignore[assignment]


def track_sites() -> bool:
    """Whether creation sites are being recorded."""
    return _sites_on


# ---------------------------------------------------------------------------
# reading the registry (any thread)


class ClassStat(NamedTuple):
    """Live instances of one class (in one group)."""

    cls: type
    count: int  # type: ignore[assignment]  # (shadows tuple.count, as asked)
    oldest: float | None  # time.time() of the oldest live instance
    group: str | None  # owner or site when grouped, else None
    source: str  # "leakscope" or "scrapy"


def _records() -> Iterator[tuple[type, _Record]]:
    # dict.copy() is one C call, safe against other threads adding records.
    for record in _registry.copy().values():
        cls = record.cls_ref()
        if cls is not None:
            yield cls, record


def _min_time(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def class_stats(group_by: str | None = None) -> list[ClassStat]:
    """Live count and oldest creation time per class of leakscope's registry,
    optionally per owner or per site. O(classes x groups). Empty rows omitted."""
    if group_by not in (None, "owner", "site"):
        raise ValueError(f"group_by must be None, 'owner' or 'site', not {group_by!r}")
    rows: dict[tuple[type, str | None], list[Any]] = {}
    for cls, record in _records():
        n = record.count()
        if not n:
            continue
        first = record.oldest()
        t = first[1] if first is not None else None
        group = record.owner if group_by == "owner" else record.site if group_by else None
        row = rows.get((cls, group))
        if row is None:
            rows[(cls, group)] = [n, t]
        else:
            row[0] += n
            row[1] = _min_time(row[1], t)
    stats = [ClassStat(c, n, t, g, "leakscope") for (c, g), (n, t) in rows.items()]
    stats.sort(key=lambda s: (-s.count, s.cls.__name__, s.group or ""))
    return stats


def _records_of(cls: type) -> list[_Record]:
    return [record for c, record in _records() if c is cls]


def _matches(cls: type, name: str) -> bool:
    return cls.__name__ == name or qualified_name(cls) == name


def _our_classes() -> list[type]:
    seen: dict[int, type] = {}
    for cls, _ in _records():
        seen.setdefault(id(cls), cls)
    return list(seen.values())


def iter_objects(cls: type, source: str = "leakscope") -> Iterator[tuple[object, float]]:
    """(object, creation time) for live instances of exactly ``cls``, oldest
    first. Works on a snapshot: objects created meanwhile are not seen, ones
    that die meanwhile are skipped."""
    if source == "scrapy":
        return _iter_scrapy_objects(cls)
    if source != "leakscope":
        raise ValueError(f"source must be 'leakscope' or 'scrapy', not {source!r}")
    streams = [zip(*record.snapshot(), strict=True) for record in _records_of(cls)]
    return _alive(heapq.merge(*streams, key=itemgetter(1)))


def _alive(entries: Iterator[tuple[ref[Any], float]]) -> Iterator[tuple[object, float]]:
    for wr, t in entries:
        obj = wr()
        if obj is not None:
            yield obj, t


# ---------------------------------------------------------------------------
# Scrapy-compatible calls


def format_live_refs(ignore: Any = NoneType) -> str:
    """Return the live-references report as text: per class its live count and
    the age of its oldest instance. ``ignore``: a class or tuple of classes
    to leave out, with their subclasses."""
    now = _time()
    totals: dict[type, list[Any]] = {}
    for stat in class_stats():
        row = totals.setdefault(stat.cls, [0, None])
        row[0] += stat.count
        row[1] = _min_time(row[1], stat.oldest)
    text = "Live References\n\n"
    for cls in sorted(totals, key=attrgetter("__name__")):
        if issubclass(cls, ignore):
            continue
        count, oldest = totals[cls]
        age = int(now - oldest) if oldest is not None else 0
        text += f"{cls.__name__:<30} {count:6}   oldest: {age}s ago\n"
    return text


def print_live_refs(*a: Any, **kw: Any) -> None:
    """Print :func:`format_live_refs` (same arguments, e.g. ``ignore=``)."""
    print(format_live_refs(*a, **kw))


prefs = print_live_refs


def get_oldest(class_name: str) -> Any:
    """The oldest live object of the class named ``class_name`` (plain or
    module-qualified name), or None."""
    best: tuple[object, float] | None = None
    for cls, record in _records():
        if not _matches(cls, class_name):
            continue
        found = record.oldest_object()
        if found is not None and (best is None or found[1] < best[1]):
            best = found
    return best[0] if best is not None else None


def iter_all(class_name: str) -> Iterator[Any]:
    """Iterate over the live objects of the class named ``class_name``
    (plain or module-qualified name), oldest first."""
    streams = [
        zip(*record.snapshot(), strict=True)
        for cls, record in _records()
        if _matches(cls, class_name)
    ]
    return (obj for obj, _ in _alive(heapq.merge(*streams, key=itemgetter(1))))


class _LiveObjects(Mapping[Any, float]):
    """Live instances of one class -> creation time. Lookups go by identity
    (tracked objects need not be hashable), so ``obj in`` and ``[obj]`` are
    O(n); ``len()`` is O(1)."""

    def __init__(self, cls: type) -> None:
        self._cls = cls

    def __len__(self) -> int:
        return sum(record.count() for record in _records_of(self._cls))

    def __iter__(self) -> Iterator[Any]:
        return (obj for obj, _ in iter_objects(self._cls))

    def __getitem__(self, obj: Any) -> float:
        for o, t in iter_objects(self._cls):
            if o is obj:
                return t
        raise KeyError(obj)

    def items(self) -> list[tuple[Any, float]]:  # type: ignore[override]
        """(object, creation time) pairs, oldest first."""
        return list(iter_objects(self._cls))

    def values(self) -> list[float]:  # type: ignore[override]
        """Creation times, oldest first."""
        return [t for _, t in iter_objects(self._cls)]


class _LiveRefs(Mapping[type, _LiveObjects]):
    """Tracked class -> its live instances (Scrapy's ``live_refs``, read-only).
    As in Scrapy, a class stays (with no instances) until the class itself
    is gone."""

    def __len__(self) -> int:
        return len(_our_classes())

    def __iter__(self) -> Iterator[type]:
        return iter(_our_classes())

    def __getitem__(self, cls: type) -> _LiveObjects:
        if not any(c is cls for c in _our_classes()):
            raise KeyError(cls)
        return _LiveObjects(cls)


live_refs = _LiveRefs()


# ---------------------------------------------------------------------------
# Scrapy's own registry


def _scrapy_registry() -> Any:
    module = sys.modules.get("scrapy.utils.trackref")
    return getattr(module, "live_refs", None) if module is not None else None


def _scrapy_classes() -> list[tuple[type, Any]]:
    registry = _scrapy_registry()
    if registry is None:
        return []
    out = []
    # dict.copy() is one C call: a weak reference callback cannot change the
    # dict halfway, as it can during iteration (or list(d.items())).
    for key, objects in registry.data.copy().items():
        cls = key()
        if cls is not None and not _is_tracked_class(cls):
            out.append((cls, objects))
    return out


def _scrapy_time_converter() -> Callable[[Any], float]:
    # Scrapy 2.13+ stores time.monotonic_ns(); older versions time.time().
    wall, mono = time.time(), time.monotonic_ns()

    def to_wall(value: Any) -> float:
        if type(value) is int:
            return wall - (mono - value) / 1e9
        return float(value)

    return to_wall


def scrapy_class_stats(with_oldest: bool = True) -> list[ClassStat]:
    """Live count and oldest time per class of Scrapy's own registry, if
    Scrapy has loaded it (never imports Scrapy). O(objects) for the oldest:
    Scrapy keeps no oldest entry; with ``with_oldest=False`` the counts alone
    cost O(classes) and ``oldest`` is None. Classes leakscope also tracks are
    left out."""
    to_wall = _scrapy_time_converter()
    stats = []
    for cls, objects in _scrapy_classes():
        # Entries of dead objects wait in _pending_removals while Scrapy
        # itself iterates the dictionary.
        pending = len(getattr(objects, "_pending_removals", ()))
        if not with_oldest:
            n = len(objects.data) - pending
            if n > 0:
                stats.append(ClassStat(cls, n, None, None, "scrapy"))
            continue
        times = list(objects.data.copy().values())
        n = len(times) - pending
        if times and n > 0:
            stats.append(ClassStat(cls, n, to_wall(min(times)), None, "scrapy"))
    stats.sort(key=lambda s: (-s.count, s.cls.__name__))
    return stats


def _iter_scrapy_objects(cls: type) -> Iterator[tuple[object, float]]:
    to_wall = _scrapy_time_converter()
    for c, objects in _scrapy_classes():
        if c is cls:
            entries = sorted(objects.data.copy().items(), key=itemgetter(1))
            return _alive(iter([(wr, to_wall(t)) for wr, t in entries]))
    return iter(())


def find_classes(name: str) -> list[tuple[type, str]]:
    """Tracked classes (both registries) whose plain or module-qualified name
    is ``name``, as (class, source)."""
    found = [(cls, "leakscope") for cls in _our_classes() if _matches(cls, name)]
    found += [(cls, "scrapy") for cls, _ in _scrapy_classes() if _matches(cls, name)]
    return found


def all_class_names() -> list[str]:
    """Plain and module-qualified names of all tracked classes (both
    registries), for "did you mean" suggestions."""
    classes = _our_classes() + [cls for cls, _ in _scrapy_classes()]
    names = {cls.__name__ for cls in classes} | {qualified_name(cls) for cls in classes}
    return sorted(names)


def _after_fork_in_child() -> None:
    # The lock may have been held by a thread that does not exist in the child.
    global _lock, _names_lock
    _lock = threading.Lock()
    _names_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
set_track_sites(_sites_on)
