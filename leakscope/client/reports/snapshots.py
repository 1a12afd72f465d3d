"""Snapshots (the content of a snapshot file) and what changed between two (``diff``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from leakscope.client.reports.heap import HeapReport
from leakscope.client.reports.liverefs import PrefsReport
from leakscope.client.reports.memory import MemoryReport


@dataclass(frozen=True)
class Snapshot:
    """The state of one process at one moment, as a snapshot file keeps it."""

    pid: int
    time: float
    host: str
    version: str
    argv: tuple[str, ...]
    python: str | None
    prefs: PrefsReport
    prefs_by: dict[str, PrefsReport] = field(default_factory=dict)
    memory: MemoryReport | None = None
    heap: HeapReport | None = None
    collected: bool = False


@dataclass(frozen=True)
class DiffRow:
    """One class (and group) on both sides of a diff."""

    cls: str
    before: int
    after: int
    group: str | None = None

    @property
    def delta(self) -> int:
        return self.after - self.before

    def to_json(self, grouped: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"class": self.cls}
        if grouped:
            out["group"] = self.group
        out.update(before=self.before, after=self.after, delta=self.delta)
        return out


@dataclass(frozen=True)
class HeapDiffRow:
    """One type of the heap on both sides of a diff."""

    kind: str
    before: int
    after: int
    size_before: int
    size_after: int

    @property
    def delta(self) -> int:
        return self.after - self.before

    @property
    def size_delta(self) -> int:
        return self.size_after - self.size_before

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "before": self.before,
            "after": self.after,
            "delta": self.delta,
            "size_before": self.size_before,
            "size_after": self.size_after,
            "size_delta": self.size_delta,
        }


@dataclass(frozen=True)
class Side:
    """Which process and moment one side of a diff is."""

    pid: int
    time: float
    host: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "time": self.time, "host": self.host}


@dataclass(frozen=True)
class DiffReport:
    """What changed between two snapshots, biggest growth first."""

    before: Side
    after: Side
    group_by: str | None
    rows: tuple[DiffRow, ...]
    heap_rows: tuple[HeapDiffRow, ...] = ()
    collected: bool = False
    tracked: bool = True  # did either side track any class at all
    warnings: tuple[str, ...] = ()

    @property
    def interval_s(self) -> float:
        return round(self.after.time - self.before.time, 3)

    def to_json(self) -> dict[str, Any]:
        grouped = self.group_by is not None
        return {
            "before": self.before.to_json(),
            "after": self.after.to_json(),
            "interval_s": self.interval_s,
            "group_by": self.group_by,
            "collected": self.collected,
            "warnings": list(self.warnings),
            "rows": [r.to_json(grouped) for r in self.rows],
            "heap_rows": [r.to_json() for r in self.heap_rows],
        }
