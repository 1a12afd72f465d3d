"""Several processes at once (``--all``, ``--pid P --pid Q``): merged rows, one column each."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from leakscope.client.reports.heap import HeapReport
from leakscope.client.reports.memory import MemoryReport


@dataclass(frozen=True)
class MultiPrefsRow:
    """One class (and group) over several processes."""

    cls: str
    count: int
    oldest_age_s: float | None
    per_pid: dict[int, int]
    rate_per_pid: dict[int, float | None]
    group: str | None = None

    def to_json(self, grouped: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "class": self.cls,
            "count": self.count,
            "oldest_age_s": self.oldest_age_s,
            "per_pid": {str(p): n for p, n in self.per_pid.items()},
        }
        if grouped:
            out["group"] = self.group
        return out


@dataclass(frozen=True)
class MultiPrefs:
    """Live references of several processes, merged."""

    pids: tuple[int, ...]
    rows: tuple[MultiPrefsRow, ...]
    group_by: str | None = None
    fastest_growing: int | None = None
    collected: bool = False
    gone: dict[int, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        grouped = self.group_by is not None
        return {
            "pids": list(self.pids),
            "group_by": self.group_by,
            "fastest_growing": self.fastest_growing,
            "collected": self.collected,
            "gone": {str(p): m for p, m in self.gone.items()},
            "rows": [r.to_json(grouped) for r in self.rows],
        }


@dataclass(frozen=True)
class MultiHeapRow:
    """One type over several processes."""

    kind: str
    count: int
    size: int
    per_pid: dict[int, int]

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "count": self.count,
            "size": self.size,
            "per_pid": {str(p): n for p, n in self.per_pid.items()},
        }


@dataclass(frozen=True)
class MultiHeap:
    """Heap by type of several processes, merged."""

    pids: tuple[int, ...]
    rows: tuple[MultiHeapRow, ...]
    per_pid: dict[int, HeapReport]
    gone: dict[int, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "pids": list(self.pids),
            "partition": "type",
            "gone": {str(p): m for p, m in self.gone.items()},
            "per_pid": {
                str(p): {
                    "total_count": r.total_count,
                    "total_size": r.total_size,
                    "elapsed_s": r.elapsed_s,
                    "max_pause_s": r.max_pause_s,
                    "partial": r.partial,
                }
                for p, r in self.per_pid.items()
            },
            "rows": [r.to_json() for r in self.rows],
        }


@dataclass(frozen=True)
class MultiMemory:
    """The memory picture of several processes, one row each."""

    reports: tuple[MemoryReport, ...]
    gone: dict[int, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "pids": [r.pid for r in self.reports],
            "gone": {str(p): m for p, m in self.gone.items()},
            "rows": [
                {
                    "pid": r.pid,
                    "rss": r.figures.rss,
                    "uss": r.figures.uss,
                    "python_objects_bytes": r.figures.python_objects_bytes,
                    "verdict": r.verdict.verdict,
                    "reason": r.verdict.reason,
                }
                for r in self.reports
            ],
        }


@dataclass(frozen=True)
class MultiDiffRow:
    """Growth of one class over several processes."""

    cls: str
    before: int
    after: int
    per_pid: dict[int, int]

    @property
    def delta(self) -> int:
        return self.after - self.before

    def to_json(self) -> dict[str, Any]:
        return {
            "class": self.cls,
            "before": self.before,
            "after": self.after,
            "delta": self.delta,
            "per_pid": {str(p): d for p, d in self.per_pid.items()},
        }


@dataclass(frozen=True)
class MultiDiff:
    """Growth per class over an interval, in several processes."""

    pids: tuple[int, ...]
    interval_s: float
    rows: tuple[MultiDiffRow, ...]
    gone: dict[int, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "pids": list(self.pids),
            "interval_s": self.interval_s,
            "gone": {str(p): m for p, m in self.gone.items()},
            "rows": [r.to_json() for r in self.rows],
        }
