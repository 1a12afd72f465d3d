"""What changed between two snapshots: live-ref rows and heap rows, biggest growth first."""

from __future__ import annotations

from typing import Any


def _index(rows: list[dict[str, Any]], key: str, grouped: bool) -> dict[tuple[str, str], dict]:
    out: dict[tuple[str, str], dict] = {}
    for row in rows:
        k = (str(row[key]), str(row.get("group")) if grouped else "")
        out[k] = row
    return out


def diff_rows(
    before: list[dict[str, Any]], after: list[dict[str, Any]], grouped: bool = False
) -> list[dict[str, Any]]:
    """Live-ref rows of both sides with before, after and delta, biggest growth first."""
    a, b = _index(before, "class", grouped), _index(after, "class", grouped)
    out = []
    for key in set(a) | set(b):
        n0 = int(a[key]["count"]) if key in a else 0
        n1 = int(b[key]["count"]) if key in b else 0
        row: dict[str, Any] = {"class": key[0]}
        if grouped:
            row["group"] = key[1]
        row.update(before=n0, after=n1, delta=n1 - n0)
        out.append(row)
    out.sort(key=lambda r: (-r["delta"], -r["after"], r["class"], r.get("group", "")))
    return out


def diff_heap(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Heap (by type) rows of both sides: count and size deltas, biggest growth first."""
    a = {str(r["kind"]): r for r in before}
    b = {str(r["kind"]): r for r in after}
    out: list[dict[str, Any]] = []
    for kind in set(a) | set(b):
        c0 = int(a[kind]["count"]) if kind in a else 0
        c1 = int(b[kind]["count"]) if kind in b else 0
        s0 = int(a[kind].get("size", 0)) if kind in a else 0
        s1 = int(b[kind].get("size", 0)) if kind in b else 0
        out.append(
            {
                "kind": kind,
                "before": c0,
                "after": c1,
                "delta": c1 - c0,
                "size_before": s0,
                "size_after": s1,
                "size_delta": s1 - s0,
            }
        )
    out.sort(key=lambda r: (-r["delta"], -r["size_delta"], r["kind"]))
    return out


def compare(
    before: dict[str, Any], after: dict[str, Any], group_by: str | None = None
) -> dict[str, Any]:
    """The diff of two snapshot documents (see leakscope.snapfile)."""
    if group_by is None:
        rows = diff_rows(before["prefs"]["rows"], after["prefs"]["rows"])
    else:
        sides = []
        for snap in (before, after):
            section = (snap.get("prefs_by") or {}).get(group_by)
            if section is None:
                raise ValueError(
                    f"a snapshot (pid {snap.get('pid')}) has no rows grouped by {group_by}"
                    + (" (creation sites were off)" if group_by == "site" else "")
                )
            sides.append(section["rows"])
        rows = diff_rows(sides[0], sides[1], grouped=True)
    heap_rows: list[dict[str, Any]] = []
    if before.get("heap") and after.get("heap"):
        heap_rows = diff_heap(before["heap"]["rows"], after["heap"]["rows"])
    return {
        "before": {"pid": before.get("pid"), "time": before.get("time")},
        "after": {"pid": after.get("pid"), "time": after.get("time")},
        "interval_s": round(float(after.get("time", 0)) - float(before.get("time", 0)), 3),
        "group_by": group_by,
        "collected": bool(before.get("collected") or after.get("collected")),
        "rows": rows,
        "heap_rows": heap_rows,
    }
