"""The one table of ``--group-by`` keys, and live-ref rows grouped by them.

A key is either *recorded* — kept by leakscope's registry when an object is
created (``owner``, ``site``) — or *computed* from the object at report time
(``spider``, ``domain``, for Scrapy's objects). Adding a dimension means one
entry in `GROUP_KEYS`; every command that takes ``--group-by`` picks it up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def _spider(obj: object) -> str | None:
    from leakscope.integrations.scrapy import spider_of

    return spider_of(obj)


def _domain(obj: object) -> str | None:
    from leakscope.integrations.scrapy import domain_of

    return domain_of(obj)


@dataclass(frozen=True)
class GroupKey:
    """One way to group live objects."""

    name: str
    help: str
    recorded: bool = False
    compute: Callable[[object], str | None] | None = None


GROUP_KEYS: dict[str, GroupKey] = {
    "owner": GroupKey("owner", "the leakscope.owner(...) current when the object was made", True),
    "site": GroupKey("site", "file:line that created the object (sites must be on)", True),
    "spider": GroupKey(
        "spider", "the Scrapy spider that owns the request/response", False, _spider
    ),
    "domain": GroupKey("domain", "the host of the request/response URL", False, _domain),
}

NO_GROUP = "-"


class UnknownGroupKey(ValueError):
    """A --group-by value that is not in GROUP_KEYS."""


@dataclass(frozen=True)
class Row:
    """Live objects of one class (and group): count and creation time of the oldest."""

    cls: type
    count: int
    oldest: float | None
    source: str
    group: str | None = None


def live_rows(group_by: str | None = None, with_oldest: bool = True) -> list[Row]:
    """Rows of both registries (leakscope's and Scrapy's), grouped when asked.

    ``with_oldest=False`` (ungrouped only) skips the O(objects) search for the
    oldest of Scrapy's objects: for callers that want counts alone.
    """
    from leakscope import trackref

    if group_by is None:
        stats = trackref.class_stats() + trackref.scrapy_class_stats(with_oldest)
        return [Row(s.cls, s.count, s.oldest, s.source) for s in stats]
    key = GROUP_KEYS.get(group_by)
    if key is None:
        raise UnknownGroupKey(
            f"unknown group key {group_by!r}; known keys: {', '.join(sorted(GROUP_KEYS))}"
        )
    if key.recorded:
        rows = [
            Row(s.cls, s.count, s.oldest, s.source, s.group or NO_GROUP)
            for s in trackref.class_stats(group_by=key.name)
        ]
        rows += [
            Row(s.cls, s.count, s.oldest, s.source, NO_GROUP) for s in trackref.scrapy_class_stats()
        ]
        return rows
    assert key.compute is not None
    stats = trackref.class_stats() + trackref.scrapy_class_stats()
    return _computed_rows(stats, key.compute)


def _computed_rows(stats: list[Any], compute: Callable[[object], str | None]) -> list[Row]:
    from leakscope import trackref

    rows: list[Row] = []
    deadline = time.monotonic() + 10.0
    for stat in stats:
        groups: dict[str, list[Any]] = {}
        obj: object = None
        for obj, created in trackref.iter_objects(stat.cls, stat.source):
            try:
                group = compute(obj) or NO_GROUP
            except Exception:
                group = NO_GROUP
            slot = groups.get(group)
            if slot is None:
                groups[group] = [1, created]
            else:
                slot[0] += 1
                if created is not None and (slot[1] is None or created < slot[1]):
                    slot[1] = created
            if time.monotonic() > deadline:  # bound the agent's work on huge registries
                break
        del obj
        rows.extend(
            Row(stat.cls, count, oldest, stat.source, group)
            for group, (count, oldest) in groups.items()
        )
    return rows
