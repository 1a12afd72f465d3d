"""The heap partitioned one way (``heap``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from leakscope.client.reports.fields import as_float, as_int, as_list, as_mapping, need, opt_str


@dataclass(frozen=True)
class HeapRow:
    """One partition of the heap: a type, a via label, a module, a size bucket..."""

    kind: str
    count: int
    size: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HeapRow:
        return cls(
            kind=str(need(data, "kind")),
            count=as_int(need(data, "count"), "count"),
            size=as_int(data.get("size", 0), "size"),
        )

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "count": self.count, "size": self.size}


@dataclass(frozen=True)
class HeapReport:
    """A census of the target's heap, partitioned one way."""

    pid: int
    partition: str
    of: str | None
    total_count: int
    total_size: int
    elapsed_s: float
    max_pause_s: float
    partial: bool
    backend: str
    rows: tuple[HeapRow, ...]
    collected: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HeapReport:
        return cls(
            pid=as_int(data.get("pid", 0), "pid"),
            partition=str(data.get("partition", "type")),
            of=opt_str(data.get("of"), "of"),
            total_count=as_int(data.get("total_count", 0), "total_count"),
            total_size=as_int(data.get("total_size", 0), "total_size"),
            elapsed_s=as_float(data.get("elapsed_s", 0.0), "elapsed_s"),
            max_pause_s=as_float(data.get("max_pause_s", 0.0), "max_pause_s"),
            partial=bool(data.get("partial", False)),
            backend=str(data.get("backend", "builtin")),
            rows=tuple(
                HeapRow.from_json(as_mapping(r, "a heap row"))
                for r in as_list(need(data, "rows"), "rows")
            ),
            collected=bool(data.get("collected", False)),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "partition": self.partition,
            "of": self.of,
            "backend": self.backend,
            "total_count": self.total_count,
            "total_size": self.total_size,
            "elapsed_s": self.elapsed_s,
            "max_pause_s": self.max_pause_s,
            "partial": self.partial,
            "collected": self.collected,
            "rows": [r.to_json() for r in self.rows],
        }
