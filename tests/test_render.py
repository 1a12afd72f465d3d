"""Renderers (`leakscope.render`): typed reports in, text out.

Each report is built here and drawn by a recording Rich console 100 columns
wide; the tests read the text a user would see.
"""

from __future__ import annotations

import io
import re
import time

from rich.console import Console, RenderableType

from leakscope.client.reports import (
    AgentInfo,
    DiffReport,
    DiffRow,
    HeapDiffRow,
    HeapReport,
    HeapRow,
    HistoryReport,
    MemoryFigures,
    MemoryReport,
    MemorySample,
    MultiDiff,
    MultiDiffRow,
    MultiHeap,
    MultiHeapRow,
    MultiMemory,
    MultiPrefs,
    MultiPrefsRow,
    ObjectInfo,
    ObjectsReport,
    PathEdge,
    PrefsReport,
    PrefsRow,
    RetentionPath,
    Side,
    TrimResult,
    Verdict,
)
from leakscope.render.diff import diff_view
from leakscope.render.heap import heap_table
from leakscope.render.memory import memory_view
from leakscope.render.multi import (
    multi_diff_table,
    multi_heap_table,
    multi_memory_table,
    multi_prefs_table,
)
from leakscope.render.paths import legend, print_path, to_dot
from leakscope.render.plot import history_plot
from leakscope.render.tables import agents_table, object_panel, objects_table, prefs_table
from leakscope.render.text import age, signed, size, sparkline
from tests.test_reports import FIGURES, PAGE, PATH


def console() -> Console:
    return Console(record=True, width=100, file=io.StringIO())


def text_of(*renderables: RenderableType) -> str:
    """What a user sees, on a terminal 100 columns wide."""
    out = console()
    for renderable in renderables:
        out.print(renderable)
    return out.export_text()


def flat(text: str) -> str:
    """*text* with its line breaks and padding made single spaces (titles and captions wrap)."""
    return " ".join(text.split())


def line_with(text: str, *words: str) -> str:
    """The one line of *text* that has all *words*."""
    found = [line for line in text.splitlines() if all(w in line for w in words)]
    assert len(found) == 1, (words, text)
    return found[0]


def cells(line: str) -> list[str]:
    """The cells of a table line, stripped."""
    return [c.strip() for c in re.split("[│┃]", line.strip().strip("│┃"))]


# -- live references ------------------------------------------------------------------


def test_prefs_table_with_growth_partial_and_collected() -> None:
    report = PrefsReport(
        42,
        0.0,
        (
            PrefsRow("app.Page", 1_234_567, 245.0, "leakscope", None, 398, 3973, 397.0),
            PrefsRow("scrapy.Request", 5, 0.2, "scrapy", None, 0, -2, -0.5),
        ),
        history=True,
        partial=True,
        collected=True,
    )
    text = text_of(prefs_table(report))
    assert text.splitlines()[0].strip() == "Live References — pid 42"
    header = cells(line_with(text, "Class", "Count"))
    assert header == ["Class", "Count", "Oldest", "Δ 1m", "Δ 10m", "/min", "Source"]
    assert cells(line_with(text, "app.Page"))[:4] == ["app.Page", "1,234,567", "4m 05s", "+398"]
    assert cells(line_with(text, "scrapy.Request"))[1:] == [
        "5",
        "0.2s",
        "0",
        "-2",
        "-0.5",
        "scrapy",
    ]
    assert "PARTIAL: the grouping ran out of time; the rest is in one group" in flat(text)
    assert "gc.collect() ran first (--collect)" in flat(text)


def test_prefs_table_without_history_has_no_growth_columns() -> None:
    report = PrefsReport(42, 0.0, (PrefsRow("app.Page", 10, 1.0, "leakscope", None, 3, 3, 3.0),))
    text = text_of(prefs_table(report))
    assert cells(line_with(text, "Class"))[1:] == ["Count", "Oldest", "Source"]
    assert "PARTIAL" not in text and "--collect" not in text


def test_prefs_table_grouped_and_empty() -> None:
    report = PrefsReport(
        7,
        0.0,
        (
            PrefsRow("app.Job", 30_000, 7_300.0, "leakscope", "thread-a"),
            PrefsRow("app.Job", 3, 200_000.0, "leakscope", None),
        ),
        group_by="owner",
    )
    text = text_of(prefs_table(report))
    assert text.splitlines()[0].strip() == "Live References — pid 7, by owner"
    assert cells(line_with(text, "Class"))[:3] == ["Class", "Owner", "Count"]
    assert cells(line_with(text, "thread-a"))[:4] == ["app.Job", "thread-a", "30,000", "2h 01m"]
    assert cells(line_with(text, "2d 07h"))[:3] == ["app.Job", "-", "3"]
    empty = text_of(prefs_table(PrefsReport(7, 0.0, ())))
    assert "no live tracked objects" in empty


def test_oldest_object_and_all_objects() -> None:
    text = text_of(object_panel(PAGE, "Oldest live app.Page"))
    assert text.splitlines()[0].strip() == "Oldest live app.Page"
    assert cells(line_with(text, "│ id"))[1] == "0x7f00deadbeef (139641712656111)"
    assert cells(line_with(text, ".url")) == [".url", "'https://shop.example/1'"]
    assert cells(line_with(text, "│ age")) == ["age", "12.5s"]
    report = ObjectsReport("Page", 12_345, (PAGE, ObjectInfo("app.Page", 0x10, 3.0, "<p2>")))
    text = text_of(objects_table(report))
    assert "Live app.Page objects — 2 of 12,345, oldest first" in flat(text)
    assert cells(line_with(text, "#", "Age"))[:5] == ["#", "Age", "Id", ".url", ".depth"]
    assert cells(line_with(text, "<p2>")) == ["2", "3.0s", "0x10", "", "", "<p2>"]


def test_agents_table_breaks_a_long_socket_path_before_the_file_name() -> None:
    agent = AgentInfo(4242, "python", "3.11.7", "/run/user/1000/leakscope/4242.sock", 1, ("a.py",))
    text = text_of(agents_table([agent]))
    assert "Processes with a leakscope agent" in text
    assert cells(line_with(text, "a.py"))[:6] == ["4242", "1", "", "python", "3.11.7", "a.py"]
    assert "4242.sock" in line_with(text, "4242.sock") and "/leakscope/" in text


# -- the heap -------------------------------------------------------------------------


def heap_report(partition: str, rows: tuple[HeapRow, ...], **kw: object) -> HeapReport:
    fields: dict = {
        "pid": 4242,
        "partition": partition,
        "of": None,
        "total_count": 1_234_567,
        "total_size": 4 << 20,
        "elapsed_s": 1.56,
        "max_pause_s": 0.091,
        "partial": False,
        "backend": "builtin",
        "rows": rows,
    }
    fields.update(kw)
    return HeapReport(**fields)


def test_heap_table_by_type() -> None:
    rows = (HeapRow("dict", 617_284, 3 << 20), HeapRow("str", 10, 1 << 20))
    text = text_of(heap_table(heap_report("type", rows)))
    assert "Heap of pid 4242 by type: 1,234,567 objects, 4.0 MiB" in flat(text)
    assert cells(line_with(text, "Index")) == [
        "Index",
        "Count",
        "%",
        "Size",
        "%",
        "Cumulative %",
        "Kind",
    ]
    assert cells(line_with(text, "dict")) == ["0", "617,284", "50", "3.0 MiB", "75", "75", "dict"]
    assert cells(line_with(text, "str")) == ["1", "10", "0", "1.0 MiB", "25", "100", "str"]
    caption = flat(text)
    assert "builtin census in 1.56 s, longest pause of the target 91 ms" in caption
    assert "PARTIAL" not in caption and "[*]" not in caption


def test_heap_table_by_via_explains_its_labels() -> None:
    rows = (
        HeapRow(".meta", 10_000, 1 << 20),
        HeapRow("[*]", 3_264, 1 << 19),
        HeapRow(".?, ['err_codes']", 566, 1 << 16),
    )
    report = heap_report("via", rows, of="dict", partial=True, collected=True)
    text = flat(text_of(heap_table(report)))
    assert "Heap of pid 4242 by referrer edge (via) of dict: 1,234,567 objects" in text
    assert "PARTIAL: cut by --max-objects" in text
    assert "gc.collect() ran first (--collect)" in text
    assert "[*] an item of a long list (its position is not shown)" in text
    assert ".? an attribute whose name leakscope cannot read without changing the object" in text
    plain = flat(text_of(heap_table(heap_report("via", (HeapRow(".meta", 1, 64),)))))
    assert "an item of a long list" not in plain and "cannot read" not in plain


def test_heap_titles_of_each_partition() -> None:
    for partition, words in (
        ("referrer", "by referrer type of app.Page"),
        ("module", "by module"),
        ("size", "by object size"),
    ):
        report = heap_report(partition, (), of="app.Page" if partition == "referrer" else None)
        assert f"Heap of pid 4242 {words}: 1,234,567 objects" in flat(text_of(heap_table(report)))


# -- memory ---------------------------------------------------------------------------


def test_memory_view_figures_and_verdict() -> None:
    samples = (MemorySample(1.0, rss=10), MemorySample(2.0, rss=20))
    report = MemoryReport(
        42, FIGURES, Verdict("allocator-held", "freed but kept", True), samples=samples
    )
    text = text_of(memory_view(report))
    assert text.splitlines()[0].strip() == "Memory of pid 42"
    assert cells(line_with(text, "process RSS")) == ["process RSS", "76.3 MiB", "▁█"]
    assert cells(line_with(text, "allocated blocks"))[1] == "150,000"
    assert cells(line_with(text, "pymalloc arenas")) == [
        "pymalloc arenas",
        "12.0 MiB",
        "12 arenas, 72% used",
    ]
    assert cells(line_with(text, "releasable by trim"))[1] == "26.7 MiB"
    assert "allocator-held: freed but kept" in text
    assert "`leakscope memory --trim` may return memory to the OS." in text


def test_memory_view_after_a_trim() -> None:
    trim = TrimResult(True, True, 90_000_000, 30_000_000)
    report = MemoryReport(42, MemoryFigures(rss=30_000_000), Verdict("no-growth", "steady"), trim)
    text = text_of(memory_view(report))
    assert cells(line_with(text, "malloc_trim(0)")) == [
        "malloc_trim(0)",
        "85.8 MiB → 28.6 MiB",
        "released memory",
    ]
    assert "no-growth: steady" in text and "may return memory" not in text
    assert cells(line_with(text, "process USS"))[1] == "-"  # unknown, not 0


# -- diffs ----------------------------------------------------------------------------


def test_diff_view_tables_warnings_and_notes() -> None:
    report = DiffReport(
        Side(1, 1000.0, "a"),
        Side(2, 1060.0, "b"),
        None,
        (DiffRow("app.Page", 10_000, 12_500), DiffRow("app.Tmp", 5, 2), DiffRow("app.Same", 3, 3)),
        (
            HeapDiffRow("dict", 100_000, 140_000, 10_000_000, 14_000_000),
            HeapDiffRow("str", 5, 5, 10, 10),
            HeapDiffRow("gone.T", 3, 0, 3_000, 0),
        ),
        collected=True,
        warnings=("the snapshots are of different processes (pid 1 and pid 2)",),
    )
    text = text_of(diff_view(report, limit=25))
    assert (
        text.splitlines()[0]
        == "warning: the snapshots are of different processes (pid 1 and pid 2)"
    )
    assert "Live references: pid 1 → pid 2, 60 s apart" in text
    assert cells(line_with(text, "app.Page")) == ["app.Page", "10,000", "12,500", "+2,500"]
    assert cells(line_with(text, "app.Tmp")) == ["app.Tmp", "5", "2", "-3"]
    assert cells(line_with(text, "app.Same")) == ["app.Same", "3", "3", "0"]
    assert "Heap by type (types that changed): pid 1 → pid 2, 60 s apart" in flat(text)
    assert cells(line_with(text, "dict")) == ["dict", "100,000", "140,000", "+40,000", "+3.8 MiB"]
    assert cells(line_with(text, "gone.T")) == ["gone.T", "3", "0", "-3", "-2.9 KiB"]
    assert "│ str" not in text  # unchanged types are left out
    assert "gc.collect() ran before a census (--collect)" in text
    cut = text_of(diff_view(report, limit=1))
    assert "app.Page" in cut and "app.Tmp" not in cut and "gone.T" not in cut


def test_diff_view_grouped_unchanged_heap_and_nothing_tracked() -> None:
    grouped = DiffReport(
        Side(1, 0.0),
        Side(1, 30.0),
        "owner",
        (DiffRow("app.Job", 1, 3, "thread-a"),),
        (HeapDiffRow("str", 5, 5, 10, 10),),
    )
    text = text_of(diff_view(grouped, 25))
    assert "Live references: pid 1, 30 s apart" in text
    assert cells(line_with(text, "app.Job")) == ["app.Job", "thread-a", "1", "3", "+2"]
    assert "Heap by type: no type changed." in text
    untracked = DiffReport(Side(1, 0.0), Side(1, 30.0), None, (), tracked=False)
    assert text_of(diff_view(untracked, 25)).strip() == (
        "No tracked classes on either side (pid 1, 30 s apart)."
    )


def test_diff_view_of_snapshots_an_hour_apart() -> None:
    report = DiffReport(Side(1, 0.0), Side(1, 3_600.0), None, (DiffRow("app.Page", 1, 2),))
    title = line_with(text_of(diff_view(report, 25)), "Live references")
    assert title.strip() == "Live references: pid 1, 60 min apart", title


# -- several processes ----------------------------------------------------------------


def test_multi_prefs_marks_the_fastest_growing_and_the_gone() -> None:
    report = MultiPrefs(
        (11, 22),
        (
            MultiPrefsRow("app.Page", 1_000_000, 90.0, {22: 600_000, 11: 400_000}, {}),
            MultiPrefsRow("app.Cache", 1, None, {22: 1}, {}),
        ),
        fastest_growing=22,
        gone={33: "gone"},
    )
    text = text_of(multi_prefs_table(report))
    assert "Live References — 2 processes" in text
    assert cells(line_with(text, "Class")) == ["Class", "11", "▲ 22", "Total", "Oldest"]
    assert cells(line_with(text, "app.Page")) == [
        "app.Page",
        "400,000",
        "600,000",
        "1,000,000",
        "1m 30s",
    ]
    assert cells(line_with(text, "app.Cache")) == ["app.Cache", "0", "1", "1", "-"]
    assert "▲ grows fastest: pid 22; gone: 33" in flat(text)


def test_multi_heap_memory_and_diff_tables() -> None:
    heap = MultiHeap(
        (1, 2), (MultiHeapRow("dict", 400_000, 36_000_000, {1: 100_000, 2: 300_000}),), {}, {3: "x"}
    )
    text = text_of(multi_heap_table(heap))
    assert "Heap by type — 2 processes" in text
    assert cells(line_with(text, "dict")) == ["dict", "100,000", "300,000", "400,000", "34.3 MiB"]
    assert "gone: 3" in text
    memory = MultiMemory(
        (
            MemoryReport(
                4,
                MemoryFigures(rss=50_000_000, uss=40_000_000, python_objects_bytes=1_000_000),
                Verdict("live-objects", "grows"),
            ),
        )
    )
    text = text_of(multi_memory_table(memory))
    assert cells(line_with(text, "live-objects")) == [
        "4",
        "47.7 MiB",
        "38.1 MiB",
        "976.6 KiB",
        "live-objects",
    ]
    assert "gone" not in text
    diff = MultiDiff(
        (1, 2), 60.0, (MultiDiffRow("app.Page", 17, 12_049, {1: 2, 2: 12_030}),), {5: "x"}
    )
    text = text_of(multi_diff_table(diff, 25))
    assert "Growth over 60 s — 2 processes" in text
    assert cells(line_with(text, "Class")) == ["Class", "Δ 1", "Δ 2", "Δ total"]
    assert cells(line_with(text, "app.Page")) == ["app.Page", "+2", "+12,030", "+12,032"]
    assert "gone: 5" in text


# -- retention paths, history, small pieces -----------------------------------------


def test_retention_path_tree_with_legend() -> None:
    out = console()
    print_path(PATH, out)
    text = out.export_text()
    assert text.splitlines()[:5] == [
        "Why is it alive? (retention path, found in 0.04 s)",
        "root: module __main__",
        "└── ['CACHE'] → dict",
        "    └── [*] → app.Page",
        "        └── () → app.Session (weak)",
    ]
    assert "[*] an item of a long list (its position is not shown)" in flat(text)
    assert "() a weak reference's target" in flat(text)


def test_retention_path_not_found_and_without_special_labels() -> None:
    out = console()
    print_path(RetentionPath(found=False, root=None), out)
    assert "no path from a root was found (held only by C code?)" in out.export_text()
    out = console()
    print_path(RetentionPath(True, "module app", (PathEdge("module app", ".x", "app.T"),)), out)
    text = out.export_text()
    assert "Why is it alive? (retention path)" in text and "└── .x → app.T" in text
    assert len(text.strip().splitlines()) == 3  # no legend line


def test_a_long_retention_path_is_one_edge_a_line_with_its_middle_cut() -> None:
    edges = tuple(PathEdge("list", "[0]", "list") for _ in range(200_000))
    out = console()
    print_path(RetentionPath(True, "module app", edges), out)
    lines = out.export_text().splitlines()
    assert lines[1] == "root: module app" and lines[2].strip() == "1. [0] → list"
    assert "... 199,960 more edges ..." in lines[22]
    assert lines[-1].strip() == "200,000. [0] → list" and len(lines) == 43
    out = console()
    print_path(RetentionPath(False, None, partial=True), out)
    assert "the heap changed under it" in out.export_text()


def test_retention_path_as_graphviz() -> None:
    dot = to_dot(PATH)
    assert dot.startswith("digraph retention {") and dot.endswith("}\n")
    assert '  n0 [label="module __main__", shape=ellipse];' in dot
    assert '  n1 -> n2 [label="[*]"];' in dot
    assert '  n2 -> n3 [label="()", style=dashed];' in dot  # the weak edge


def test_legend_only_names_labels_that_occur() -> None:
    assert legend([".meta", "['x']"]) is None
    assert legend([".?, ['x']"]) == (
        ".? an attribute whose name leakscope cannot read without changing the object"
    )


def test_history_plot_line_and_tall_chart() -> None:
    t0 = time.mktime((2026, 11, 26, 10, 0, 0, 0, 0, -1))
    report = HistoryReport(1, "app.Page", ((t0, 10_000), (t0 + 60, 10_200), (t0 + 120, 10_500)))
    text = text_of(history_plot(report))
    assert text.splitlines() == [
        "app.Page: 10,500 live now, min 10,000, max 10,500, 3 samples, 10:00:00 → 10:02:00",
        "▁▃█",
    ]
    tall = text_of(history_plot(report, tall=True)).splitlines()
    assert len(tall) == 11
    assert tall[1].startswith("    10,500 ┤") and tall[1].endswith("█")
    assert tall[10].startswith("    10,000 ┤")  # the bottom line is the minimum
    assert text_of(history_plot(HistoryReport(1, "app.Page", ()))).strip() == (
        "app.Page: no samples yet"
    )


def test_text_pieces() -> None:
    assert [age(None), age(3.21), age(245), age(7_300), age(200_000)] == [
        "-",
        "3.2s",
        "4m 05s",
        "2h 01m",
        "2d 07h",
    ]
    assert [size(None), size(512), size(1536), size(5 << 30)] == [
        "-",
        "512 B",
        "1.5 KiB",
        "5.0 GiB",
    ]
    assert [signed(None), signed(0), signed(3), signed(-2), signed(1.25)] == [
        "-",
        "0",
        "+3",
        "-2",
        "+1.2",
    ]
    assert sparkline([]) == "" and sparkline([5, 5]) == "▁▁"
    assert sparkline([0, 7, 14]) == "▁▄█" and len(sparkline(list(range(100)))) == 24


def test_leaks_header_and_holder_read_as_a_sentence() -> None:
    from leakscope.client.reports import LeakHolder, LeaksReport, LeakSuspect
    from leakscope.render.retained import print_leaks

    path = RetentionPath(True, "module app", (PathEdge("module app", ".CACHE", "dict"),))
    holder = LeakHolder("dict", 1, path, 26_000, 1, 0.99, "<dict of 3 items>")
    suspect = LeakSuspect("app.Page", 511, 796, 4096, 4_400_000, holder, (), "a finding")
    out = console()
    print_leaks(LeaksReport(4242, 6.434, (suspect,)), out)
    text = out.export_text()
    assert "Leak suspects in pid 4242 over 6.4 s" in text
    assert "retains 25.4 KiB in 1 object; holds 99% of the new ones" in text
    assert "held by: dict at module app → .CACHE" in text
