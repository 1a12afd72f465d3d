"""Reading Scrapy's own registry (``scrapy.utils.trackref.live_refs``), when Scrapy loaded it.

So Scrapy users change no class: their requests, responses, items and
spiders are already counted there. Nothing here imports Scrapy. Scrapy keeps
``{class: WeakKeyDictionary(object -> creation time)}`` and no oldest entry,
so the oldest object costs O(its live objects); counts alone are O(classes).
Classes leakscope also tracks are left out (they would be counted twice).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from operator import itemgetter
from typing import Any

from leakscope.target.registry.tracking import ClassStat, alive, is_tracked_class


def _scrapy_registry() -> Any:
    module = sys.modules.get("scrapy.utils.trackref")
    return getattr(module, "live_refs", None) if module is not None else None


def scrapy_classes() -> list[tuple[type, Any]]:
    """(class, its WeakKeyDictionary) for the live classes of Scrapy's registry."""
    registry = _scrapy_registry()
    if registry is None:
        return []
    out = []
    # dict.copy() is one C call: a weak reference callback cannot change the
    # dict halfway, as it can during iteration (or list(d.items())).
    for key, objects in registry.data.copy().items():
        cls = key()
        if cls is not None and not is_tracked_class(cls):
            out.append((cls, objects))
    return out


def _time_converter() -> Callable[[Any], float]:
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
    cost O(classes) and ``oldest`` is None."""
    to_wall = _time_converter()
    stats = []
    for cls, objects in scrapy_classes():
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


def iter_scrapy_objects(cls: type) -> Iterator[tuple[object, float]]:
    """(object, creation time) of the live instances of *cls* in Scrapy's registry, oldest first."""
    to_wall = _time_converter()
    for c, objects in scrapy_classes():
        if c is cls:
            entries = sorted(objects.data.copy().items(), key=itemgetter(1))
            return alive(iter([(wr, to_wall(t)) for wr, t in entries]))
    return iter(())
