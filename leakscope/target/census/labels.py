"""Edge labels: how a container refers to an object (``['meta']``, ``[2]``, ``.attr``).

Labels read like Python: ``['key']`` for a dict value, ``<key>`` for a dict
key, ``[3]`` for a tuple or list item (``[*]`` for an item of a list longer
than 16 in a partition, so a long list is one row), ``<member>`` for a set
member, ``.name`` for an attribute, ``.__dict__`` for an instance's own dict.

Finding an attribute's name must not change the object: reading
``obj.__dict__`` would create the dict of an instance whose attributes live
inline (3.11+), which is what guppy3 does. Names come instead from slots
(member descriptors, read through the descriptor), from the names the class's
methods store (``self.x = ...`` puts ``x`` in their ``co_names``) and from its
annotations; each is read with ``object.__getattribute__``, which reads inline
values in place and runs no ``__getattr__``. Names that are properties or
other descriptors on the class are never read. An attribute set only from
outside the class may stay unnamed: its label is ``.?``.
"""

from __future__ import annotations

import gc
import types
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from itertools import compress, repeat
from operator import is_
from typing import Any

from leakscope.target.census.kinds import type_kind
from leakscope.target.census.walk import CODE_FIELDS

_MRO = type.__dict__["__mro__"]
_TYPE_DICT = type.__dict__["__dict__"]
_HAVE_GC = 1 << 14
_FLAGS = type.__dict__["__flags__"]
_HEAPTYPE = 1 << 9
_GETATTR = object.__getattribute__
_LONG_LIST = 16
# Stored, safe-to-read attributes of core types (no lazily created ones: not a function's
# __dict__ or __annotations__, not a frame's f_locals, not a code object's co_code).
_FIELDS: dict[type, tuple[str, ...]] = {
    types.FunctionType: (
        "__code__",
        "__globals__",
        "__defaults__",
        "__kwdefaults__",
        "__closure__",
        "__name__",
        "__qualname__",
        "__module__",
        "__doc__",
        "__builtins__",
    ),
    types.MethodType: ("__func__", "__self__"),
    types.CellType: ("cell_contents",),
    types.CodeType: CODE_FIELDS,
    types.ModuleType: ("__dict__",),
    classmethod: ("__func__",),
    staticmethod: ("__func__",),
    property: ("fget", "fset", "fdel", "__doc__"),
    types.BuiltinMethodType: ("__self__", "__module__"),
    # Not f_back: reading it creates the caller's frame object (3.11+).
    types.FrameType: ("f_code", "f_globals", "f_builtins"),
    types.TracebackType: ("tb_next", "tb_frame"),
}
_TYPE_FIELDS = ("__dict__", "__mro__", "__bases__", "__base__", "__module__", "__doc__")


def short_repr(key: Any) -> str:
    """A dict key as a label shows it: repr of simple keys, bounded; the type for others."""
    cls = type(key)
    if cls is str:
        text = key if len(key) <= 60 else key[:57] + "..."
        return repr(text)
    if cls in (int, float, bool, bytes, type(None)):
        text = repr(key)
        return text if len(text) <= 60 else text[:57] + "..."
    if cls is tuple and len(key) <= 4 and all(type(k) in (str, int) for k in key):
        text = repr(key)
        return text if len(text) <= 60 else text[:57] + "..."
    return f"<{type_kind(cls)}>"


def _safe_get(obj: object, name: str) -> object:
    """Read a stored attribute through the type's own member/getset descriptor, or a sentinel."""
    for klass in _MRO.__get__(type(obj)):
        desc = _TYPE_DICT.__get__(klass).get(name)
        if desc is not None:
            if not isinstance(desc, _BUILTIN_DESCRIPTORS):
                return _MISSING
            try:
                return desc.__get__(obj, type(obj))
            except Exception:
                return _MISSING
    return _MISSING


_MISSING = object()
_BUILTIN_DESCRIPTORS = (types.MemberDescriptorType, types.GetSetDescriptorType)


class _ClassNames:
    """What a census knows about the attribute names of one class's instances."""

    __slots__ = ("slots", "hits", "rest", "misses", "own_dicts")

    def __init__(self, cls: type) -> None:
        self.slots: list[tuple[str, object]] = []  # (name, member descriptor)
        self.hits: list[str] = []  # names that named an attribute before, tried first
        self.rest: list[str] = []
        self.misses = 0
        self.own_dicts = 0
        names: dict[str, None] = {}
        blocked: set[str] = set()
        for klass in _MRO.__get__(cls):
            if klass is object:
                continue
            space = _TYPE_DICT.__get__(klass)
            for name, value in space.items():
                if type(name) is not str:
                    continue
                blocked.add(name)
                if type(value) is types.MemberDescriptorType and not name.startswith("__"):
                    self.slots.append((name, value))
                else:
                    _collect_stored_names(value, names)
            notes = space.get("__annotations__")
            if type(notes) is dict:
                for name in notes:
                    if type(name) is str:
                        names[name] = None
        self.rest = [n for n in names if n not in blocked and not n.startswith("__")]


def _collect_stored_names(value: object, names: dict[str, None]) -> None:
    # Unwrap staticmethod / classmethod / property to their functions, then walk their code
    # objects (nested ones too: comprehensions, closures) for the names they store.
    funcs: list[object] = []
    if type(value) in (staticmethod, classmethod):
        funcs.append(_safe_get(value, "__func__"))
    elif type(value) is property:
        funcs.extend(_safe_get(value, name) for name in ("fget", "fset", "fdel"))
    else:
        funcs.append(value)
    codes = [_safe_get(f, "__code__") for f in funcs if type(f) is types.FunctionType]
    while codes:
        code = codes.pop()
        if type(code) is not types.CodeType:
            continue
        for name in code.co_names:
            names[name] = None
        codes.extend(c for c in code.co_consts if type(c) is types.CodeType)


class Labeller:
    """Labels the edges from containers to objects of one type (``target``) or to one object."""

    def __init__(self, target: type | None = None, tick: Callable[[], None] = lambda: None) -> None:
        self.target = target
        self.tick = tick  # lets other threads run during long stretches
        self._names: dict[type, _ClassNames] = {}
        self._holders: dict[type, bool] = {}

    # -- which containers can hold the target ---------------------------------------------

    def may_hold(self, cls: type) -> bool:
        """False for types whose instances refer to nothing the walk can see."""
        known = self._holders.get(cls)
        if known is None:
            known = bool(_FLAGS.__get__(cls) & _HAVE_GC) or cls is types.CodeType
            self._holders[cls] = known
        return known

    def holding(self, containers: list) -> list:
        """The containers (all of one type) that refer to at least one object of the target type."""
        target = self.target
        if type(containers[0]) is types.CodeType:
            return [c for c in containers if any(type(r) is target for r in _code_fields(c))]
        refs = gc.get_referents(*containers)
        if not any(map(is_, map(type, refs), repeat(target))):
            return []
        del refs
        get_referents = gc.get_referents
        out = []
        for container in containers:
            refs = get_referents(container)
            if any(map(is_, map(type, refs), repeat(target))):
                out.append(container)
            if len(refs) > 1 << 14:
                self.tick()
        return out

    def targets(self, container: object) -> list:
        """The referents of ``container`` that are of the target type."""
        target = self.target
        if type(container) is types.CodeType:
            return [r for r in _code_fields(container) if type(r) is target]
        return [r for r in gc.get_referents(container) if type(r) is target]

    def grouped_labels(self, container: Any) -> list[tuple[str, list]]:
        """[(label, [referents])] for the referents of ``container`` of the target type."""
        target = self.target
        cls = type(container)
        if cls is list and len(container) > _LONG_LIST:
            # A long list is one "[*]" edge to all its items of the target type: found in C.
            return [
                ("[*]", list(compress(container, map(is_, map(type, container), repeat(target)))))
            ]
        groups: dict[str, list] = {}
        for label, referent in self.labels(container):
            group = groups.get(label)
            if group is None:
                groups[label] = [referent]
            else:
                group.append(referent)
        return list(groups.items())

    def labels(self, container: object, exact: bool = False) -> list[tuple[str, object]]:
        """(label, referent) for each referent of ``container`` of the target type."""
        target = self.target
        return self.edges(container, lambda r: type(r) is target, exact)

    # -- labelling -------------------------------------------------------------------------

    def edges(
        self, container: Any, keep: Callable[[object], bool], exact: bool = True
    ) -> list[tuple[str, object]]:
        """(label, referent) for the referents of ``container`` that ``keep`` accepts."""
        cls = type(container)
        out: list[tuple[str, object]] = []
        if issubclass(cls, dict):
            for key, value in dict.items(container):
                if keep(value):
                    out.append((f"[{short_repr(key)}]", value))
                if keep(key):
                    out.append(("<key>", key))
            if cls is dict:
                return out
        elif issubclass(cls, (list, tuple, deque)):
            many = not exact and cls is not tuple and len(container) > _LONG_LIST
            seq = container if not issubclass(cls, deque) else list(container)
            for index, item in enumerate(seq):
                if keep(item):
                    out.append(("[*]" if many else f"[{index}]", item))
            if cls in (list, tuple):
                return out
        elif issubclass(cls, (set, frozenset)):
            for item in container:
                if keep(item):
                    out.append(("<member>", item))
            if cls in (set, frozenset):
                return out
        wanted = [r for r in _referents(container) if keep(r)]
        if not wanted:
            return out
        named = {id(r) for _, r in out}
        wanted = [r for r in wanted if id(r) not in named]
        if wanted:
            out.extend(self._attribute_edges(container, cls, wanted))
        return out

    def _attribute_edges(self, obj: object, cls: type, wanted: list) -> list[tuple[str, object]]:
        out: list[tuple[str, object]] = []
        left = {id(r): r for r in wanted}

        def found(label: str, value: object) -> None:
            if id(value) in left and value is left[id(value)]:
                out.append((label, left.pop(id(value))))

        if value_is(cls, left):
            found(".__class__", cls)
        fields = _FIELDS.get(cls)
        if fields is None and issubclass(cls, type):
            fields = _TYPE_FIELDS
        if fields is not None:
            for name in fields:
                if not left:
                    return out
                found("." + name, _safe_get(obj, name))
        if left and fields is None:
            self._instance_edges(obj, cls, left, found)
        if left and (fields is _TYPE_FIELDS or _FLAGS.__get__(cls) & _HEAPTYPE):
            # The dict a class or an instance refers to that no name gives is its own __dict__;
            # of several (a C type's, such as an lru_cache's cache and its __dict__), none can
            # be told.
            unnamed = [v for v in left.values() if type(v) is dict]
            if len(unnamed) == 1 and sum(type(r) is dict for r in _referents(obj)) == 1:
                found(".__dict__", unnamed[0])
        for value in left.values():
            out.append((".?", value))
        return out

    def _instance_edges(
        self, obj: object, cls: type, left: dict[int, object], found: Callable[[str, object], None]
    ) -> None:
        names = self._names.get(cls)
        if names is None:
            names = self._names[cls] = _ClassNames(cls)
        for name, member in names.slots:
            with suppress(Exception):
                found("." + name, member.__get__(obj, cls))  # type: ignore[attr-defined]
            if not left:
                return
        for name in names.hits:
            _try_attribute(obj, name, found)
            if not left:
                return
        if names.misses > 50 or (
            names.own_dicts > 50 and all(type(v) is dict for v in left.values())
        ):
            # Names that did not help 50 times will not: leave the rest unnamed (or __dict__).
            return
        for name in list(names.rest):
            before = len(left)
            _try_attribute(obj, name, found)
            if len(left) < before:
                names.rest.remove(name)
                names.hits.append(name)
            if not left:
                return
        if left:
            if all(type(v) is dict for v in left.values()):
                names.own_dicts += 1
            else:
                names.misses += 1


def value_is(value: object, left: dict[int, object]) -> bool:
    """True if ``value`` itself is among the referents still to be named."""
    return id(value) in left and left[id(value)] is value


def _try_attribute(obj: object, name: str, found: Callable[[str, object], None]) -> None:
    try:
        value = _GETATTR(obj, name)
    except Exception:
        return
    found("." + name, value)


def _code_fields(code: object) -> list:
    out = []
    for name in _FIELDS[types.CodeType]:
        value = getattr(code, name, None)
        if value is not None:
            out.append(value)
    return out


def _referents(obj: object) -> list:
    if type(obj) is types.CodeType:
        return _code_fields(obj)
    return gc.get_referents(obj)
