"""leakscope's own registry: which classes are tracked, and the creation path.

Every (class, owner, site) has one `Record`, found in ``registry`` by
``(id(cls), owner index, site)``: ids, so that the registry does not keep
classes alive (a class made at run time and dropped leaves it). The creation
path does not look there: a tracked class gets its own ``__new__`` (see
`_fast_new`) holding a list, indexed by owner index, of `Record.hot` tuples.
The class holds them, so they die with it.

``LEAKSCOPE_TRACK_REFS=0`` at import turns tracking off: `object_ref` then has
no ``__new__`` at all and `track` returns the class untouched.
``LEAKSCOPE_TRACK_SITES=1`` at import records creation sites (slower).
"""

from __future__ import annotations

import contextlib
import inspect
import os
import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, TypeVar
from weakref import getweakrefcount, getweakrefs, ref

from leakscope.target.describe import qualified_name
from leakscope.target.registry.owners import owner_names, owner_var
from leakscope.target.registry.records import LOCKS, Record
from leakscope.target.registry.sites import creation_site

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

_HOT = "_leakscope_hot"
_MARK = "_leakscope_tracking_new"
_ORIGINAL = "_leakscope_original_new"
registry: dict[tuple[int, int, str | None], Record] = {}
_owner_index = owner_var.get  # rebound while sites are on, see set_track_sites()


def _new_record(cls: type, key: tuple[int, int, str | None]) -> Record:
    record = Record(cls, owner_names[key[1]], key[2])
    found = registry.setdefault(key, record)
    if found is record:
        # The class going away means all its instances are gone: drop the
        # record then, so a class made at run time does not stay forever.
        def class_gone(_wr: object) -> None:
            if registry.get(key) is record:
                registry.pop(key, None)

        record.cls_ref = ref(cls, class_gone)
    return found


def _register(obj: object, cls: type, created: float | None = None) -> None:
    """Record ``obj`` under ``cls`` the slow way (first object of a class under
    an owner, subclasses without their own fast __new__, sites on)."""
    index = owner_var.get()
    site = creation_site() if _sites_on else None
    key = (id(cls), index, site)
    record = registry.get(key)
    if record is None:
        record = _new_record(cls, key)
    record.refs.append(ref(obj, record.died))
    record.times.append(_time() if created is None else created)
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
    c for c in Record.__init__.__code__.co_consts if inspect.iscode(c) and c.co_name == "died"
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
# track() and untrack(): classes you cannot change


def is_tracked_class(cls: type) -> bool:
    """True if instances of *cls* are recorded here (object_ref subclass, or tracked)."""
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
    if not TRACKING or is_tracked_class(cls):
        return cls
    own = cls.__dict__.get("__new__", _MISSING)
    orig = cls.__new__
    try:
        _fast_new(cls, None if orig is _object_new else orig)
        type.__setattr__(cls, _ORIGINAL, own)
    except (TypeError, AttributeError) as exc:
        raise TypeError(
            f"cannot track {cls.__module__}.{cls.__qualname__}: its type cannot be changed ({exc})"
        ) from None
    return cls


_MISSING = object()


def untrack(cls: type) -> bool:
    """Undo `track` on ``cls``: new instances are no longer recorded and its
    live entries are forgotten. True if it was tracked by `track` (an
    `object_ref` subclass cannot be untracked: False)."""
    own = cls.__dict__.get(_ORIGINAL, None)
    if own is None:
        return False
    if own is _MISSING:
        type.__delattr__(cls, "__new__")
        if cls.__new__ is _object_new:
            # CPython keeps calling a class's __new__ through its slot once one was set,
            # and object.__new__ then refuses the constructor's arguments: put back one
            # that takes them as the class's own did.
            type.__setattr__(cls, "__new__", staticmethod(_object_new_again))
    else:
        type.__setattr__(cls, "__new__", own)
    for name in (_ORIGINAL, _HOT):
        with contextlib.suppress(AttributeError, TypeError):
            type.__delattr__(cls, name)
    forget_class(cls)
    return True


def _object_new_again(cls: type, *args: Any, **kwargs: Any) -> Any:
    """``object.__new__`` as a class that never had a ``__new__`` of its own calls it:
    arguments are for ``__init__``, and refused only when there is none."""
    if (args or kwargs) and type.__getattribute__(cls, "__init__") is object.__init__:
        raise TypeError(f"{cls.__name__}() takes no arguments")
    return _object_new(cls)


def forget_class(cls: type, keep_class: bool = False) -> None:
    """Drop every record of *cls*: its live objects are no longer counted, new ones start
    afresh. With *keep_class* the class stays listed, with no instances (Scrapy's
    ``live_refs[cls].clear()``)."""
    hots = cls.__dict__.get(_HOT)
    if type(hots) is list:
        hots.clear()  # new objects take the slow path, which makes a new record
    for key, record in list(registry.items()):
        if record.cls_ref() is cls:
            registry.pop(key, None)
            # Drop its weak references too: their objects then count as not recorded
            # (`live_refs[cls][obj] = t` may record them again) and no callback fires.
            del record.refs[:]
    if keep_class:
        _new_record(cls, (id(cls), 0, None))


def set_track_sites(on: bool) -> None:
    """Record the creation site ("file:line") of tracked objects from now on."""
    global _sites_on, _owner_index
    _sites_on = bool(on) and TRACKING
    _owner_index = _no_fast_path if _sites_on else owner_var.get  # type: ignore[assignment]


def track_sites() -> bool:
    """Whether creation sites are being recorded."""
    return _sites_on


def _no_fast_path() -> int:
    # No class has a hot entry at this index: every creation takes the slow
    # path, which records the site. Cheaper than testing a flag on the fast path.
    return 1 << 62


# ---------------------------------------------------------------------------
# reading leakscope's registry (any thread)


class ClassStat(NamedTuple):
    """Live instances of one class (in one group)."""

    cls: type
    count: int  # type: ignore[assignment]  # (shadows tuple.count, as asked)
    oldest: float | None  # time.time() of the oldest live instance
    group: str | None  # owner or site when grouped, else None
    source: str  # "leakscope" or "scrapy"


def records() -> Iterator[tuple[type, Record]]:
    """(class, record) for every record whose class is alive."""
    # dict.copy() is one C call, safe against other threads adding records.
    for record in registry.copy().values():
        cls = record.cls_ref()
        if cls is not None:
            yield cls, record


def min_time(a: float | None, b: float | None) -> float | None:
    """The earlier of two optional times."""
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
    for cls, record in records():
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
            row[1] = min_time(row[1], t)
    stats = [ClassStat(c, n, t, g, "leakscope") for (c, g), (n, t) in rows.items()]
    stats.sort(key=lambda s: (-s.count, s.cls.__name__, s.group or ""))
    return stats


def records_of(cls: type) -> list[Record]:
    """The records of exactly *cls*."""
    return [record for c, record in records() if c is cls]


def matches(cls: type, name: str) -> bool:
    """True if *name* is the plain or module-qualified name of *cls*."""
    return cls.__name__ == name or qualified_name(cls) == name


def our_classes() -> list[type]:
    """Every class with a record in leakscope's registry."""
    seen: dict[int, type] = {}
    for cls, _ in records():
        seen.setdefault(id(cls), cls)
    return list(seen.values())


def alive(entries: Iterator[tuple[ref[Any], float]]) -> Iterator[tuple[object, float]]:
    """(object, time) for the entries whose object is still alive."""
    for wr, t in entries:
        obj = wr()
        if obj is not None:
            yield obj, t


def add_object(cls: type, obj: object, created: float) -> None:
    """Record *obj* under *cls* with creation time *created* (Scrapy's
    ``live_refs[cls][obj] = t``), unless it is recorded already."""
    if getweakrefcount(obj) and _is_recorded(obj):
        return
    _register(obj, cls, created)


def after_fork_in_child() -> None:
    """Replace the registry's locks in a forked child."""
    LOCKS.after_fork_in_child()


os.register_at_fork(after_in_child=after_fork_in_child)
set_track_sites(_sites_on)
