"""Live-ref rows grouped by a ``--group-by`` key.

A key (named in `leakscope.wire.GROUP_KEYS`) is either *recorded* — kept by
leakscope's registry when an object is created (``owner``, ``site``) — or
*computed* from the object at report time (``spider``, ``domain``, for
Scrapy's objects). Adding a dimension means one entry in `wire.GROUP_KEYS`
and one in `COMPUTED` here; every command that takes ``--group-by`` picks it up.

A computed key looks at every live object of every class: the work is bounded
by `COMPUTE_BUDGET_S`, and rows counted within the budget only are marked
partial.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from leakscope.target import Refused
from leakscope.wire import GROUP_KEYS, RECORDED_GROUP_KEYS


def _spider(obj: object) -> str | None:
    from leakscope.target.scrapy_keys import spider_of

    return spider_of(obj)


def _domain(obj: object) -> str | None:
    from leakscope.target.scrapy_keys import domain_of

    return domain_of(obj)


#: Keys read from each object at report time.
COMPUTED: dict[str, Callable[[object], str | None]] = {"spider": _spider, "domain": _domain}
#: Seconds a computed grouping may spend on one report.
COMPUTE_BUDGET_S = 10.0

NO_GROUP = "-"
#: The group of objects a computed key had no time left to look at.
UNGROUPED = "(not grouped: time budget spent)"


@dataclass(frozen=True)
class Row:
    """Live objects of one class (and group): count and creation time of the oldest."""

    cls: type
    count: int
    oldest: float | None
    source: str
    group: str | None = None


@dataclass(frozen=True)
class Rows:
    """The rows of a report; ``partial`` when a computed key ran out of time
    (the objects it did not look at are in the `UNGROUPED` group)."""

    rows: list[Row]
    partial: bool = False


def live_rows(group_by: str | None = None, with_oldest: bool = True) -> Rows:
    """Rows of both registries (leakscope's and Scrapy's), grouped when asked.

    ``with_oldest=False`` (ungrouped only) skips the O(objects) search for the
    oldest of Scrapy's objects: for callers that want counts alone.
    """
    from leakscope.target import registry

    if group_by is None:
        stats = registry.class_stats() + registry.scrapy_class_stats(with_oldest)
        return Rows([Row(s.cls, s.count, s.oldest, s.source) for s in stats])
    if group_by not in GROUP_KEYS:
        raise Refused(
            "bad-argument",
            f"unknown group key {group_by!r}; known keys: {', '.join(sorted(GROUP_KEYS))}",
        )
    if group_by in RECORDED_GROUP_KEYS:
        rows = [
            Row(s.cls, s.count, s.oldest, s.source, s.group or NO_GROUP)
            for s in registry.class_stats(group_by=group_by)
        ]
        rows += [
            Row(s.cls, s.count, s.oldest, s.source, NO_GROUP) for s in registry.scrapy_class_stats()
        ]
        return Rows(rows)
    stats = registry.class_stats() + registry.scrapy_class_stats()
    return _computed_rows(stats, COMPUTED[group_by])


def _computed_rows(stats: list[Any], compute: Callable[[object], str | None]) -> Rows:
    from leakscope.target import registry

    rows: list[Row] = []
    deadline = time.monotonic() + COMPUTE_BUDGET_S
    partial = False
    for stat in stats:
        groups: dict[str, list[Any]] = {}
        seen = 0
        obj: object = None
        if not partial:
            for obj, created in registry.iter_objects(stat.cls, stat.source):
                try:
                    group = compute(obj) or NO_GROUP
                except Exception:
                    group = NO_GROUP
                seen += 1
                slot = groups.get(group)
                if slot is None:
                    groups[group] = [1, created]
                else:
                    slot[0] += 1
                    if created is not None and (slot[1] is None or created < slot[1]):
                        slot[1] = created
                if time.monotonic() > deadline:  # bound the agent's work on huge registries
                    partial = True
                    break
            del obj
        if partial and stat.count > seen:
            groups.setdefault(UNGROUPED, [0, None])[0] += stat.count - seen
        rows.extend(
            Row(stat.cls, count, oldest, stat.source, group)
            for group, (count, oldest) in groups.items()
        )
    return Rows(rows, partial)
