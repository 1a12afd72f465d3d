"""Asking several agents at once (``--all``, ``--pid P --pid Q``) and merging the answers.

Connections run in parallel threads, so eight processes cost about as much as
one. A process that exits (or refuses) mid-query is reported as gone with its
reason; the others' answers are still merged and shown.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from leakscope.client.analysis.diff import diff_snapshots
from leakscope.client.api import Client
from leakscope.client.errors import ExitCode, LeakscopeError
from leakscope.client.reports import (
    HeapReport,
    MemoryReport,
    MultiDiff,
    MultiDiffRow,
    MultiHeap,
    MultiHeapRow,
    MultiMemory,
    MultiPrefs,
    MultiPrefsRow,
    PrefsReport,
    Snapshot,
)

_T = TypeVar("_T")


@dataclass
class Fanout(Generic[_T]):
    """Answers by PID, and the PIDs that could not answer with the reason."""

    answers: dict[int, _T] = field(default_factory=dict)
    gone: dict[int, str] = field(default_factory=dict)


def run_each(pids: list[int], work: Callable[[int], _T]) -> Fanout[_T]:
    """Run *work(pid)* for every PID in parallel; a LeakscopeError marks that PID gone.

    Raises `ExitCode.TARGET_EXITED` when no PID answered at all.
    """

    def one(pid: int) -> tuple[int, _T | None, str | None]:
        try:
            return pid, work(pid), None
        except LeakscopeError as exc:
            return pid, None, exc.message

    result: Fanout[_T] = Fanout()
    with ThreadPoolExecutor(max_workers=min(16, max(1, len(pids)))) as pool:
        for pid, answer, error in pool.map(one, pids):
            if error is None:
                result.answers[pid] = answer  # type: ignore[assignment]
            else:
                result.gone[pid] = error
    if not result.answers:
        reasons = "; ".join(f"{pid}: {msg}" for pid, msg in result.gone.items())
        raise LeakscopeError(ExitCode.TARGET_EXITED, f"no process answered ({reasons})")
    return result


def ask_each(
    pids: list[int],
    connect: Callable[[int], Client],
    ask: Callable[[Client], _T],
) -> Fanout[_T]:
    """Connect to every PID in parallel and apply *ask* to each client."""

    def work(pid: int) -> _T:
        with connect(pid) as client:
            return ask(client)

    return run_each(pids, work)


def merge_prefs(
    pids: list[int],
    result: Fanout[PrefsReport],
    group_by: str | None,
    collected: bool,
    limit: int | None,
) -> MultiPrefs:
    """One row per class (and group): count summed, oldest age the max, count per PID."""
    answered = [p for p in pids if p in result.answers]
    merged: dict[tuple[str, str | None], dict] = {}
    for pid in answered:
        for row in result.answers[pid].rows:
            slot = merged.setdefault(
                (row.cls, row.group), {"count": 0, "age": None, "per_pid": {}, "rates": {}}
            )
            slot["count"] += row.count
            age = row.oldest_age_s
            if age is not None and (slot["age"] is None or age > slot["age"]):
                slot["age"] = age
            slot["per_pid"][pid] = row.count
            slot["rates"][pid] = row.rate_per_min
    rows = [
        MultiPrefsRow(cls, s["count"], s["age"], s["per_pid"], s["rates"], group)
        for (cls, group), s in merged.items()
    ]
    rows.sort(key=lambda r: (-r.count, r.cls))
    fastest = fastest_growing(rows, answered)
    if limit is not None:
        rows = rows[:limit]
    return MultiPrefs(
        pids=tuple(answered),
        rows=tuple(rows),
        group_by=group_by,
        fastest_growing=fastest,
        collected=collected,
        gone=dict(result.gone),
    )


def fastest_growing(rows: list[MultiPrefsRow], pids: list[int]) -> int | None:
    """The PID whose tracked objects grow fastest (by the agents' growth rates)."""
    totals: dict[int, float] = {}
    for pid in pids:
        known = [r.rate_per_pid.get(pid) for r in rows]
        rates = [x for x in known if x is not None]
        if rates:
            totals[pid] = sum(rates)
    if not totals:
        return None
    best = max(totals, key=lambda p: totals[p])
    return best if totals[best] > 0 else None


def merge_heap(pids: list[int], result: Fanout[HeapReport], limit: int) -> MultiHeap:
    """One row per kind: count and size summed, count per PID, biggest size first."""
    answered = [p for p in pids if p in result.answers]
    merged: dict[str, dict] = {}
    for pid in answered:
        for row in result.answers[pid].rows:
            slot = merged.setdefault(row.kind, {"count": 0, "size": 0, "per_pid": {}})
            slot["count"] += row.count
            slot["size"] += row.size
            slot["per_pid"][pid] = row.count
    rows = [MultiHeapRow(k, s["count"], s["size"], s["per_pid"]) for k, s in merged.items()]
    rows.sort(key=lambda r: (-r.size, r.kind))
    return MultiHeap(
        pids=tuple(answered),
        rows=tuple(rows[:limit]),
        per_pid={p: result.answers[p] for p in answered},
        gone=dict(result.gone),
    )


def merge_memory(pids: list[int], result: Fanout[MemoryReport]) -> MultiMemory:
    """One memory report per PID that answered, in the order asked."""
    reports = tuple(result.answers[p] for p in pids if p in result.answers)
    return MultiMemory(reports, dict(result.gone))


def merge_diffs(first: Fanout[Snapshot], second: Fanout[Snapshot], interval_s: float) -> MultiDiff:
    """Growth per class over an interval: the delta per PID and the total."""
    merged: dict[str, dict] = {}
    for pid, after in second.answers.items():
        for row in diff_snapshots(first.answers[pid], after).rows:
            slot = merged.setdefault(row.cls, {"before": 0, "after": 0, "per_pid": {}})
            slot["before"] += row.before
            slot["after"] += row.after
            slot["per_pid"][pid] = row.delta
    rows = [MultiDiffRow(c, s["before"], s["after"], s["per_pid"]) for c, s in merged.items()]
    rows.sort(key=lambda r: (-r.delta, -r.after, r.cls))
    return MultiDiff(
        pids=tuple(sorted(second.answers)),
        interval_s=interval_s,
        rows=tuple(rows),
        gone={**first.gone, **second.gone},
    )
