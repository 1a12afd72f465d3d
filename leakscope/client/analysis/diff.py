"""What changed between two snapshots: live-ref rows and heap rows, biggest growth first.

Two snapshots of different processes or hosts can still be compared (a
restarted service), but the report says so; two given newest first are
compared as given, and the report says which is older.
"""

from __future__ import annotations

from leakscope.client.errors import ExitCode, LeakscopeError
from leakscope.client.reports import (
    DiffReport,
    DiffRow,
    HeapDiffRow,
    HeapReport,
    PrefsReport,
    Side,
    Snapshot,
)


def diff_rows(before: PrefsReport, after: PrefsReport) -> list[DiffRow]:
    """Rows of both sides with before, after and delta, biggest growth first."""
    a = {row.key: row for row in before.rows}
    b = {row.key: row for row in after.rows}
    out = []
    for key in a.keys() | b.keys():
        n0 = a[key].count if key in a else 0
        n1 = b[key].count if key in b else 0
        group = key[1] if (before.group_by or after.group_by) else None
        out.append(DiffRow(key[0], n0, n1, group))
    out.sort(key=lambda r: (-r.delta, -r.after, r.cls, r.group or ""))
    return out


def diff_heap(before: HeapReport, after: HeapReport) -> list[HeapDiffRow]:
    """Heap (by type) rows of both sides: count and size deltas, biggest growth first."""
    a = {r.kind: r for r in before.rows}
    b = {r.kind: r for r in after.rows}
    out = []
    for kind in a.keys() | b.keys():
        r0, r1 = a.get(kind), b.get(kind)
        out.append(
            HeapDiffRow(
                kind,
                r0.count if r0 else 0,
                r1.count if r1 else 0,
                r0.size if r0 else 0,
                r1.size if r1 else 0,
            )
        )
    out.sort(key=lambda r: (-r.delta, -r.size_delta, r.kind))
    return out


def _warnings(before: Snapshot, after: Snapshot) -> list[str]:
    notes = []
    if before.host != after.host:
        notes.append(f"the snapshots come from different hosts ({before.host} and {after.host})")
    if before.pid != after.pid:
        notes.append(
            f"the snapshots are of different processes (pid {before.pid} and pid {after.pid})"
        )
    if after.time < before.time:
        notes.append(
            "the second snapshot is the older one (taken "
            f"{before.time - after.time:,.1f} s before the first): deltas read new - old "
            "as given; swap the files to see growth"
        )
    return notes


def diff_snapshots(before: Snapshot, after: Snapshot, group_by: str | None = None) -> DiffReport:
    """The diff of two snapshots, optionally per owner or creation site."""
    if group_by is None:
        rows = diff_rows(before.prefs, after.prefs)
    else:
        sides = []
        for snap in (before, after):
            section = snap.prefs_by.get(group_by)
            if section is None:
                raise LeakscopeError(
                    ExitCode.USAGE,
                    f"the snapshot of pid {snap.pid} has no rows grouped by {group_by}"
                    + (" (creation sites were off)" if group_by == "site" else ""),
                )
            sides.append(section)
        rows = diff_rows(sides[0], sides[1])
    heap_rows: list[HeapDiffRow] = []
    if before.heap is not None and after.heap is not None:
        heap_rows = diff_heap(before.heap, after.heap)
    return DiffReport(
        before=Side(before.pid, before.time, before.host),
        after=Side(after.pid, after.time, after.host),
        group_by=group_by,
        rows=tuple(rows),
        heap_rows=tuple(heap_rows),
        collected=before.collected or after.collected,
        tracked=bool(before.prefs.rows or after.prefs.rows),
        warnings=tuple(_warnings(before, after)),
    )
