"""Object sizes, the same figure guppy3 and ``sys.getsizeof`` give.

guppy3 sizes an object as ``sys.getsizeof`` does: the type's ``__sizeof__``
(basic size, items, and owned buffers such as a dict's table or a str's
characters) plus the GC header (16 bytes) for types that have one, plus the
pre-header of instances whose dict and weakref pointers live before the
object (16 bytes on 3.11+). Dicts and tuples the GC has untracked still carry
their GC header, so they count it too. Memory an object points to but does not
own (its referents) is not part of its size.

``sys.getsizeof`` costs about 100 ns per call (it looks ``__sizeof__`` up and
binds it every time), so a census sizes objects a whole list of one type at a
time: fixed-size types by count times one size, others through the type's own
builtin ``__sizeof__`` mapped over the list plus a per-type constant. A type
whose ``__sizeof__`` is written in Python is sized by ``object.__sizeof__``
instead: a census never runs user code.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import BuiltinMethodType, MethodDescriptorType, WrapperDescriptorType

_OBJECT_SIZEOF = object.__dict__["__sizeof__"]
_BUILTIN_CALLABLES = (MethodDescriptorType, WrapperDescriptorType, BuiltinMethodType)
_HAVE_GC = 1 << 14
# Py_TPFLAGS_MANAGED_DICT (3.11+) and Py_TPFLAGS_MANAGED_WEAKREF (3.12+) put pointers before
# the object.
_PRE_HEADER_FLAGS = (1 << 4) | (1 << 3)
# Read through type's own descriptors: a metaclass cannot intercept them.
_FLAGS = type.__dict__["__flags__"]
_ITEMSIZE = type.__dict__["__itemsize__"]


class _Probe:
    pass


def _pre_header() -> int:
    probe = _Probe()
    return sys.getsizeof(probe) - _OBJECT_SIZEOF(probe) - _GC_HEADER


_GC_HEADER = sys.getsizeof(()) - ().__sizeof__()
_PRE_HEADER = _pre_header()


def _own_sizeof(cls: type) -> object:
    for klass in type.__dict__["__mro__"].__get__(cls):
        found = type.__dict__["__dict__"].__get__(klass).get("__sizeof__")
        if found is not None:
            return found
    return _OBJECT_SIZEOF


class Sizer:
    """Sizes lists of objects of one exact type; remembers what it learnt per type."""

    def __init__(self) -> None:
        # type -> (fixed size or None, sizeof function or None, constant added per object)
        self._plans: dict[type, tuple[int | None, Callable[[object], int] | None, int]] = {}

    def _plan(self, cls: type, sample: object) -> tuple[int | None, Callable | None, int]:
        plan = self._plans.get(cls)
        if plan is not None:
            return plan
        sizeof = _own_sizeof(cls)
        if issubclass(cls, type):
            # Static types have no GC header, heap types do: one size per object.
            plan = (None, None, 0)
        elif sizeof is _OBJECT_SIZEOF and _ITEMSIZE.__get__(cls) == 0:
            plan = (sys.getsizeof(sample), None, 0)
        elif isinstance(sizeof, _BUILTIN_CALLABLES):
            plan = (None, sizeof, sys.getsizeof(sample) - sizeof(sample))  # type: ignore[operator]
        else:
            flags = _FLAGS.__get__(cls)
            extra = (_GC_HEADER if flags & _HAVE_GC else 0) + (
                _PRE_HEADER if flags & _PRE_HEADER_FLAGS else 0
            )
            plan = (None, _OBJECT_SIZEOF, extra)
        self._plans[cls] = plan
        return plan

    def total(self, cls: type, objects: list) -> int:
        """Sum of the sizes of ``objects``, all of exact type ``cls``."""
        if not objects:
            return 0
        fixed, sizeof, extra = self._plan(cls, objects[0])
        if fixed is not None:
            return fixed * len(objects)
        if sizeof is None:
            return sum(map(sys.getsizeof, objects))
        return sum(map(sizeof, objects)) + extra * len(objects)

    def each(self, cls: type, objects: list) -> list[int]:
        """The size of every object in ``objects``, all of exact type ``cls``."""
        if not objects:
            return []
        fixed, sizeof, extra = self._plan(cls, objects[0])
        if fixed is not None:
            return [fixed] * len(objects)
        if sizeof is None:
            return list(map(sys.getsizeof, objects))
        if extra:
            return [size + extra for size in map(sizeof, objects)]
        return list(map(sizeof, objects))
