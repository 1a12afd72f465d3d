"""`leakscope.client.analysis.diff`: growth rows, groups, heap rows and the diff's warnings.

Pure data: the snapshots are built here as snapshot files would give them.
"""

from __future__ import annotations

import pytest

from leakscope.client.analysis.diff import diff_heap, diff_rows, diff_snapshots
from leakscope.client.errors import ExitCode, LeakscopeError
from leakscope.client.reports import (
    DiffRow,
    HeapDiffRow,
    HeapReport,
    HeapRow,
    PrefsReport,
    PrefsRow,
    Side,
    Snapshot,
)


def prefs(
    pid: int, counts: dict[str, int], group_by: str | None = None, groups: str = ""
) -> PrefsReport:
    """Rows of ``{"class": count}``; with *group_by*, keys are ``"class|group"``."""
    rows = []
    for key, n in counts.items():
        cls, _, group = key.partition("|")
        rows.append(PrefsRow(cls, n, 1.0, "leakscope", group or None))
    return PrefsReport(pid, 0.0, tuple(rows), group_by=group_by)


def heap(pid: int, rows: dict[str, tuple[int, int]]) -> HeapReport:
    """A by-type census of ``{"kind": (count, size)}``."""
    return HeapReport(
        pid=pid,
        partition="type",
        of=None,
        total_count=sum(c for c, _ in rows.values()),
        total_size=sum(s for _, s in rows.values()),
        elapsed_s=0.1,
        max_pause_s=0.01,
        partial=False,
        backend="builtin",
        rows=tuple(HeapRow(k, c, s) for k, (c, s) in rows.items()),
    )


def snap(
    counts: dict[str, int],
    *,
    pid: int = 100,
    t: float = 1000.0,
    host: str = "box",
    by_owner: dict[str, int] | None = None,
    census: dict[str, tuple[int, int]] | None = None,
    collected: bool = False,
) -> Snapshot:
    prefs_by = {} if by_owner is None else {"owner": prefs(pid, by_owner, "owner")}
    return Snapshot(
        pid=pid,
        time=t,
        host=host,
        version="0.1.0",
        argv=("app.py",),
        python="3.11.7",
        prefs=prefs(pid, counts),
        prefs_by=prefs_by,
        heap=None if census is None else heap(pid, census),
        collected=collected,
    )


def test_rows_have_before_after_delta_biggest_growth_first() -> None:
    before = snap({"app.A": 10, "app.B": 5, "app.C": 3, "app.E": 1}, t=1000.0)
    after = snap({"app.A": 15, "app.B": 5, "app.D": 2, "app.E": 3}, t=1060.0)
    report = diff_snapshots(before, after)
    assert report.rows == (
        DiffRow("app.A", 10, 15),
        DiffRow("app.E", 1, 3),  # same growth as D: the bigger "after" first
        DiffRow("app.D", 0, 2),  # new on the second side
        DiffRow("app.B", 5, 5),
        DiffRow("app.C", 3, 0),  # gone on the second side
    )
    assert [r.delta for r in report.rows] == [5, 2, 2, 0, -3]
    assert report.before == Side(100, 1000.0, "box") and report.after == Side(100, 1060.0, "box")
    assert report.interval_s == 60.0
    assert report.group_by is None and report.heap_rows == () and report.warnings == ()
    assert report.tracked is True and report.collected is False
    assert report.to_json()["rows"][0] == {
        "class": "app.A",
        "before": 10,
        "after": 15,
        "delta": 5,
    }


def test_ties_are_ordered_by_name() -> None:
    rows = diff_rows(prefs(1, {"z.Z": 1, "a.A": 1}), prefs(1, {"z.Z": 2, "a.A": 2}))
    assert [r.cls for r in rows] == ["a.A", "z.Z"]


def test_rows_per_owner() -> None:
    before = snap(
        {"app.Job": 5}, by_owner={"app.Job|thread-a": 3, "app.Job|-": 2, "app.Tmp|thread-b": 4}
    )
    after = snap(
        {"app.Job": 9}, by_owner={"app.Job|thread-a": 7, "app.Job|-": 2, "app.Job|task-x": 1}
    )
    report = diff_snapshots(before, after, group_by="owner")
    assert report.group_by == "owner"
    assert report.rows == (
        DiffRow("app.Job", 3, 7, "thread-a"),
        DiffRow("app.Job", 0, 1, "task-x"),
        DiffRow("app.Job", 2, 2, "-"),
        DiffRow("app.Tmp", 4, 0, "thread-b"),
    )
    document = report.to_json()
    assert document["group_by"] == "owner"
    assert document["rows"][0] == {
        "class": "app.Job",
        "group": "thread-a",
        "before": 3,
        "after": 7,
        "delta": 4,
    }


@pytest.mark.parametrize(
    ("group_by", "words"),
    [
        ("owner", "the snapshot of pid 100 has no rows grouped by owner"),
        ("site", "has no rows grouped by site (creation sites were off)"),
    ],
)
def test_grouping_a_snapshot_does_not_have_is_refused(group_by: str, words: str) -> None:
    with pytest.raises(LeakscopeError) as caught:
        diff_snapshots(snap({"app.A": 1}), snap({"app.A": 2}), group_by=group_by)
    assert caught.value.code == ExitCode.USAGE
    assert words in caught.value.message


def test_heap_rows_count_and_size_deltas() -> None:
    before = snap({}, census={"dict": (100, 10_000), "str": (50, 3_000), "gone.T": (2, 64)})
    after = snap({}, census={"dict": (140, 14_000), "str": (50, 3_500), "app.New": (40, 2_240)})
    report = diff_snapshots(before, after)
    assert report.heap_rows == (
        HeapDiffRow("dict", 100, 140, 10_000, 14_000),
        HeapDiffRow("app.New", 0, 40, 0, 2_240),
        HeapDiffRow("str", 50, 50, 3_000, 3_500),  # same count: the size decides
        HeapDiffRow("gone.T", 2, 0, 64, 0),
    )
    assert [(r.delta, r.size_delta) for r in report.heap_rows] == [
        (40, 4_000),
        (40, 2_240),
        (0, 500),
        (-2, -64),
    ]
    assert report.to_json()["heap_rows"][0] == {
        "kind": "dict",
        "before": 100,
        "after": 140,
        "delta": 40,
        "size_before": 10_000,
        "size_after": 14_000,
        "size_delta": 4_000,
    }
    # Nothing tracked on either side: the report says so.
    assert report.rows == () and report.tracked is False


def test_heap_rows_need_a_census_on_both_sides() -> None:
    with_census = snap({"app.A": 1}, census={"dict": (1, 64)})
    without = snap({"app.A": 1})
    assert diff_snapshots(with_census, without).heap_rows == ()
    assert diff_snapshots(without, with_census).heap_rows == ()
    assert diff_heap(heap(1, {}), heap(1, {})) == []


def test_collected_on_either_side_is_reported() -> None:
    assert diff_snapshots(snap({}, collected=True), snap({})).collected is True
    assert diff_snapshots(snap({}), snap({}, collected=True)).collected is True
    assert diff_snapshots(snap({}), snap({})).collected is False


def test_different_processes_are_compared_with_a_warning() -> None:
    report = diff_snapshots(snap({"app.A": 1}, pid=100), snap({"app.A": 4}, pid=200, t=1010.0))
    assert report.warnings == ("the snapshots are of different processes (pid 100 and pid 200)",)
    assert report.rows == (DiffRow("app.A", 1, 4),)
    assert report.to_json()["warnings"] == list(report.warnings)


def test_different_hosts_are_compared_with_a_warning() -> None:
    report = diff_snapshots(
        snap({"app.A": 1}, host="web-1"), snap({"app.A": 1}, host="web-2", pid=200, t=1001.0)
    )
    assert report.warnings == (
        "the snapshots come from different hosts (web-1 and web-2)",
        "the snapshots are of different processes (pid 100 and pid 200)",
    )


def test_files_given_newest_first_are_compared_as_given_with_a_warning() -> None:
    newer = snap({"app.A": 50}, t=2_000.0)
    older = snap({"app.A": 20}, t=1_000.0)
    report = diff_snapshots(newer, older)
    assert report.rows == (DiffRow("app.A", 50, 20),)  # deltas read new - old as given
    assert report.interval_s == -1_000.0
    (warning,) = report.warnings
    assert warning.startswith("the second snapshot is the older one (taken 1,000.0 s before")
    assert "swap the files to see growth" in warning
    assert diff_snapshots(older, newer).warnings == ()
