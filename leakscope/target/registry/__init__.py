"""The registry of live tracked objects, with Scrapy's names and meanings.

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
* Records are append-only per class (and owner, and site), so the oldest live
  object is found from a head index, and counts come from the weak reference
  callbacks: reports are O(number of classes), not O(objects)
  (`records`).
* Classes are held weakly: a class made at run time and dropped leaves the
  registry once its instances are gone.
* Creation takes no lock, and costs the same inside an :class:`owner` as
  outside (`owners`). Readers never block (`records`).
* Creation sites (``set_track_sites(True)``) walk the stack on every
  creation: several times slower, so off unless asked for (`sites`).

Modules: `records` (one class's entries), `tracking` (the creation path,
`object_ref`, `track`), `owners`, `sites`, `scrapy_api` (Scrapy's calls),
`scrapy_reader` (Scrapy's own registry, when Scrapy is loaded).
"""

from __future__ import annotations

from collections.abc import Iterator

from leakscope.target.describe import qualified_name
from leakscope.target.registry.owners import owner
from leakscope.target.registry.records import RegistryBusy
from leakscope.target.registry.scrapy_api import (
    format_live_refs,
    get_oldest,
    iter_all,
    live_refs,
    own_objects,
    prefs,
    print_live_refs,
)
from leakscope.target.registry.scrapy_reader import (
    iter_scrapy_objects,
    scrapy_class_stats,
    scrapy_classes,
)
from leakscope.target.registry.tracking import (
    TRACKING,
    ClassStat,
    class_stats,
    is_tracked_class,
    matches,
    object_ref,
    our_classes,
    set_track_sites,
    track,
    track_sites,
    untrack,
)

__all__ = [
    "TRACKING",
    "ClassStat",
    "RegistryBusy",
    "all_class_names",
    "class_stats",
    "find_classes",
    "format_live_refs",
    "get_oldest",
    "is_tracked_class",
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
    "untrack",
]


def iter_objects(cls: type, source: str = "leakscope") -> Iterator[tuple[object, float]]:
    """(object, creation time) for live instances of exactly ``cls``, oldest
    first, from leakscope's registry or (``source="scrapy"``) Scrapy's."""
    if source == "scrapy":
        return iter_scrapy_objects(cls)
    if source != "leakscope":
        raise ValueError(f"source must be 'leakscope' or 'scrapy', not {source!r}")
    return own_objects(cls)


def find_classes(name: str) -> list[tuple[type, str]]:
    """Tracked classes (both registries) whose plain or module-qualified name
    is ``name``, as (class, source)."""
    found = [(cls, "leakscope") for cls in our_classes() if matches(cls, name)]
    found += [(cls, "scrapy") for cls, _ in scrapy_classes() if matches(cls, name)]
    return found


def all_class_names() -> list[str]:
    """Plain and module-qualified names of all tracked classes (both
    registries), for "did you mean" suggestions."""
    classes = our_classes() + [cls for cls, _ in scrapy_classes()]
    names = {cls.__name__ for cls in classes} | {qualified_name(cls) for cls in classes}
    return sorted(names)
