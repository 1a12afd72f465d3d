"""The registry of tracked objects: counts, ages, owners, sites, the Scrapy
bridge and reading it while other threads create objects."""

from __future__ import annotations

import asyncio
import gc
import inspect
import json
import os
import re
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

from leakscope import trackref
from leakscope.target.registry import sites, tracking
from leakscope.trackref import (
    class_stats,
    find_classes,
    format_live_refs,
    get_oldest,
    iter_all,
    iter_objects,
    object_ref,
    owner,
    track,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def live(cls: type, group_by: str | None = None) -> dict[str | None, int]:
    """Live count of ``cls`` per group, as leakscope reports it."""
    return {s.group: s.count for s in class_stats(group_by) if s.cls is cls}


def count(cls: type) -> int:
    return sum(live(cls).values())


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": REPO, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


# --- counts and ages ------------------------------------------------------


def test_counts_are_exact_and_subclasses_count_under_their_own_name() -> None:
    class Page(object_ref):
        pass

    class FancyPage(Page):
        pass

    pages = [Page() for _ in range(7)]
    fancy = [FancyPage() for _ in range(3)]
    assert count(Page) == 7
    assert count(FancyPage) == 3
    del pages[:5]
    assert count(Page) == 2
    fancy.clear()
    assert count(FancyPage) == 0
    assert all(s.cls is not FancyPage for s in class_stats())


def test_cycles_leave_after_gc_collect() -> None:
    class Node(object_ref):
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a
    assert count(Node) == 2
    del a, b
    gc.collect()
    assert count(Node) == 0


def test_get_oldest_is_the_oldest_live_one() -> None:
    class Job(object_ref):
        pass

    jobs = []
    for _ in range(5):
        jobs.append(Job())
        time.sleep(0.002)
    assert get_oldest("Job") is jobs[0]
    del jobs[0]
    assert get_oldest("Job") is jobs[0]
    del jobs[1]  # a hole in the middle changes nothing
    assert get_oldest("Job") is jobs[0]
    assert get_oldest(f"{Job.__module__}.{Job.__qualname__}") is jobs[0]
    jobs.clear()
    assert get_oldest("Job") is None
    assert get_oldest("NoSuchClassAnywhere") is None


def test_oldest_time_is_the_creation_time() -> None:
    class Stamped(object_ref):
        pass

    before = time.time()
    first = Stamped()
    after = time.time()
    time.sleep(0.01)
    later = Stamped()
    (stat,) = [s for s in class_stats() if s.cls is Stamped]
    assert stat.oldest is not None and before <= stat.oldest <= after
    times = [t for _, t in iter_objects(Stamped)]
    assert times[0] == stat.oldest and times[1] > after
    del first, later


def test_iter_all_is_oldest_first_and_skips_the_dead() -> None:
    class Item(object_ref):
        def __init__(self, n: int) -> None:
            self.n = n

    items = [Item(n) for n in range(20)]
    del items[3], items[10]
    assert [i.n for i in iter_all("Item")] == [i.n for i in items]
    assert [o.n for o, _ in iter_objects(Item)] == [i.n for i in items]


def test_dead_entries_are_squeezed_out_and_order_kept() -> None:
    class Row(object_ref):
        def __init__(self, n: int) -> None:
            self.n = n

    rows, windows = [], []
    for n in range(5000):
        t0 = time.time()
        rows.append(Row(n))
        t1 = time.time()
        windows.append((t0, t1))
        while time.time() == t1:  # disjoint windows: each time names one row
            pass
    (record,) = tracking.records_of(Row)

    def check(kept: list[Row]) -> None:
        assert count(Row) == len(kept)
        assert len(record.refs) == len(record.times)
        assert get_oldest("Row") is kept[0]
        assert [r.n for r in iter_all("Row")] == [r.n for r in kept]
        for row, created in iter_objects(Row):
            start, end = windows[row.n]
            assert start <= created <= end, "creation times no longer match their objects"

    for i in range(3000):  # the oldest die first, as they mostly do
        rows[i] = None  # type: ignore[call-overload]
    assert len(record.refs) <= 2 * 2000 + 64  # most of the dead prefix went
    check(rows[3000:])
    kept = rows[3001::10]  # and now holes all over
    del rows
    assert len(record.refs) < 2 * len(kept) + 100
    check(kept)
    more = [Row(n) for n in range(5000, 5100)]
    assert count(Row) == len(kept) + 100
    assert [r.n for r in iter_all("Row")] == [r.n for r in kept + more]


def test_format_live_refs_and_ignore() -> None:
    class Alpha(object_ref):
        pass

    class AlphaChild(Alpha):
        pass

    class Beta(object_ref):
        pass

    keep = [Alpha(), Alpha(), AlphaChild(), Beta()]
    text = format_live_refs()
    assert text.startswith("Live References\n\n")
    assert re.search(r"^Alpha {25} {6}2   oldest: \d+s ago$", text, re.M)
    assert re.search(r"^AlphaChild\s+1   oldest: \d+s ago$", text, re.M)
    assert re.search(r"^Beta\s+1   oldest: 0s ago$", text, re.M)
    # Scrapy's order: by class name
    assert text.index("\nAlpha ") < text.index("\nAlphaChild ") < text.index("\nBeta ")

    no_alpha = format_live_refs(ignore=Alpha)  # subclasses go too
    assert "Alpha" not in no_alpha and "\nBeta " in no_alpha
    neither = format_live_refs(ignore=(AlphaChild, Beta))
    assert "\nAlpha " in neither and "AlphaChild" not in neither and "Beta" not in neither
    del keep


def test_prefs_prints_the_report(capsys: pytest.CaptureFixture[str]) -> None:
    class Printed(object_ref):
        pass

    keep = Printed()
    trackref.prefs()
    out = capsys.readouterr().out
    assert out.startswith("Live References") and "Printed" in out
    trackref.print_live_refs(ignore=Printed)
    assert "Printed" not in capsys.readouterr().out
    del keep


def test_live_refs_reads_like_scrapys() -> None:
    class Mapped(object_ref):
        pass

    objs = [Mapped(), Mapped()]
    wdict = trackref.live_refs[Mapped]
    assert Mapped in trackref.live_refs and len(wdict) == 2
    assert list(wdict) == objs and objs[1] in wdict
    assert min(wdict.values()) == wdict[objs[0]]
    assert any(c is Mapped and len(w) == 2 for c, w in trackref.live_refs.items())
    del objs
    assert len(wdict) == 0 and list(wdict) == []


# --- editing live_refs as Scrapy code does --------------------------------
#
# Scrapy's own tests and user fixtures forget tracked objects by editing
# ``live_refs``. The objects stay alive; what was forgotten is no longer
# counted, and what is made afterwards is counted afresh. Each test does the
# same to Scrapy's registry (``scrapy.utils.trackref``) and compares.


@pytest.fixture
def scrapy_live_refs() -> Iterator[Any]:
    """Scrapy's registry, restored after the test (other tests count Scrapy objects)."""
    from scrapy.utils import trackref as scrapy_trackref

    saved = list(scrapy_trackref.live_refs.items())
    yield scrapy_trackref
    for cls, objects in saved:
        scrapy_trackref.live_refs[cls] = objects


def scrapy_len(registry: Any, cls: type) -> int:
    """len(live_refs[cls]) in Scrapy (2.19 raises KeyError for a class it has no entry for)."""
    return len(registry.live_refs.get(cls, ()))


def test_del_live_refs_of_a_class_forgets_its_objects(scrapy_live_refs: Any) -> None:
    class DelClass(object_ref):
        pass

    class DelClassTheirs(scrapy_live_refs.object_ref):
        pass

    mine, theirs = [DelClass() for _ in range(4)], [DelClassTheirs() for _ in range(4)]
    alive = [weakref.ref(o) for o in mine]
    assert len(trackref.live_refs[DelClass]) == 4 == scrapy_len(scrapy_live_refs, DelClassTheirs)
    del trackref.live_refs[DelClass]
    del scrapy_live_refs.live_refs[DelClassTheirs]
    assert len(trackref.live_refs[DelClass]) == 0 == scrapy_len(scrapy_live_refs, DelClassTheirs)
    assert DelClass not in trackref.live_refs and DelClassTheirs not in scrapy_live_refs.live_refs
    assert (
        count(DelClass) == 0 and get_oldest("DelClass") is None and list(iter_all("DelClass")) == []
    )
    assert "DelClass" not in format_live_refs()
    assert all(r() is not None for r in alive)  # forgotten, not freed
    with pytest.raises(KeyError):
        del trackref.live_refs[DelClass]
    with pytest.raises(KeyError):
        del scrapy_live_refs.live_refs[DelClassTheirs]
    # New objects are counted afresh; the forgotten ones dying changes nothing.
    fresh, fresh_theirs = DelClass(), DelClassTheirs()
    assert len(trackref.live_refs[DelClass]) == 1 == scrapy_len(scrapy_live_refs, DelClassTheirs)
    assert get_oldest("DelClass") is fresh and list(iter_all("DelClass")) == [fresh]
    del mine, theirs
    gc.collect()
    assert len(trackref.live_refs[DelClass]) == 1 == scrapy_len(scrapy_live_refs, DelClassTheirs)
    assert count(DelClass) == 1 and DelClass in trackref.live_refs
    del fresh, fresh_theirs
    assert count(DelClass) == 0


def test_del_one_object_from_live_refs(scrapy_live_refs: Any) -> None:
    class DelOne(object_ref):
        pass

    class DelOneTheirs(scrapy_live_refs.object_ref):
        pass

    mine, theirs = [DelOne() for _ in range(5)], [DelOneTheirs() for _ in range(5)]
    del trackref.live_refs[DelOne][mine[0]]
    del scrapy_live_refs.live_refs[DelOneTheirs][theirs[0]]
    assert len(trackref.live_refs[DelOne]) == 4 == scrapy_len(scrapy_live_refs, DelOneTheirs)
    assert mine[0] not in trackref.live_refs[DelOne] and mine[1] in trackref.live_refs[DelOne]
    assert get_oldest("DelOne") is mine[1]  # the forgotten one was the oldest
    assert list(iter_all("DelOne")) == mine[1:]
    with pytest.raises(KeyError):
        del trackref.live_refs[DelOne][mine[0]]  # forgotten already
    with pytest.raises(KeyError):
        del scrapy_live_refs.live_refs[DelOneTheirs][theirs[0]]
    with pytest.raises(KeyError):
        del trackref.live_refs[DelOne][object()]  # never counted
    # The forgotten object dying is not booked a second time.
    del mine[0], theirs[0]
    assert len(trackref.live_refs[DelOne]) == 4 == scrapy_len(scrapy_live_refs, DelOneTheirs)
    del mine[0], theirs[0]
    assert len(trackref.live_refs[DelOne]) == 3 == scrapy_len(scrapy_live_refs, DelOneTheirs)
    mine.append(DelOne())
    theirs.append(DelOneTheirs())
    assert len(trackref.live_refs[DelOne]) == 4 == scrapy_len(scrapy_live_refs, DelOneTheirs)
    assert count(DelOne) == 4


def test_forgotten_objects_stay_out_of_the_counts_through_compaction() -> None:
    class Bulk(object_ref):
        pass

    objs = [Bulk() for _ in range(300)]
    for obj in objs[:100]:
        del trackref.live_refs[Bulk][obj]
    assert len(trackref.live_refs[Bulk]) == 200 == count(Bulk)
    del objs[100:250]  # enough deaths for the record to squeeze out its dead entries
    assert len(trackref.live_refs[Bulk]) == 50 == count(Bulk)
    del objs[:100]  # the forgotten ones die
    assert len(trackref.live_refs[Bulk]) == 50 == count(Bulk)
    assert [o for o in iter_all("Bulk")] == objs
    objs += [Bulk() for _ in range(10)]
    assert len(trackref.live_refs[Bulk]) == 60 == count(Bulk)
    assert get_oldest("Bulk") is objs[0]


def test_clear_the_live_objects_of_one_class(scrapy_live_refs: Any) -> None:
    class ClearOne(object_ref):
        pass

    class ClearOneTheirs(scrapy_live_refs.object_ref):
        pass

    mine, theirs = [ClearOne() for _ in range(3)], [ClearOneTheirs() for _ in range(3)]
    trackref.live_refs[ClearOne].clear()
    scrapy_live_refs.live_refs[ClearOneTheirs].clear()
    assert len(trackref.live_refs[ClearOne]) == 0 == scrapy_len(scrapy_live_refs, ClearOneTheirs)
    assert count(ClearOne) == 0
    mine.append(ClearOne())
    theirs.append(ClearOneTheirs())
    assert len(trackref.live_refs[ClearOne]) == 1 == scrapy_len(scrapy_live_refs, ClearOneTheirs)
    assert list(iter_all("ClearOne")) == mine[3:]


def test_live_refs_of_a_class_never_tracked_is_empty() -> None:
    class Untracked:
        pass

    before = len(trackref.live_refs)
    objects = trackref.live_refs[Untracked]
    assert len(objects) == 0 and list(objects) == [] and objects.items() == []
    assert Untracked() not in objects
    # Looking does not add the class (Scrapy's older defaultdict did; 2.19 raises KeyError).
    assert Untracked not in trackref.live_refs and len(trackref.live_refs) == before
    with pytest.raises(KeyError):
        del trackref.live_refs[Untracked]


CLEAR_LIKE_SCRAPY = """
import gc, json, time, weakref
from leakscope import trackref as ours
from scrapy.utils import trackref as theirs

def run(registry, base, counted):
    class Page(base):
        pass
    pages = [Page() for _ in range(3)]
    alive = [weakref.ref(p) for p in pages]
    out = {"before": len(registry.live_refs[Page])}
    registry.live_refs.clear()
    out["len_after_clear"] = len(registry.live_refs.get(Page, ()))
    out["classes_after_clear"] = len(registry.live_refs)
    out["alive_after_clear"] = sum(r() is not None for r in alive)
    out["oldest_after_clear"] = registry.get_oldest("Page") is not None
    out["report_after_clear"] = "Page" in registry.format_live_refs()
    fresh = Page()
    out["len_new"] = len(registry.live_refs[Page])
    out["oldest_is_new"] = registry.get_oldest("Page") is fresh
    out["all_new"] = [p is fresh for p in registry.iter_all("Page")]
    del pages
    gc.collect()
    out["len_after_forgotten_died"] = len(registry.live_refs[Page])
    out["counted"] = counted(Page)
    return out

def our_count(cls):
    return sum(s.count for s in ours.class_stats() if s.cls is cls)

print(json.dumps({
    "leakscope": run(ours, ours.object_ref, our_count),
    "scrapy": run(theirs, theirs.object_ref, lambda cls: len(theirs.live_refs[cls])),
}))
"""


def test_live_refs_clear_forgets_everything_like_scrapy() -> None:
    """In a process of its own: clear() forgets every tracked object of the process."""
    result = run_python(CLEAR_LIKE_SCRAPY)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    expected = {
        "before": 3,
        "len_after_clear": 0,
        "classes_after_clear": 0,
        "alive_after_clear": 3,
        "oldest_after_clear": False,
        "report_after_clear": False,
        "len_new": 1,
        "oldest_is_new": True,
        "all_new": [True],
        "len_after_forgotten_died": 1,
        "counted": 1,
    }
    assert found["scrapy"] == expected  # the reference
    assert found["leakscope"] == expected


def test_an_object_forgotten_by_del_class_can_be_counted_again(scrapy_live_refs: Any) -> None:
    """``live_refs[cls][obj] = t`` after forgetting ``cls`` counts obj again, as in Scrapy.

    With the collector off (or before its next pass), as a program may run.
    """

    class Recounted(object_ref):
        pass

    class RecountedTheirs(scrapy_live_refs.object_ref):
        pass

    enabled = gc.isenabled()
    gc.disable()
    try:
        mine, theirs = [Recounted(), Recounted()], [RecountedTheirs(), RecountedTheirs()]
        del trackref.live_refs[Recounted]
        del scrapy_live_refs.live_refs[RecountedTheirs]
        trackref.live_refs[Recounted][mine[0]] = time.time()
        scrapy_live_refs.live_refs[RecountedTheirs] = weakref.WeakKeyDictionary({theirs[0]: 1})
        assert scrapy_len(scrapy_live_refs, RecountedTheirs) == 1
        assert len(trackref.live_refs[Recounted]) == 1
        assert list(iter_all("Recounted")) == [mine[0]]
    finally:
        if enabled:
            gc.enable()


def test_an_object_forgotten_by_del_object_can_be_counted_again() -> None:
    class RecountedOne(object_ref):
        pass

    mine = [RecountedOne(), RecountedOne()]
    del trackref.live_refs[RecountedOne][mine[0]]
    trackref.live_refs[RecountedOne][mine[0]] = time.time()
    assert len(trackref.live_refs[RecountedOne]) == 2
    trackref.live_refs[RecountedOne][mine[0]] = time.time()  # already counted: once only
    assert len(trackref.live_refs[RecountedOne]) == 2


def test_dropped_dynamic_classes_leave_the_registry() -> None:
    made = type("MadeAtRunTime", (object_ref,), {})
    objs = [made() for _ in range(3)]
    assert find_classes("MadeAtRunTime") == [(made, "leakscope")]
    class_ref = __import__("weakref").ref(made)
    del objs, made
    gc.collect()
    assert class_ref() is None, "the registry kept the class alive"
    assert find_classes("MadeAtRunTime") == []
    assert "MadeAtRunTime" not in trackref.all_class_names()
    assert all(r.cls_ref() is not None for r in tracking.registry.values())


# --- classes of all kinds -------------------------------------------------


def test_slots_unhashable_and_eq_classes() -> None:
    class Slotted(object_ref):
        __slots__ = ("a",)

    class Ordinary:
        def __init__(self) -> None:
            self.base_ran = True

    class Mixed(object_ref, Ordinary):
        pass

    class SlottedBase:
        __slots__ = ("b",)

    class MixedSlots(object_ref, SlottedBase):
        __slots__ = ("c",)

    class Unhashable(object_ref):
        __hash__ = None  # type: ignore[assignment]

    class EqualToAll(object_ref):
        def __eq__(self, other: object) -> bool:
            raise AssertionError("the registry must not compare objects")

        def __hash__(self) -> int:
            raise AssertionError("the registry must not hash objects")

    objs = [Slotted(), Mixed(), MixedSlots(), Unhashable(), EqualToAll(), EqualToAll()]
    assert objs[1].base_ran
    assert not hasattr(objs[0], "__dict__")
    for cls, n in [(Slotted, 1), (Mixed, 1), (MixedSlots, 1), (Unhashable, 1), (EqualToAll, 2)]:
        assert count(cls) == n, cls
    assert get_oldest("EqualToAll") is objs[4]
    assert [o for o, _ in iter_objects(EqualToAll)][1] is objs[5]
    del objs
    assert count(EqualToAll) == 0


def test_init_arguments_and_own_new_in_subclasses() -> None:
    class WithInit(object_ref):
        def __init__(self, a: int, *, b: int = 0) -> None:
            self.total = a + b

    class WithNew(object_ref):
        def __new__(cls, value: int) -> WithNew:
            obj = super().__new__(cls)
            obj.value = value
            return obj

    class UnderWithNew(WithNew):
        pass

    class DictBased(object_ref, dict):  # type: ignore[misc]
        pass

    objs = [WithInit(1, b=2), WithNew(5), UnderWithNew(6), DictBased(x=1)]
    assert objs[0].total == 3 and objs[1].value == 5 and objs[2].value == 6
    assert objs[3] == {"x": 1}
    assert [count(c) for c in (WithInit, WithNew, UnderWithNew, DictBased)] == [1, 1, 1, 1]


def test_untrack_leaves_the_class_making_objects_as_before() -> None:
    from leakscope.target.registry import untrack

    class Event:
        def __init__(self, n: int, *, user: str = "") -> None:
            self.n, self.user = n, user

    class Sub(Event):
        pass

    class Bare:
        pass

    for cls in (Event, Bare):
        track(cls)
        assert untrack(cls)
    # Arguments go to __init__, as before tracking (CPython's object.__new__ refused them).
    assert Event(1, user="u").n == 1 and Sub(2).n == 2 and count(Event) == 0
    with pytest.raises(TypeError, match="takes no arguments"):
        Bare(1)
    assert isinstance(Bare(), Bare)
    track(Event)  # again, and back
    assert Event(3).n == 3 and count(Event) == 1
    assert untrack(Event) and Event(4).n == 4


def test_track_as_decorator_and_as_call() -> None:
    @track
    class Decorated:
        pass

    class Called:
        def __init__(self, name: str) -> None:
            self.name = name

    assert track(Called) is Called
    assert track(Called) is Called  # twice is harmless
    objs = [Decorated(), Decorated(), Called("x")]
    assert count(Decorated) == 2 and count(Called) == 1
    assert objs[2].name == "x"
    del objs
    assert count(Decorated) == 0 and count(Called) == 0


def test_track_class_with_own_new_and_its_subclasses() -> None:
    class Custom:
        def __new__(cls, size: int, fill: str = ".") -> Custom:
            obj = super().__new__(cls)
            obj.cells = fill * size
            return obj

        def __init__(self, size: int, fill: str = ".") -> None:
            self.size = size

    track(Custom)

    class Sub(Custom):
        pass

    class SubWithNew(Custom):
        def __new__(cls, size: int) -> SubWithNew:
            return super().__new__(cls, size, "#")

    objs = [Custom(3), Custom(2, fill="x"), Sub(1), SubWithNew(4)]
    assert objs[1].cells == "xx" and objs[1].size == 2 and objs[3].cells == "####"
    assert [count(c) for c in (Custom, Sub, SubWithNew)] == [2, 1, 1]
    assert track(Sub) is Sub  # already tracked through Custom: no double count
    Sub(1)
    assert count(Sub) == 1


def test_subclasses_of_tracked_classes_with_other_bases() -> None:
    @track
    class Base:
        pass

    class WithDict(Base, dict):  # type: ignore[misc]
        pass

    class Mixin:
        def __new__(cls, value: int) -> Mixin:
            obj = super().__new__(cls)
            obj.value = value
            return obj

    class WithMixin(Base, Mixin):
        def __init__(self, value: int) -> None:
            self.seen = value

    class RefWithMixin(object_ref, Mixin):
        pass

    @track
    class Other:
        pass

    class RefAndTracked(object_ref, Other):
        pass

    objs = [WithDict(a=1), WithMixin(7), RefWithMixin(8), RefAndTracked(), Base()]
    assert objs[0] == {"a": 1}
    assert objs[1].value == 7 and objs[1].seen == 7 and objs[2].value == 8
    counts = [count(c) for c in (WithDict, WithMixin, RefWithMixin, RefAndTracked, Base)]
    assert counts == [1, 1, 1, 1, 1]


def test_track_counts_an_object_its_new_returns_again_once() -> None:
    class Single:
        made: Single | None = None

        def __new__(cls) -> Single:
            if cls.made is None:
                cls.made = super().__new__(cls)
            return cls.made

    track(Single)
    same = [Single() for _ in range(5)]
    assert count(Single) == 1
    assert len({id(s) for s in same}) == 1


def test_track_refuses_what_it_cannot_track() -> None:
    class NoWeakref:
        __slots__ = ("a",)

    for cls in (dict, int, NoWeakref):
        with pytest.raises(TypeError, match="weak references"):
            track(cls)
    with pytest.raises(TypeError, match="cannot be changed"):
        track(set)  # weak references, but an immutable builtin type
    with pytest.raises(TypeError, match="takes a class"):
        track(object())  # type: ignore[type-var]


def test_tracking_off_by_environment() -> None:
    code = """
import sys
from leakscope import trackref
class A(trackref.object_ref):
    pass
class B:
    pass
assert trackref.track(B) is B
objs = [A(), A(), B()]
print(trackref.TRACKING, "__new__" in vars(trackref.object_ref), "__new__" in vars(A),
      "__new__" in vars(B), trackref.class_stats(), trackref.get_oldest("A"))
"""
    off = run_python(code, LEAKSCOPE_TRACK_REFS="0")
    assert off.returncode == 0, off.stderr
    assert off.stdout.split() == ["False", "False", "False", "False", "[]", "None"]
    on = run_python(code, LEAKSCOPE_TRACK_REFS="1")
    assert on.returncode == 0, on.stderr
    assert on.stdout.split()[:4] == ["True", "True", "True", "True"]


# --- owners and sites -----------------------------------------------------


def test_owners_in_two_threads() -> None:
    class Fetched(object_ref):
        pass

    kept: list[Fetched] = []
    both_inside = threading.Barrier(2)

    def work(name: str, n: int) -> None:
        with owner(name):
            both_inside.wait()
            for _ in range(n):
                kept.append(Fetched())
                time.sleep(0)

    threads = [threading.Thread(target=work, args=(n, k)) for n, k in (("t1", 300), ("t2", 200))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outside = Fetched()
    assert live(Fetched, "owner") == {"t1": 300, "t2": 200, None: 1}
    assert live(Fetched) == {None: 501}
    del outside


def test_owners_in_two_asyncio_tasks_and_as_decorators() -> None:
    class Parsed(object_ref):
        pass

    kept: list[Parsed] = []

    async def crawl(name: str, n: int) -> None:
        async with owner(name):
            for _ in range(n):
                kept.append(Parsed())
                await asyncio.sleep(0)  # the other task runs in between

    @owner("decorated-async")
    async def parse_async() -> None:
        kept.append(Parsed())
        await asyncio.sleep(0)
        kept.append(Parsed())

    @owner("decorated-sync")
    def parse_sync() -> Parsed:
        return Parsed()

    async def main() -> None:
        await asyncio.gather(crawl("spider-a", 30), crawl("spider-b", 20), parse_async())

    asyncio.run(main())
    kept.append(parse_sync())
    with owner("outer"):
        kept.append(Parsed())
        with owner("inner"):
            kept.append(Parsed())
        kept.append(Parsed())
    kept.append(Parsed())
    assert live(Parsed, "owner") == {
        "spider-a": 30,
        "spider-b": 20,
        "decorated-async": 2,
        "decorated-sync": 1,
        "outer": 2,
        "inner": 1,
        None: 1,
    }


def test_owner_rejects_bad_use() -> None:
    with pytest.raises(TypeError):
        owner(3)  # type: ignore[arg-type]

    def gen():  # type: ignore[no-untyped-def]
        yield 1

    with pytest.raises(TypeError, match="generator"):
        owner("x")(gen)


def test_owner_is_restored_after_an_exception() -> None:
    class Failing(object_ref):
        pass

    @owner("boom")
    def fails() -> None:
        raise ValueError

    with pytest.raises(ValueError):
        fails()
    with pytest.raises(ValueError), owner("boom2"):
        raise ValueError
    keep = Failing()
    assert live(Failing, "owner") == {None: 1}
    del keep


def test_sites_name_the_creating_line() -> None:
    class Sited(object_ref):
        pass

    @track
    class TrackedSited:
        pass

    def make() -> list[object]:
        return [Sited(), TrackedSited()]

    before = Sited()
    trackref.set_track_sites(True)
    try:
        assert trackref.track_sites()
        line = inspect.currentframe().f_lineno + 1  # type: ignore[union-attr]
        objs = [Sited() for _ in range(3)]
        objs += make()
    finally:
        trackref.set_track_sites(False)
    after = Sited()
    here = __file__
    make_line = make.__code__.co_firstlineno + 1
    assert live(Sited, "site") == {f"{here}:{line}": 3, f"{here}:{make_line}": 1, None: 2}
    assert live(TrackedSited, "site") == {f"{here}:{make_line}": 1}
    assert live(Sited) == {None: 6}
    # one string per site, not one per object
    (site,) = {
        r.site
        for c, r in tracking.records()
        if c is Sited and r.site and "make" not in r.site and str(line) in r.site
    }
    assert sites.site_names[(here, line)] is site
    del before, after, objs


def test_sites_on_from_environment() -> None:
    code = """
from leakscope import trackref
class A(trackref.object_ref):
    pass
a = A()
print(trackref.track_sites(), [s.group for s in trackref.class_stats("site")])
"""
    result = run_python(code, LEAKSCOPE_TRACK_SITES="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "['<string>:5']"]


# --- Scrapy's registry ----------------------------------------------------


def test_scrapy_registry_is_read_not_imported() -> None:
    code = """
import sys
from leakscope import trackref
print(trackref.scrapy_class_stats(), trackref.find_classes("Request"),
      "scrapy" in sys.modules)
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["[]", "[]", "False"]


def test_scrapy_objects_through_the_bridge() -> None:
    from scrapy import Request
    from scrapy.http import HtmlResponse

    before = {s.cls: s.count for s in trackref.scrapy_class_stats()}
    start = time.time()
    requests = [Request(f"https://example.com/{n}") for n in range(4)]
    response = HtmlResponse("https://example.com/", body=b"<html></html>", request=requests[0])
    stats = {s.cls: s for s in trackref.scrapy_class_stats()}
    assert stats[Request].count == before.get(Request, 0) + 4
    assert stats[HtmlResponse].count == before.get(HtmlResponse, 0) + 1
    assert stats[Request].source == "scrapy" and stats[Request].group is None
    assert stats[HtmlResponse].oldest is not None
    assert start - 1 <= stats[HtmlResponse].oldest <= time.time() + 1  # wall clock
    mine = [o for o, _ in iter_objects(Request, "scrapy") if o in requests]
    assert mine == requests  # oldest first
    assert (Request, "scrapy") in find_classes("Request")
    assert (HtmlResponse, "scrapy") in find_classes("scrapy.http.response.html.HtmlResponse")
    assert "HtmlResponse" in trackref.all_class_names()
    counts_only = {s.cls: s for s in trackref.scrapy_class_stats(with_oldest=False)}
    assert {c: s.count for c, s in counts_only.items()} == {c: s.count for c, s in stats.items()}
    assert all(s.oldest is None for s in counts_only.values())
    del response


def test_scrapy_classes_we_also_track_are_not_counted_twice() -> None:
    from scrapy.utils.trackref import object_ref as scrapy_object_ref

    class Both(scrapy_object_ref):
        pass

    track(Both)
    objs = [Both(), Both()]
    assert count(Both) == 2
    assert all(s.cls is not Both for s in trackref.scrapy_class_stats())
    assert find_classes("Both") == [(Both, "leakscope")]
    del objs


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        class_stats("spider")
    with pytest.raises(ValueError):
        iter_objects(int, "guppy")


# --- threads --------------------------------------------------------------


@pytest.mark.slow
def test_reading_while_other_threads_create_and_drop() -> None:
    class Churn(object_ref):
        pass

    stop = threading.Event()
    errors: list[BaseException] = []
    survivors: list[list[Churn]] = [[], []]

    def churn(keep: list[Churn], step: int) -> None:
        try:
            while not stop.is_set():
                batch = [Churn() for _ in range(500)]
                keep.extend(batch[::step])  # some live on, in a ragged order
                del batch
                if len(keep) > 2000:
                    del keep[::2]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    workers = [
        threading.Thread(target=churn, args=(survivors[0], 50)),
        threading.Thread(target=churn, args=(survivors[1], 7)),
    ]
    for worker in workers:
        worker.start()
    reads = 0
    deadline = time.monotonic() + 1.5
    try:
        while time.monotonic() < deadline:
            for stat in class_stats():
                assert stat.count >= 0
            assert all(type(o) is Churn for o, _ in iter_objects(Churn))
            get_oldest("Churn")
            format_live_refs()
            class_stats("owner")
            reads += 1
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    assert not errors, errors
    assert reads > 5
    assert count(Churn) == len(survivors[0]) + len(survivors[1])
    assert {id(o) for o in iter_all("Churn")} == {id(o) for s in survivors for o in s}
    survivors.clear()
    assert count(Churn) == 0
