"""Heap partitions: by type, by module, by size bucket, and by referrer or "via" of one type.

Each partition is a walk (`walk.HeapWalk`) plus a way of putting the objects
of each chunk into rows. Rows are {"kind", "count", "size"}; see
`leakscope.census.census` for the whole answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from itertools import compress, repeat
from operator import eq

from leakscope.target.census.kinds import type_kind, type_module
from leakscope.target.census.labels import Labeller
from leakscope.target.census.sizes import Sizer
from leakscope.target.census.walk import HeapWalk

Tally = dict[str, list[int]]  # kind -> [count, size]
_EDGE_CHUNK = 1024
_NO_REFERRER = "<no referrer seen>"


def _add(tally: Tally, kind: str, count: int, size: int) -> None:
    row = tally.get(kind)
    if row is None:
        tally[kind] = [count, size]
    else:
        row[0] += count
        row[1] += size


def by_type(walk: HeapWalk, sizer: Sizer) -> tuple[Tally, int, int]:
    """Count and size per type; returns (tally, total count, total size)."""
    per_type, count, size = by_type_objects(walk, sizer)
    return _fold(per_type, type_kind)[0], count, size


def by_module(walk: HeapWalk, sizer: Sizer) -> tuple[Tally, int, int]:
    """Count and size per module that defines the object's type."""
    tally, count, size = by_type_objects(walk, sizer)
    return _fold(tally, type_module)[0], count, size


def by_type_objects(walk: HeapWalk, sizer: Sizer) -> tuple[dict[type, list[int]], int, int]:
    """Like `by_type` but keyed by the type objects themselves."""
    per_type: dict[type, list[int]] = {}
    total_count = total_size = 0
    tick = walk.pacer.tick
    for batch in walk.batches():
        for cls, objects in batch.items():
            size = sizer.total(cls, objects)
            if len(objects) > _EDGE_CHUNK * 16:
                tick()
            total_count += len(objects)
            total_size += size
            row = per_type.get(cls)
            if row is None:
                per_type[cls] = [len(objects), size]
            else:
                row[0] += len(objects)
                row[1] += size
    return per_type, total_count, total_size


def by_size(walk: HeapWalk, sizer: Sizer) -> tuple[Tally, int, int]:
    """Count and size per power-of-two size bucket ("33..64")."""
    per_size: Counter[int] = Counter()
    for batch in walk.batches():
        for cls, objects in batch.items():
            per_size.update(sizer.each(cls, objects))
    tally: Tally = {}
    total_count = total_size = 0
    for size, count in per_size.items():
        top = 1 << max(size - 1, 0).bit_length()
        kind = f"{top // 2 + 1}..{top}" if top > 1 else f"0..{top}"
        _add(tally, kind, count, size * count)
        total_count += count
        total_size += size * count
    return tally, total_count, total_size


def _fold(per_key: dict, name: Callable[[type], str]) -> tuple[Tally, int, int]:
    tally: Tally = {}
    total_count = total_size = 0
    for key, (count, size) in per_key.items():
        _add(tally, name(key), count, size)
        total_count += count
        total_size += size
    return tally, total_count, total_size


def by_edges(
    walk: HeapWalk, sizer: Sizer, target: type, referrer_kinds: bool
) -> tuple[Tally, int, int]:
    """Objects of type ``target`` grouped by the edges that reach them.

    An edge is described by its label (``.meta``, ``['key']``, ``[*]``) or,
    with ``referrer_kinds``, by the type of the referrer. An object reached by
    several different edges has them all in its row, joined by ", ".
    """
    tick = walk.pacer.tick
    labeller = Labeller(target, tick)
    reached: dict[int, str] = {}  # id(object) -> description
    keep: list = []  # the objects themselves, so that their ids stay theirs
    count = 0
    for batch in walk.batches():
        objects = batch.get(target)
        if objects:
            count += len(objects)
            keep.extend(objects)
        for cls, containers in batch.items():
            if not labeller.may_hold(cls):
                continue
            for start in range(0, len(containers), _EDGE_CHUNK):
                for container in labeller.holding(containers[start : start + _EDGE_CHUNK]):
                    if referrer_kinds:
                        groups = [(type_kind(type(container)), labeller.targets(container))]
                    else:
                        groups = labeller.grouped_labels(container)
                    for description, referents in groups:
                        step = _EDGE_CHUNK * 16
                        for at in range(0, len(referents), step):
                            _record(reached, description, referents[at : at + step])
                            tick()
                tick()
    tally = _group(keep, reached, sizer, target, tick)
    return tally, count, sum(size for _, size in tally.values())


def _record(reached: dict[int, str], description: str, referents: list) -> None:
    ids = list(map(id, referents))
    clash = reached.keys() & ids
    merged = {key: _merge(reached[key], description) for key in clash}
    reached.update(zip(ids, repeat(description)))
    if merged:
        reached.update(merged)


def _merge(had: str, description: str) -> str:
    parts = set(had.split(", "))
    if description in parts:
        return had
    parts.add(description)
    return ", ".join(sorted(parts))


def _group(
    keep: list, reached: dict[int, str], sizer: Sizer, target: type, tick: Callable[[], None]
) -> Tally:
    tally: Tally = {}
    step = _EDGE_CHUNK * 16
    for start in range(0, len(keep), step):
        chunk = keep[start : start + step]
        kinds = list(map(reached.get, map(id, chunk)))
        sizes = sizer.each(target, chunk)
        distinct = set(kinds)
        if len(distinct) <= 32:
            for kind in distinct:
                picked = list(compress(sizes, map(eq, kinds, repeat(kind))))
                _add(tally, kind or _NO_REFERRER, len(picked), sum(picked))
        else:
            for kind, size in zip(kinds, sizes, strict=True):
                _add(tally, kind or _NO_REFERRER, 1, size)
        tick()
    return tally
