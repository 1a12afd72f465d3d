"""Live tracked objects, with Scrapy's ``trackref`` names and meanings.

Public names only; the registry itself is `leakscope.target.registry` (its
docstring says what it costs and why)::

    from leakscope.trackref import object_ref, track, prefs, get_oldest, iter_all
"""

from leakscope.target.registry import (
    TRACKING,
    ClassStat,
    all_class_names,
    class_stats,
    find_classes,
    format_live_refs,
    get_oldest,
    iter_all,
    iter_objects,
    live_refs,
    object_ref,
    owner,
    prefs,
    print_live_refs,
    scrapy_class_stats,
    set_track_sites,
    track,
    track_sites,
    untrack,
)

__all__ = [
    "TRACKING",
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
    "untrack",
]
