"""The built-in heap census on heaps with known contents, and against guppy3."""

from __future__ import annotations

import collections
import functools
import gc
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import weakref
from pathlib import Path

import pytest

from leakscope.client.reports import RetentionPath
from leakscope.render.paths import to_dot
from leakscope.target import Refused
from leakscope.target.census import census, retention_path
from leakscope.target.census.kinds import type_kind

ROOT = Path(__file__).resolve().parents[1]
PY313 = Path(os.popen("pyenv root 2>/dev/null").read().strip() or "/nonexistent") / (
    "versions/3.13.0/bin/python3"
)


class CensusHolder:
    def __init__(self, i: int) -> None:
        self.meta = {"n": i}
        self.name = "holder"


class CensusOwner:
    def __init__(self) -> None:
        self.child: object = None


class CensusLeaf:
    pass


class CensusNode:
    def __init__(self, nxt: object) -> None:
        self.next = nxt


class CensusPlain:
    def __init__(self, i: int) -> None:
        self.a = i
        self.b = "plain"
        self.c = 0.5


HOLDERS: list = []
OWNERS: list = []
CHAIN: list = []
WEAK_ONLY: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def _row(answer: dict, kind: str) -> dict | None:
    return next((row for row in answer["rows"] if row["kind"] == kind), None)


@pytest.fixture
def holders():
    HOLDERS[:] = [CensusHolder(i) for i in range(10_000)]
    yield HOLDERS
    HOLDERS.clear()


def test_by_type_counts_every_instance(holders):
    answer = census("type", limit=10_000)
    row = _row(answer, type_kind(CensusHolder))
    assert row is not None and row["count"] == 10_000
    assert row["size"] == 10_000 * sys.getsizeof(holders[0])
    assert _row(answer, "dict")["count"] >= 10_000
    # Untracked atoms are counted too: the 10,000 ints inside the untracked meta dicts.
    assert _row(answer, "int")["count"] >= 10_000
    assert answer["total_count"] >= sum(row["count"] for row in answer["rows"])
    assert not answer["partial"] and answer["backend"] == "builtin"
    assert answer["elapsed_s"] >= answer["max_pause_s"] > 0


@pytest.mark.slow
def test_via_names_the_attribute(holders):
    answer = census("via", of="dict", limit=20)
    assert answer["of"] == "dict"
    row = _row(answer, ".meta")
    assert row is not None and row["count"] == 10_000
    assert row["size"] == sum(sys.getsizeof(h.meta) for h in holders)


def test_referrer_lists_the_holders_type(holders):
    answer = census("referrer", of="CensusHolder")
    assert answer["of"] == type_kind(CensusHolder)
    size = 10_000 * sys.getsizeof(holders[0])  # 56 B each on 3.11, 48 B on 3.13
    assert answer["rows"][0] == {"kind": "list", "count": 10_000, "size": size}
    via = census("via", of=type_kind(CensusHolder))
    assert via["rows"][0]["kind"] == "[*]" and via["rows"][0]["count"] == 10_000


@pytest.mark.slow
def test_module_and_size_partitions(holders):
    by_module = census("module", limit=500)
    mine = _row(by_module, CensusHolder.__module__)
    assert mine is not None and mine["count"] >= 10_000
    by_size = census("size", limit=100)
    assert by_size["total_count"] == sum(row["count"] for row in by_size["rows"])
    holder_size = sys.getsizeof(holders[0])
    bucket = next(r for r in by_size["rows"] if _in_bucket(holder_size, r["kind"]))
    assert bucket["count"] >= 10_000


def _in_bucket(size: int, kind: str) -> bool:
    low, high = (int(x) for x in kind.split(".."))
    return low <= size <= high


@pytest.mark.slow
def test_walk_does_not_create_instance_dicts():
    fresh = [CensusPlain(i) for i in range(1_000)]

    def dicts_inside() -> int:
        return sum(type(r) is dict for obj in fresh for r in gc.get_referents(obj))

    assert dicts_inside() == 0  # attributes are inline: the check below can see a change
    census("type")
    census("via", of="CensusPlain")
    census("via", of="str", max_objects=200_000)
    retention_path(fresh[500])
    assert dicts_inside() == 0
    if sys.version_info < (3, 13):
        # On 3.11/3.12 reading __dict__ materialises a dict the instance then refers
        # to: the check does see that (3.13 keeps the values inline and shows none).
        fresh[0].__dict__  # noqa: B018
        assert dicts_inside() == 1


def test_retention_path_does_not_call_a_c_types_inner_dict_its___dict__():
    # An lru_cache keeps its cache in a dict, beside its own __dict__: neither can be told
    # apart by name, so neither is called ".__dict__".
    @functools.cache
    def fetch(key):
        return CensusLeaf()

    OWNERS[:] = [fetch]
    try:
        path = retention_path(fetch(1))
    finally:
        OWNERS.clear()
    labels = [e["label"] for e in path["edges"]]
    assert labels == [".OWNERS", "[0]", ".?", "[1]"], labels


def test_retention_path_names_holder_and_labels():
    owner = CensusOwner()
    leaf = CensusLeaf()
    owner.child = leaf
    OWNERS[:] = ["padding", owner]
    del owner
    try:
        path = retention_path(leaf)
    finally:
        OWNERS.clear()
    assert path["found"] and path["root"] == f"module {__name__}"
    assert [(e["from_kind"], e["label"], e["to_kind"]) for e in path["edges"]] == [
        (f"module {__name__}", ".OWNERS", "list"),
        ("list", "[1]", type_kind(CensusOwner)),
        (type_kind(CensusOwner), ".child", type_kind(CensusLeaf)),
    ]
    assert not any(e["weak"] for e in path["edges"])
    dot = to_dot(RetentionPath.from_json(path))
    assert dot.startswith("digraph") and 'label="[1]"' in dot and "->" in dot


@pytest.mark.slow
def test_retention_path_through_weak_reference_is_marked():
    leaf = CensusLeaf()
    WEAK_ONLY["x"] = leaf
    path = retention_path(leaf)
    WEAK_ONLY.clear()
    assert path["found"]
    assert [e["weak"] for e in path["edges"]].count(True) == 1
    assert "style=dashed" in to_dot(RetentionPath.from_json(path))


@pytest.mark.slow
def test_long_linked_list_does_not_overflow():
    head = None
    for _ in range(100_000):
        head = CensusNode(head)
    CHAIN[:] = [head]
    tail = head
    while tail.next is not None:
        tail = tail.next
    del head
    try:
        path = retention_path(tail)
        assert path["found"]
        assert len(path["edges"]) == 100_001
        assert {e["label"] for e in path["edges"][2:]} == {".next"}
        answer = census("type", limit=10_000)
        assert _row(answer, type_kind(CensusNode))["count"] == 100_000
    finally:
        CHAIN.clear()


def test_max_objects_gives_partial_answer():
    full = census("type")
    part = census("type", max_objects=5_000)
    assert part["partial"] and not full["partial"]
    assert 5_000 <= part["total_count"] < full["total_count"]


def test_progress_is_called_between_chunks():
    seen: list[int] = []
    answer = census("type", progress=seen.append)
    assert len(seen) > 1 and seen == sorted(seen)
    assert seen[-1] == answer["total_count"]


@pytest.mark.slow
def test_object_held_by_no_root_says_so():
    loop: list = []
    loop.append(loop)  # held only by itself and by this frame, which is no root
    path = retention_path(loop)
    assert not path["found"] and not path["partial"]
    assert "nothing the GC tracks refers to" in path["root"]


# Objects the census should find, counted the slow way: an id set of everything, dict keys
# included (the GC does not show the keys of a dict whose keys are all str). Kept as text
# so that the Python 3.13 check (no pytest there) runs the very same code.
NAIVE_COUNT = """
def naive_count():
    import gc
    from leakscope.target.census.walk import _code_referents

    code_type = type(naive_count.__code__)
    tracked = gc.get_objects()
    seen = set(map(id, tracked))
    todo = list(tracked)
    while todo:
        obj = todo.pop()
        refs = _code_referents([obj]) if type(obj) is code_type else gc.get_referents(obj)
        if isinstance(obj, dict):
            refs.extend(dict.keys(obj))
        for ref in refs:
            if not gc.is_tracked(ref) and id(ref) not in seen:
                seen.add(id(ref))
                todo.append(ref)
    return len(seen)
"""
exec(NAIVE_COUNT)


@pytest.mark.slow
def test_reference_count_shortcut_counts_like_an_id_set(holders):
    shared = "shared-" + str(len(holders))
    HOLDERS.append([(shared, i) for i in range(1_000)])  # one string, a thousand referrers
    census("type")
    ours = census("type")["total_count"]
    theirs = naive_count()  # type: ignore[name-defined]  # noqa: F821
    assert abs(ours - theirs) <= 0.001 * theirs, (ours, theirs)


@pytest.mark.slow
def test_census_does_not_count_itself():
    census("type")  # warm caches and imports
    first = census("type")
    second = census("type")
    # The census holds a list of every tracked object and many lists of untracked ones
    # while it runs: counting any of that would add thousands.
    assert abs(first["total_count"] - second["total_count"]) < 200
    assert abs(first["total_size"] - second["total_size"]) < 50_000


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="unknown partition"):
        census("colour")
    with pytest.raises(ValueError, match="needs of="):
        census("via")
    with pytest.raises(Refused, match="no type named") as refused:
        census("via", of="NoSuchClassAnywhere")
    assert refused.value.code == "unknown-class"
    with pytest.raises(ValueError, match="unknown backend"):
        census("type", backend="heapy")


_GUPPY_VS_BUILTIN = """
import gc, json, sys
import leakscope.target.census as census_mod
from leakscope.target.census.kinds import type_kind

class Small:
    def __init__(self, i):
        self.a = i; self.b = str(i); self.c = i * 0.5

N = 30_000
rows = [{"id": i, "name": f"n{i}", "score": i * 1.5} for i in range(N)]
objs = [Small(i) for i in range(N)]
tups = [(i, str(i), float(i)) for i in range(N)]

def run_guppy():
    import guppy
    heap = guppy.hpy().heap()
    part = heap.bytype
    return {type_kind(part[i].kind.arg): [part[i].count, part[i].size] for i in range(len(part))}

# guppy3 first: on 3.11 it creates the __dict__ of every instance it meets.
theirs = run_guppy()
gc.collect()
ours = {r["kind"]: [r["count"], r["size"]] for r in census_mod.census("type", limit=100000)["rows"]}
print(json.dumps({"guppy": theirs, "builtin": ours}))
"""


def _run(code: str, python: str = sys.executable) -> str:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [python, "-c", code], capture_output=True, text=True, env=env, timeout=240
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow
def test_agrees_with_guppy3():
    pytest.importorskip("guppy")
    both = json.loads(_run(_GUPPY_VS_BUILTIN))

    def mine(rows: dict) -> dict:
        return {k: v for k, v in rows.items() if not k.startswith("guppy.")}

    theirs, ours = mine(both["guppy"]), mine(both["builtin"])
    count = sum(v[0] for v in ours.values()) / sum(v[0] for v in theirs.values())
    size = sum(v[1] for v in ours.values()) / sum(v[1] for v in theirs.values())
    assert 0.98 <= count <= 1.02 and 0.98 <= size <= 1.02, (count, size)
    top = sorted(theirs, key=lambda k: -theirs[k][1])[:10]
    assert set(top) == set(sorted(ours, key=lambda k: -ours[k][1])[:10])
    for kind in top[:7]:
        assert abs(ours[kind][0] - theirs[kind][0]) <= 0.02 * theirs[kind][0], kind


_UNIQUE_KEYS = """
import gc, json
from leakscope.target.census import census

KINDS = (str, int, dict)

def ours():
    gc.collect()
    rows = census("type", limit=100_000)["rows"]
    return [next(r["count"] for r in rows if r["kind"] == k.__name__) for k in KINDS]

def theirs():
    import guppy
    gc.collect()
    part = guppy.hpy().heap().bytype
    counts = {part[i].kind.arg: part[i].count for i in range(len(part))}
    return [counts.get(k, 0) for k in KINDS]

theirs(), ours()  # both warmed up; guppy3 first each time
g0 = theirs()
o0 = ours()
HELD = [{f"unique-key-{i:06d}": i} for i in range(20_000)]
g1 = theirs()
o1 = ours()
grown = {"guppy": zip(g0, g1), "ours": zip(o0, o1)}
print(json.dumps({k: [b - a for a, b in pairs] for k, pairs in grown.items()}))
"""


@pytest.mark.slow
def test_unique_keys_of_dicts_are_counted():
    # gc.get_referents of a dict whose keys are all str shows only its values (a str cannot
    # be in a cycle): 20,000 dicts with a unique key each are 20,000 str the census must
    # count itself, once (the dump counts them too: see test_leaks).
    pytest.importorskip("guppy")
    grown = json.loads(_run(_UNIQUE_KEYS))
    (our_str, our_int, our_dict), (their_str, their_int, their_dict) = grown["ours"], grown["guppy"]
    assert 20_000 <= our_str <= 20_000 * 1.005, grown
    assert our_dict == pytest.approx(20_000, rel=0.005), grown
    # guppy3 agrees on the dicts and their values...
    assert our_int == pytest.approx(their_int, rel=0.005), grown
    assert our_dict == pytest.approx(their_dict, rel=0.005), grown
    # ...and on the keys, unless it misses them as gc.get_referents does (guppy3 3.1.7 on
    # 3.11-3.13 reads a dict's referents through its tp_traverse: +0 str).
    assert min(abs(their_str - our_str), abs(their_str + 20_000 - our_str)) <= 0.005 * our_str


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["guppy", "muppy"])
def test_other_backends_answer_the_same_shape(backend):
    pytest.importorskip("guppy" if backend == "guppy" else "pympler")
    code = textwrap.dedent(f"""
        import json
        from leakscope.target.census import census
        print(json.dumps(census("type", backend={backend!r}, limit=5)))
    """)
    answer = json.loads(_run(code))
    assert answer["backend"] == backend and len(answer["rows"]) == 5
    assert answer["total_count"] > 10_000
    assert {"kind", "count", "size"} == set(answer["rows"][0])


_ON_313 = """
import gc, sys
from leakscope.target.census import census, retention_path

class Holder:
    def __init__(self, i):
        self.meta = {"n": i}

HOLDERS = [Holder(i) for i in range(10_000)]
fresh = [Holder(i) for i in range(100)]
assert census("type", limit=10_000)["rows"]
row = [r for r in census("type", limit=10_000)["rows"] if r["kind"] == "__main__.Holder"][0]
assert row["count"] == 10_100, row
via = census("via", of="dict")
assert [r for r in via["rows"] if r["kind"] == ".meta"][0]["count"] == 10_100, via["rows"][:3]
path = retention_path(HOLDERS[7].meta)
labels = [e["label"] for e in path["edges"]]
assert labels == [".HOLDERS", "[7]", ".meta"], labels
assert not any(type(r) is dict and r is not h.meta for h in fresh for r in gc.get_referents(h))
{naive}
census("type")
ours, theirs = census("type")["total_count"], naive_count()
assert abs(ours - theirs) <= 0.001 * theirs, (ours, theirs)

def strs():
    gc.collect()
    return [r for r in census("type", limit=100_000)["rows"] if r["kind"] == "str"][0]["count"]

before = strs()
KEYED = [{f"unique-key-{i:06d}": i} for i in range(20_000)]
grown = strs() - before
assert 20_000 <= grown <= 20_100, grown
print("ok", sys.version_info[:2])
"""


@pytest.mark.slow
@pytest.mark.skipif(not PY313.exists(), reason="no CPython 3.13 here")
def test_runs_on_python_313():
    script = _ON_313.replace("{naive}", NAIVE_COUNT)
    assert _run(script, str(PY313)).startswith("ok (3, 13)")


@pytest.mark.slow
def test_materialised_instance_dicts_are_counted():
    # User code that reads __dict__ (vars(), copy, pickle) creates real dicts; on 3.13
    # the GC neither tracks them nor shows them as the instance's referents.
    objs = [CensusPlain(i) for i in range(2_000)]

    def dicts() -> int:
        row = _row(census("type", limit=10_000), "dict")
        return row["count"] if row else 0

    before = dicts()
    for obj in objs[:1_000]:
        vars(obj)
    after = dicts()
    assert 990 <= after - before <= 1_010, (before, after)


class _Made:
    def __init__(self) -> None:
        self.headers = {"a": "b"}


def test_a_dump_holds_nothing_of_what_the_program_made_meanwhile() -> None:
    # A thread keeps five recent objects and drops the rest while a dump walks; the dump
    # walks those made meanwhile too, and must hold none of them afterwards, not even in
    # a garbage cycle (its list of young objects once listed itself).
    from leakscope.target.census.graph import GraphDump

    recent: collections.deque[_Made] = collections.deque(maxlen=5)
    stop = threading.Event()

    def make() -> None:
        while not stop.is_set():
            recent.append(_Made())
            time.sleep(0.001)

    maker = threading.Thread(target=make, daemon=True)
    maker.start()
    thresholds = gc.get_threshold()
    try:
        GraphDump(10_000_000).close()  # abandoned at once: the collector as it was
        assert gc.get_threshold() == thresholds
        time.sleep(0.1)
        dump = GraphDump(10_000_000)
        assert gc.get_threshold() != thresholds  # the older generations wait
        dump.start()
        while not (answer := dump.next_chunk()).get("done"):
            pass
        dump.close()
        del dump, answer
    finally:
        stop.set()
        maker.join()
    alive = sum(type(obj) is _Made for obj in gc.get_objects())
    assert alive == len(recent) == 5, alive
    assert gc.get_threshold() == thresholds
