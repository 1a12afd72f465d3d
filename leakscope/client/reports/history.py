"""The agent's history (``history``): one class's series, or every sample of every class."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from leakscope.client.reports.fields import (
    as_float,
    as_int,
    as_list,
    as_mapping,
    as_str,
    need,
    opt_float,
)
from leakscope.client.reports.memory import MemoryFigures, MemorySample
from leakscope.client.reports.snapshots import Snapshot


@dataclass(frozen=True)
class HistoryReport:
    """The agent's samples of one class's live count."""

    pid: int
    cls: str
    samples: tuple[tuple[float, int], ...]
    interval_s: float | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HistoryReport:
        samples = []
        for item in as_list(need(data, "samples"), "samples"):
            item = as_mapping(item, "a sample")
            samples.append((as_float(need(item, "t"), "t"), as_int(need(item, "count"), "count")))
        return cls(
            pid=as_int(need(data, "pid"), "pid"),
            cls=as_str(need(data, "class"), "class"),
            samples=tuple(samples),
            interval_s=opt_float(data.get("interval_s"), "interval_s"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "class": self.cls,
            "collected": False,
            "samples": [{"t": t, "count": c} for t, c in self.samples],
        }


@dataclass(frozen=True)
class HistoryTable:
    """The agent's whole history, column by column: each sample's memory figures, and
    every class's count in each sample (0 where the class had no live instance)."""

    pid: int
    memory: tuple[MemorySample, ...]  # oldest first; memory[i].t is sample i's time
    counts: dict[str, tuple[int, ...]]  # class -> one count per sample
    interval_s: float | None = None

    @property
    def times(self) -> tuple[float, ...]:
        """The samples' times (seconds since the epoch), oldest first."""
        return tuple(s.t for s in self.memory)

    def growth(self) -> list[tuple[str, int]]:
        """(class, newest count minus oldest), biggest growth first, then most live."""
        rows = [(name, c[-1] - c[0], c[-1]) for name, c in self.counts.items() if c]
        rows.sort(key=lambda r: (-r[1], -r[2], r[0]))
        return [(name, delta) for name, delta, _ in rows]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HistoryTable:
        memory, per_sample = [], []
        for item in as_list(need(data, "samples"), "samples"):
            item = as_mapping(item, "a sample")
            memory.append(MemorySample.from_json(item))
            counts = as_mapping(item.get("counts") or {}, "counts")
            per_sample.append({str(k): as_int(v, f"count of {k}") for k, v in counts.items()})
        return cls(
            pid=as_int(need(data, "pid"), "pid"),
            memory=tuple(memory),
            counts=_columns(per_sample),
            interval_s=opt_float(data.get("interval_s"), "interval_s"),
        )

    @classmethod
    def of_snapshots(cls, snapshots: list[Snapshot]) -> HistoryTable:
        """A history made of snapshot files (one sample each, in time order)."""
        snaps = sorted(snapshots, key=lambda s: s.time)
        memory = [
            MemorySample.of(s.time, s.memory.figures if s.memory else MemoryFigures())
            for s in snaps
        ]
        per_sample = []
        for snap in snaps:
            counts: dict[str, int] = {}
            for row in snap.prefs.rows:
                counts[row.cls] = counts.get(row.cls, 0) + row.count
            per_sample.append(counts)
        return cls(
            pid=snaps[-1].pid if snaps else 0, memory=tuple(memory), counts=_columns(per_sample)
        )

    def to_json(self) -> dict[str, Any]:
        samples = []
        for i, sample in enumerate(self.memory):
            out = sample.to_json()
            out["counts"] = {name: c[i] for name, c in self.counts.items() if c[i]}
            samples.append(out)
        return {"pid": self.pid, "interval_s": self.interval_s, "samples": samples}


def _columns(per_sample: list[dict[str, int]]) -> dict[str, tuple[int, ...]]:
    names = sorted({name for counts in per_sample for name in counts})
    return {name: tuple(counts.get(name, 0) for counts in per_sample) for name in names}
