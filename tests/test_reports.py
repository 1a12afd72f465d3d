"""Typed reports (`leakscope.client.reports`): their one JSON form, read back, and refusals.

Pure data: the reports are built here directly, as the agent's answers and the
snapshot files would make them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from leakscope.client.reports import (
    AgentInfo,
    HeapReport,
    HeapRow,
    Hello,
    HistoryReport,
    MalformedReport,
    MallocFigures,
    MemoryAnswer,
    MemoryFigures,
    MemorySample,
    ObjectInfo,
    ObjectsReport,
    PathEdge,
    PrefsReport,
    PrefsRow,
    PymallocFigures,
    RetentionPath,
    SitesReport,
    TrimResult,
    Verdict,
)

PYMALLOC = PymallocFigures(
    arenas_in_use=12,
    arena_size=1 << 20,
    arena_bytes=12 << 20,
    used_bytes=9_000_000,
    free_bytes_in_arenas=3_582_912,
    utilisation=0.715,
    blocks_in_use=140_000,
    arenas_total=30,
    arenas_reclaimed=18,
    arenas_highwater=14,
)
MALLOC = MallocFigures(
    arena=50_000_000,
    in_use=20_000_000,
    free_held=30_000_000,
    top_releasable=1_000_000,
    mmap=4_000_000,
    releasable=28_000_000,
)
FIGURES = MemoryFigures(
    rss=80_000_000,
    uss=70_000_000,
    swap=0,
    allocated_blocks=150_000,
    traced_current=5_000_000,
    traced_peak=6_000_000,
    pymalloc=PYMALLOC,
    malloc=MALLOC,
    python_objects_bytes=12_000_000,
    python_objects_source="pymalloc",
)
PATH = RetentionPath(
    found=True,
    root="module __main__",
    edges=(
        PathEdge("module __main__", "['CACHE']", "dict"),
        PathEdge("dict", "[*]", "app.Page"),
        PathEdge("app.Page", "()", "app.Session", weak=True),
    ),
    elapsed_s=0.04,
    partial=False,
)
PAGE = ObjectInfo(
    cls="app.Page",
    id=0x7F00DEADBEEF,
    age_s=12.5,
    repr="<app.Page object at 0x7f00deadbeef>",
    attrs={"url": "'https://shop.example/1'", "depth": "3"},
    why=PATH,
    collected=True,
)
PREFS_ROWS = (
    PrefsRow("app.Page", 6_659, 960.0, "leakscope", None, 398, 3973, 397.0),
    PrefsRow("scrapy.http.request.Request", 12, None, "scrapy"),
)

ROUND_TRIPS: dict[str, Any] = {
    "agent": AgentInfo(4242, "python", "3.11.7", "/tmp/s/4242.sock", 1, ("app.py", "-v"), "master"),
    "prefs": PrefsReport(4242, 1795679067.8, PREFS_ROWS, collected=True, partial=True),
    "prefs by owner": PrefsReport(
        4242,
        1795679067.8,
        (
            PrefsRow("app.Page", 30, 1.5, "leakscope", "thread-a"),
            PrefsRow("app.Page", 3, 0.5, "leakscope", "-"),
        ),
        group_by="owner",
    ),
    "edge": PathEdge("dict", "['meta']", "app.Holder", weak=True),
    "path": PATH,
    "path not found": RetentionPath(found=False, root=None, partial=True),
    "object": PAGE,
    "object without why": ObjectInfo("app.Page", 1, None, "<p>"),
    "objects": ObjectsReport("app.Page", 1_234, (PAGE,), collected=False),
    "no objects": ObjectsReport("Page", 0, ()),
    "heap row": HeapRow("dict", 13_264, 3_250_000),
    "heap": HeapReport(
        pid=4242,
        partition="via",
        of="dict",
        total_count=13_264,
        total_size=3_250_000,
        elapsed_s=1.56,
        max_pause_s=0.091,
        partial=True,
        backend="builtin",
        rows=(HeapRow(".meta", 10_000, 1_900_000), HeapRow("[*]", 3_264, 1_350_000)),
        collected=True,
    ),
    "pymalloc": PYMALLOC,
    "malloc": MALLOC,
    "figures": FIGURES,
    "bare figures": MemoryFigures(rss=1),
    "sample": MemorySample(t=100.0, rss=80_000_000, pymalloc_free=3_000_000, malloc_releasable=0),
    "trim": TrimResult(supported=True, trimmed=True, rss_before=90_000_000, rss_after=30_000_000),
    "verdict": Verdict("allocator-held", "freed but kept", trim_may_help=True),
    "history": HistoryReport(4242, "app.Page", ((100.0, 10_000), (101.0, 10_500))),
    "sites": SitesReport(4242, True),
}


@pytest.mark.parametrize("name", sorted(ROUND_TRIPS))
def test_from_json_reads_back_what_to_json_wrote(name: str) -> None:
    report = ROUND_TRIPS[name]
    document = json.loads(json.dumps(report.to_json()))  # through real JSON text
    assert type(report).from_json(document) == report


def test_objects_report_keeps_the_query_through_json() -> None:
    """`all Page --json` writes the query and the dotted class; reading it back keeps both."""
    report = ObjectsReport("Page", 1, (ObjectInfo("app.Page", 1, 2.0, "<p>"),))
    document = report.to_json()
    assert document["class"] == "app.Page" and document["query"] == "Page"
    assert ObjectsReport.from_json(document) == report


def test_prefs_rows_carry_group_only_when_grouped() -> None:
    plain = ROUND_TRIPS["prefs"].to_json()
    assert "group_by" not in plain and all("group" not in r for r in plain["rows"])
    grouped = ROUND_TRIPS["prefs by owner"].to_json()
    assert grouped["group_by"] == "owner"
    assert [r["group"] for r in grouped["rows"]] == ["thread-a", "-"]


# The documented shapes (README, "JSON shapes"): keys may be added, none removed.
DOCUMENTED = [
    ("prefs", {"pid", "time", "collected", "rows"}),
    ("object", {"class", "id", "age_s", "repr", "attrs", "collected", "why"}),
    ("objects", {"class", "total", "collected", "objects"}),
    (
        "heap",
        {"pid", "partition", "of", "backend", "total_count", "total_size", "elapsed_s"}
        | {"max_pause_s", "partial", "collected", "rows"},
    ),
    ("history", {"pid", "class", "samples"}),
    ("sites", {"pid", "sites"}),
    ("agent", {"pid", "name", "python", "socket", "ppid", "role", "argv"}),
]


@pytest.mark.parametrize(("name", "keys"), DOCUMENTED, ids=[n for n, _ in DOCUMENTED])
def test_documented_keys_are_all_there(name: str, keys: set[str]) -> None:
    document = ROUND_TRIPS[name].to_json()
    assert keys <= set(document), keys - set(document)


def test_documented_row_and_path_keys() -> None:
    row = ROUND_TRIPS["prefs"].to_json()["rows"][0]
    assert set(row) == {
        "class",
        "count",
        "oldest_age_s",
        "source",
        "change_1m",
        "change_10m",
        "rate_per_min",
    }
    why = PAGE.to_json()["why"]
    assert {"found", "root", "edges", "elapsed_s"} <= set(why)
    assert set(why["edges"][0]) == {"from_kind", "label", "to_kind", "weak"}
    assert PAGE.to_json()["address"] == "0x7f00deadbeef"
    assert ROUND_TRIPS["heap"].to_json()["rows"][0] == {
        "kind": ".meta",
        "count": 10_000,
        "size": 1_900_000,
    }


def test_memory_figures_json_nests_the_allocators() -> None:
    document = FIGURES.to_json()
    assert document["tracemalloc"] == {"current": 5_000_000, "peak": 6_000_000}
    assert document["pymalloc"]["free_bytes_in_arenas"] == 3_582_912
    assert document["malloc"]["releasable"] == 28_000_000
    assert MemoryFigures().to_json()["tracemalloc"] is None


def test_hello_and_memory_answer_read_the_agents_words() -> None:
    hello = Hello.from_json(
        {"protocol": 1, "version": "0.1.0", "pid": 7, "argv": ["a.py"], "sites": True}
    )
    assert hello == Hello(1, "0.1.0", 7, argv=("a.py",), sites=True)
    answer = MemoryAnswer.from_json(
        {
            "pid": 7,
            "time": 5.0,
            "figures": FIGURES.to_json(),
            "trim": None,
            "samples": [{"t": 1.0, "rss": 10}],
            "load_shift": {"rss": 9_000_000},
            "own_bytes": 1024,
        }
    )
    assert answer.figures == FIGURES and answer.trim is None
    assert answer.samples == (MemorySample(t=1.0, rss=10),)
    assert answer.load_shift == {"rss": 9_000_000} and answer.own_bytes == 1024


def test_sorted_orders_and_cuts_prefs_rows() -> None:
    report = PrefsReport(
        1,
        0.0,
        (
            PrefsRow("b.B", 5, 10.0, "leakscope", rate_per_min=1.0),
            PrefsRow("a.A", 5, 99.0, "leakscope", rate_per_min=None),
            PrefsRow("c.C", 9, 1.0, "leakscope", rate_per_min=30.0),
        ),
    )
    assert [r.cls for r in report.sorted("count").rows] == ["c.C", "a.A", "b.B"]
    assert [r.cls for r in report.sorted("age").rows] == ["a.A", "b.B", "c.C"]
    assert [r.cls for r in report.sorted("growth").rows] == ["c.C", "b.B", "a.A"]
    assert [r.cls for r in report.sorted("name", limit=2).rows] == ["a.A", "b.B"]
    assert report.sorted("count").pid == 1


MALFORMED: list[tuple[str, Any, dict[str, Any], str]] = [
    ("prefs without rows", PrefsReport, {"pid": 1}, "'rows'"),
    ("prefs rows not a list", PrefsReport, {"pid": 1, "rows": {"a": 1}}, "rows"),
    ("prefs row not an object", PrefsReport, {"pid": 1, "rows": [3]}, "row"),
    (
        "prefs count a string",
        PrefsReport,
        {"pid": 1, "rows": [{"class": "A", "count": "3"}]},
        "count",
    ),
    (
        "prefs count a bool",
        PrefsReport,
        {"pid": 1, "rows": [{"class": "A", "count": True}]},
        "count",
    ),
    ("prefs class a number", PrefsReport, {"pid": 1, "rows": [{"class": 5, "count": 1}]}, "class"),
    ("prefs pid a string", PrefsReport, {"pid": "1", "rows": []}, "pid"),
    ("prefs age a string", PrefsRow, {"class": "A", "count": 1, "oldest_age_s": "old"}, "oldest"),
    ("heap row without kind", HeapReport, {"rows": [{"count": 1}]}, "'kind'"),
    (
        "heap row size a float",
        HeapReport,
        {"rows": [{"kind": "x", "count": 1, "size": 1.5}]},
        "size",
    ),
    ("heap without rows", HeapReport, {"pid": 1}, "'rows'"),
    ("hello without protocol", Hello, {"pid": 1}, "'protocol'"),
    ("object without id", ObjectInfo, {"class": "A"}, "'id'"),
    ("object attrs a list", ObjectInfo, {"class": "A", "id": 1, "attrs": ["x"]}, "attrs"),
    ("object why a string", ObjectInfo, {"class": "A", "id": 1, "why": "because"}, "why"),
    ("objects list not a list", ObjectsReport, {"class": "A", "objects": "x"}, "objects"),
    ("path edges an object", RetentionPath, {"found": True, "edges": {}}, "edges"),
    ("history sample without t", HistoryReport, {"pid": 1, "class": "A", "samples": [{}]}, "'t'"),
    ("history sample a number", HistoryReport, {"pid": 1, "class": "A", "samples": [1]}, "sample"),
    ("memory figures a list", MemoryAnswer, {"pid": 1, "figures": []}, "figures"),
    ("memory without figures", MemoryAnswer, {"pid": 1}, "'figures'"),
    ("pymalloc a list", MemoryFigures, {"pymalloc": [1]}, "pymalloc"),
    ("pymalloc incomplete", PymallocFigures, {"arenas_in_use": 1}, "'arena_size'"),
    ("malloc in_use a string", MallocFigures, {**MALLOC.to_json(), "in_use": "x"}, "in_use"),
    ("rss a float", MemoryFigures, {"rss": 1.5}, "rss"),
    ("sample without t", MemorySample, {"rss": 1}, "'t'"),
    ("verdict missing", Verdict, {"reason": "x"}, "'verdict'"),
    ("sites without pid", SitesReport, {"sites": True}, "'pid'"),
    ("not an object at all", PrefsReport, [], "'pid'"),
]


@pytest.mark.parametrize(
    ("cls", "data", "words"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed_documents_are_refused_naming_the_field(
    cls: Any, data: dict[str, Any], words: str
) -> None:
    with pytest.raises(MalformedReport) as caught:
        cls.from_json(data)
    assert words in str(caught.value)
    assert isinstance(caught.value, ValueError)
