"""Scrapy's ``trackref`` calls, answered from leakscope's registry.

``format_live_refs``/``print_live_refs``/``prefs``, ``get_oldest``,
``iter_all`` and ``live_refs`` have Scrapy's names and meanings, and cost
O(classes) where Scrapy's cost O(objects). ``live_refs`` may be edited as
Scrapy's can (a test fixture's ``live_refs.clear()``, ``del live_refs[cls]``,
``del live_refs[cls][obj]``): that forgets the objects, which stay alive.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterator, Mapping, MutableMapping
from operator import attrgetter, itemgetter
from types import NoneType
from typing import Any

from leakscope.target.registry.tracking import (
    add_object,
    alive,
    class_stats,
    forget_class,
    matches,
    min_time,
    our_classes,
    records,
    records_of,
)


def own_objects(cls: type) -> Iterator[tuple[object, float]]:
    """(object, creation time) for live instances of exactly ``cls`` in
    leakscope's registry, oldest first. Works on a snapshot: objects created
    meanwhile are not seen, ones that die meanwhile are skipped."""
    streams = [zip(*record.snapshot(), strict=True) for record in records_of(cls)]
    return alive(heapq.merge(*streams, key=itemgetter(1)))


def format_live_refs(ignore: Any = NoneType) -> str:
    """Return the live-references report as text: per class its live count and
    the age of its oldest instance. ``ignore``: a class or tuple of classes
    to leave out, with their subclasses."""
    now = time.time()
    totals: dict[type, list[Any]] = {}
    for stat in class_stats():
        row = totals.setdefault(stat.cls, [0, None])
        row[0] += stat.count
        row[1] = min_time(row[1], stat.oldest)
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
    for cls, record in records():
        if not matches(cls, class_name):
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
        for cls, record in records()
        if matches(cls, class_name)
    ]
    return (obj for obj, _ in alive(heapq.merge(*streams, key=itemgetter(1))))


class _LiveObjects(MutableMapping[Any, float]):
    """Live instances of one class -> creation time (Scrapy's WeakKeyDictionary).

    Lookups go by identity (tracked objects need not be hashable), so
    ``obj in``, ``[obj]`` and ``del [obj]`` are O(n); ``len()`` is O(1).
    """

    def __init__(self, cls: type) -> None:
        self._cls = cls

    def __len__(self) -> int:
        return sum(record.count() for record in records_of(self._cls))

    def __iter__(self) -> Iterator[Any]:
        return (obj for obj, _ in own_objects(self._cls))

    def __getitem__(self, obj: Any) -> float:
        for o, t in own_objects(self._cls):
            if o is obj:
                return t
        raise KeyError(obj)

    def __setitem__(self, obj: Any, created: float) -> None:
        add_object(self._cls, obj, float(created))

    def __delitem__(self, obj: Any) -> None:
        if not any(record.forget(obj) for record in records_of(self._cls)):
            raise KeyError(obj)

    def clear(self) -> None:
        """Forget every instance of the class (they stay alive, uncounted); the class
        stays in ``live_refs``, as in Scrapy."""
        forget_class(self._cls, keep_class=True)

    def items(self) -> list[tuple[Any, float]]:  # type: ignore[override]
        """(object, creation time) pairs, oldest first."""
        return list(own_objects(self._cls))

    def values(self) -> list[float]:  # type: ignore[override]
        """Creation times, oldest first."""
        return [t for _, t in own_objects(self._cls)]


class _LiveRefs(MutableMapping[type, _LiveObjects]):
    """Tracked class -> its live instances (Scrapy's ``live_refs``).

    As in Scrapy, a class stays (with no instances) until the class itself is
    gone, ``live_refs[cls]`` of any class gives its (maybe empty) instances,
    and deleting a class or clearing the whole mapping forgets what was counted.
    """

    def __len__(self) -> int:
        return len(our_classes())

    def __iter__(self) -> Iterator[type]:
        return iter(our_classes())

    def __contains__(self, cls: object) -> bool:
        return any(c is cls for c in our_classes())

    def __getitem__(self, cls: type) -> _LiveObjects:
        return _LiveObjects(cls)

    def __setitem__(self, cls: type, objects: Mapping[Any, float]) -> None:
        forget_class(cls)
        for obj, created in dict(objects).items() if objects else ():
            add_object(cls, obj, float(created))

    def __delitem__(self, cls: type) -> None:
        if cls not in self:
            raise KeyError(cls)
        forget_class(cls)

    def clear(self) -> None:
        """Forget every tracked object (Scrapy's ``live_refs.clear()``)."""
        for cls in our_classes():
            forget_class(cls)


live_refs = _LiveRefs()
