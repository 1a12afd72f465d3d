"""`leakscope.client.fanout`: asking several agents at once and merging their answers.

The merges are pure data and are tested on reports built here; asking goes to
real target processes, one of which is killed, and the real CLI's exit code
says that some could not answer (17).
"""

from __future__ import annotations

import json
import os
import signal
import threading

import pytest

from leakscope.client.connector import Connector
from leakscope.client.errors import ExitCode, LeakscopeError
from leakscope.client.fanout import (
    Fanout,
    ask_each,
    fastest_growing,
    merge_diffs,
    merge_heap,
    merge_memory,
    merge_prefs,
    run_each,
)
from leakscope.client.reports import (
    HeapReport,
    HeapRow,
    MemoryFigures,
    MemoryReport,
    MultiDiffRow,
    MultiHeapRow,
    MultiPrefsRow,
    PrefsReport,
    PrefsRow,
    Snapshot,
    Verdict,
)
from tests.conftest import run_cli


def prefs(pid: int, rows: list[tuple[str, int, float | None, float | None]]) -> PrefsReport:
    """Rows of (class, count, oldest age, rate per minute)."""
    return PrefsReport(
        pid,
        0.0,
        tuple(PrefsRow(c, n, age, "leakscope", rate_per_min=rate) for c, n, age, rate in rows),
    )


def census(pid: int, rows: dict[str, tuple[int, int]]) -> HeapReport:
    return HeapReport(
        pid=pid,
        partition="type",
        of=None,
        total_count=sum(c for c, _ in rows.values()),
        total_size=sum(s for _, s in rows.values()),
        elapsed_s=0.2,
        max_pause_s=0.02,
        partial=False,
        backend="builtin",
        rows=tuple(HeapRow(k, c, s) for k, (c, s) in rows.items()),
    )


def test_merge_prefs_sums_counts_keeps_the_oldest_age_and_each_pid() -> None:
    answers = Fanout(
        answers={
            11: prefs(11, [("app.Page", 400, 30.0, 2.0), ("app.Session", 5, 1.0, 0.0)]),
            22: prefs(22, [("app.Page", 600, 90.0, 10.0), ("app.Cache", 1, None, None)]),
        },
        gone={33: "process 33 is gone"},
    )
    merged = merge_prefs([33, 22, 11], answers, None, False, None)
    assert merged.pids == (22, 11)  # the order asked, without the one that is gone
    assert merged.rows == (
        MultiPrefsRow("app.Page", 1_000, 90.0, {22: 600, 11: 400}, {22: 10.0, 11: 2.0}),
        MultiPrefsRow("app.Session", 5, 1.0, {11: 5}, {11: 0.0}),
        MultiPrefsRow("app.Cache", 1, None, {22: 1}, {22: None}),
    )
    assert merged.fastest_growing == 22
    assert merged.gone == {33: "process 33 is gone"}
    document = merged.to_json()
    assert document["rows"][0]["per_pid"] == {"22": 600, "11": 400}
    assert document["gone"] == {"33": "process 33 is gone"}
    assert document["fastest_growing"] == 22


def test_merge_prefs_limit_cuts_rows_after_judging_growth() -> None:
    answers = Fanout(
        answers={
            1: prefs(1, [("app.Big", 1_000, 5.0, 0.0)]),
            2: prefs(2, [("app.Small", 3, 5.0, 50.0)]),
        }
    )
    merged = merge_prefs([1, 2], answers, None, True, 1)
    assert [r.cls for r in merged.rows] == ["app.Big"]
    assert merged.fastest_growing == 2  # from a row the limit cut
    assert merged.collected is True


def test_merge_prefs_keeps_groups_apart() -> None:
    a = PrefsReport(
        1,
        0.0,
        (
            PrefsRow("app.Job", 3, 1.0, "leakscope", "thread-a"),
            PrefsRow("app.Job", 2, 1.0, "leakscope", "-"),
        ),
        group_by="owner",
    )
    b = PrefsReport(2, 0.0, (PrefsRow("app.Job", 4, 2.0, "leakscope", "thread-a"),), "owner")
    merged = merge_prefs([1, 2], Fanout(answers={1: a, 2: b}), "owner", False, None)
    assert [(r.cls, r.group, r.count, r.per_pid) for r in merged.rows] == [
        ("app.Job", "thread-a", 7, {1: 3, 2: 4}),
        ("app.Job", "-", 2, {1: 2}),
    ]
    assert merged.to_json()["rows"][1]["group"] == "-"


def row(rates: dict[int, float | None]) -> MultiPrefsRow:
    return MultiPrefsRow("app.X", 1, None, {}, rates)


def test_fastest_growing_sums_each_pids_rates() -> None:
    rows = [row({1: 5.0, 2: 1.0}), row({1: -4.0, 2: 2.5})]
    assert fastest_growing(rows, [1, 2]) == 2  # 1.0 against 3.5
    assert fastest_growing(rows, [1]) == 1
    assert fastest_growing([row({1: None, 2: None})], [1, 2]) is None  # no history
    assert fastest_growing([row({1: 0.0, 2: -1.0})], [1, 2]) is None  # nothing grows
    assert fastest_growing([], [1, 2]) is None


def test_merge_heap_sums_per_kind_biggest_size_first() -> None:
    answers = Fanout(
        answers={
            1: census(1, {"dict": (100, 9_000), "str": (500, 30_000), "app.Page": (3, 168)}),
            2: census(2, {"dict": (300, 27_000), "str": (10, 600)}),
        },
        gone={3: "gone"},
    )
    merged = merge_heap([1, 2, 3], answers, limit=2)
    assert merged.pids == (1, 2)
    assert merged.rows == (
        MultiHeapRow("dict", 400, 36_000, {1: 100, 2: 300}),
        MultiHeapRow("str", 510, 30_600, {1: 500, 2: 10}),
    )
    assert merged.per_pid == {1: answers.answers[1], 2: answers.answers[2]}
    document = merged.to_json()
    assert document["per_pid"]["2"]["total_count"] == 310
    assert document["gone"] == {"3": "gone"}


def test_merge_memory_keeps_the_order_asked() -> None:
    def report(pid: int, rss: int) -> MemoryReport:
        return MemoryReport(pid, MemoryFigures(rss=rss), Verdict("no-growth", "steady"))

    answers = Fanout(answers={5: report(5, 50), 4: report(4, 40)}, gone={6: "gone"})
    merged = merge_memory([4, 6, 5], answers)
    assert [r.pid for r in merged.reports] == [4, 5]
    document = merged.to_json()
    assert [(r["pid"], r["rss"], r["verdict"]) for r in document["rows"]] == [
        (4, 40, "no-growth"),
        (5, 50, "no-growth"),
    ]
    assert document["gone"] == {"6": "gone"}


def snapshot(pid: int, counts: dict[str, int]) -> Snapshot:
    return Snapshot(
        pid=pid,
        time=0.0,
        host="box",
        version="0.1.0",
        argv=(),
        python=None,
        prefs=prefs(pid, [(c, n, 1.0, None) for c, n in counts.items()]),
    )


def test_merge_diffs_gives_the_growth_per_pid_and_in_total() -> None:
    first = Fanout(
        answers={1: snapshot(1, {"app.Page": 10, "app.Tmp": 5}), 2: snapshot(2, {"app.Page": 7})},
        gone={3: "refused"},
    )
    second = Fanout(
        answers={1: snapshot(1, {"app.Page": 12, "app.Tmp": 1}), 2: snapshot(2, {"app.Page": 37})},
        gone={4: "exited"},
    )
    merged = merge_diffs(first, second, 30.0)
    assert merged.pids == (1, 2)
    assert merged.rows == (
        MultiDiffRow("app.Page", 17, 49, {1: 2, 2: 30}),
        MultiDiffRow("app.Tmp", 5, 1, {1: -4}),
    )
    assert merged.gone == {3: "refused", 4: "exited"}
    assert merged.to_json()["rows"][0]["delta"] == 32


def test_run_each_marks_failures_gone_and_runs_in_parallel() -> None:
    started = threading.Barrier(3, timeout=10)  # all three at once, or this times out

    def work(pid: int) -> int:
        started.wait()
        if pid == 2:
            raise LeakscopeError(ExitCode.TARGET_EXITED, "process 2 exited during the query")
        return pid * 10

    result = run_each([1, 2, 3], work)
    assert result.answers == {1: 10, 3: 30}
    assert result.gone == {2: "process 2 exited during the query"}


def test_run_each_with_no_answer_at_all_is_an_error() -> None:
    def work(pid: int) -> int:
        raise LeakscopeError(ExitCode.NO_SUCH_PROCESS, f"no such process: {pid}")

    with pytest.raises(LeakscopeError) as caught:
        run_each([7, 8], work)
    assert caught.value.code == ExitCode.TARGET_EXITED
    assert caught.value.message == (
        "no process answered (7: no such process: 7; 8: no such process: 8)"
    )


def test_run_each_lets_a_bug_through() -> None:
    def work(pid: int) -> int:
        raise KeyError("a bug, not a process that went away")

    with pytest.raises(KeyError):
        run_each([1], work)


def _killed(target) -> int:  # type: ignore[no-untyped-def]
    """SIGKILL a target: it leaves its socket behind, as a crashed process does."""
    os.kill(target.pid, signal.SIGKILL)
    target.proc.wait()
    return target.pid


def test_ask_each_real_agents_one_of_them_killed(target_factory) -> None:
    a = target_factory("basic", "4", "1")
    b = target_factory("basic", "6", "2")
    dead = _killed(target_factory("basic", "1", "1"))
    result = ask_each(
        [a.pid, dead, b.pid], lambda p: Connector().connect(p, 10), lambda c: c.prefs()
    )
    assert sorted(result.answers) == sorted([a.pid, b.pid])
    assert list(result.gone) == [dead]
    assert f"process {dead} is gone" in result.gone[dead]
    merged = merge_prefs([a.pid, dead, b.pid], result, None, False, None)
    widget = next(r for r in merged.rows if r.cls == "__main__.Widget")
    assert widget.per_pid == {a.pid: 4, b.pid: 6} and widget.count == 10


def test_cli_prefs_with_a_killed_process_exits_17(target_factory) -> None:
    a = target_factory("basic", "3", "1")
    dead = _killed(target_factory("basic", "2", "1"))
    result = run_cli("prefs", "--pid", str(a.pid), "--pid", str(dead), "--json")
    assert result.returncode == ExitCode.PARTIAL, result.stderr
    data = json.loads(result.stdout)
    assert data["pids"] == [a.pid]
    assert list(data["gone"]) == [str(dead)]
    rows = {r["class"]: r["count"] for r in data["rows"]}
    assert rows["__main__.Widget"] == 3
    assert result.stderr.splitlines() == [
        f"leakscope: process {dead} gone or not answering: {data['gone'][str(dead)]}"
    ]


@pytest.mark.slow
def test_cli_heap_memory_and_diff_with_a_killed_process_exit_17(target_factory) -> None:
    a = target_factory("basic", "3", "1")
    dead = _killed(target_factory("basic", "2", "1"))
    pids = ("--pid", str(a.pid), "--pid", str(dead))
    for args in (("heap", "--limit", "500"), ("memory",), ("diff", "--interval", "0.1")):
        result = run_cli(*args, *pids, "--json")
        assert result.returncode == ExitCode.PARTIAL, (args, result.stderr)
        data = json.loads(result.stdout)
        assert data["pids"] == [a.pid], args
        assert list(data["gone"]) == [str(dead)], args
        assert len(result.stderr.splitlines()) == 1 and str(dead) in result.stderr, args
    # Every process gone: nothing to show, and a different code.
    result = run_cli("prefs", "--pid", str(dead), "--pid", "4194303")
    assert result.returncode == ExitCode.TARGET_EXITED, result.stderr
    assert result.stderr.startswith("leakscope: no process answered (")
