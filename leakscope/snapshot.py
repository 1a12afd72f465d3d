"""Typed results on the client side, and their one JSON form.

The agent answers with plain JSON; the client turns each answer into one of
these frozen dataclasses. Renderers (Rich tables, ``--json``) and snapshot
files read only these, so a new view never needs a new query. ``to_json``
is the documented, stable shape of each command's ``--json`` output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class AgentInfo:
    """One agent-bearing process, as `leakscope ps` lists it."""

    pid: int
    name: str
    python: str
    socket: str
    ppid: int | None = None
    argv: tuple[str, ...] = ()
    role: str = ""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AgentInfo:
        ppid = data.get("ppid")
        return cls(
            pid=int(data["pid"]),
            name=str(data.get("name", "?")),
            python=str(data.get("python", "?")),
            socket=str(data.get("socket", "")),
            ppid=ppid if type(ppid) is int else None,
            argv=tuple(str(a) for a in data.get("argv") or ()),
            role=str(data.get("role", "")),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "name": self.name,
            "python": self.python,
            "socket": self.socket,
            "ppid": self.ppid,
            "role": self.role,
            "argv": list(self.argv),
        }


@dataclass(frozen=True)
class PrefsRow:
    """Live objects of one class (and group)."""

    cls: str
    count: int
    oldest_age_s: float | None
    source: str
    group: str | None = None
    change_1m: int | None = None
    change_10m: int | None = None
    rate_per_min: float | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PrefsRow:
        return cls(
            cls=str(data["class"]),
            count=int(data["count"]),
            oldest_age_s=_opt_float(data.get("oldest_age_s")),
            source=str(data.get("source", "leakscope")),
            group=data.get("group"),
            change_1m=data.get("change_1m"),
            change_10m=data.get("change_10m"),
            rate_per_min=_opt_float(data.get("rate_per_min")),
        )

    def to_json(self, grouped: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "class": self.cls,
            "count": self.count,
            "oldest_age_s": self.oldest_age_s,
            "source": self.source,
        }
        if grouped:
            out["group"] = self.group
        out["change_1m"] = self.change_1m
        out["change_10m"] = self.change_10m
        out["rate_per_min"] = self.rate_per_min
        return out


@dataclass(frozen=True)
class PrefsReport:
    """The "Live References" of one process."""

    pid: int
    time: float
    rows: tuple[PrefsRow, ...]
    group_by: str | None = None
    history: bool = False
    collected: bool = False

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PrefsReport:
        return cls(
            pid=int(data["pid"]),
            time=float(data.get("time", 0.0)),
            rows=tuple(PrefsRow.from_json(r) for r in data.get("rows", [])),
            group_by=data.get("group_by"),
            history=bool(data.get("history", False)),
            collected=bool(data.get("collected", False)),
        )

    def to_json(self) -> dict[str, Any]:
        grouped = self.group_by is not None
        out: dict[str, Any] = {"pid": self.pid, "time": self.time, "collected": self.collected}
        if grouped:
            out["group_by"] = self.group_by
        out["rows"] = [r.to_json(grouped) for r in self.rows]
        return out


@dataclass(frozen=True)
class ObjectInfo:
    """A description of one live object (the object itself never leaves the target)."""

    cls: str
    id: int
    age_s: float | None
    repr: str
    attrs: dict[str, str] = field(default_factory=dict)
    why: dict[str, Any] | None = None
    collected: bool = False

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ObjectInfo:
        return cls(
            cls=str(data["class"]),
            id=int(data["id"]),
            age_s=_opt_float(data.get("age_s")),
            repr=str(data.get("repr", "")),
            attrs={str(k): str(v) for k, v in (data.get("attrs") or {}).items()},
            why=data.get("why"),
            collected=bool(data.get("collected", False)),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "class": self.cls,
            "id": self.id,
            "age_s": self.age_s,
            "repr": self.repr,
            "attrs": dict(self.attrs),
            "collected": self.collected,
        }
        if self.why is not None:
            out["why"] = self.why
        return out


@dataclass(frozen=True)
class ObjectsReport:
    """Every live object of a class, oldest first (`leakscope all`)."""

    cls: str
    total: int
    objects: tuple[ObjectInfo, ...]
    collected: bool = False

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ObjectsReport:
        return cls(
            cls=str(data["class"]),
            total=int(data.get("total", 0)),
            objects=tuple(ObjectInfo.from_json(o) for o in data.get("objects", [])),
            collected=bool(data.get("collected", False)),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "class": self.cls,
            "total": self.total,
            "collected": self.collected,
            "objects": [o.to_json() for o in self.objects],
        }


@dataclass(frozen=True)
class HeapRow:
    """One partition of the heap: a type, a via label, a module, a size bucket..."""

    kind: str
    count: int
    size: int

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
    def from_json(cls, data: dict[str, Any]) -> HeapReport:
        return cls(
            pid=int(data.get("pid", 0)),
            partition=str(data.get("partition", "type")),
            of=data.get("of"),
            total_count=int(data.get("total_count", 0)),
            total_size=int(data.get("total_size", 0)),
            elapsed_s=float(data.get("elapsed_s", 0.0)),
            max_pause_s=float(data.get("max_pause_s", 0.0)),
            partial=bool(data.get("partial", False)),
            backend=str(data.get("backend", "builtin")),
            rows=tuple(
                HeapRow(str(r["kind"]), int(r["count"]), int(r.get("size", 0)))
                for r in data.get("rows", [])
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


@dataclass(frozen=True)
class MemoryReport:
    """The memory picture of a process, with its verdict."""

    pid: int
    figures: dict[str, Any]
    verdict: dict[str, Any]
    trim: dict[str, Any] | None
    samples: tuple[dict[str, Any], ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MemoryReport:
        return cls(
            pid=int(data.get("pid", 0)),
            figures=dict(data.get("figures") or {}),
            verdict=dict(data.get("verdict") or {}),
            trim=data.get("trim"),
            samples=tuple(data.get("samples") or ()),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "verdict": self.verdict.get("verdict"),
            "reason": self.verdict.get("reason"),
            "trim_may_help": self.verdict.get("trim_may_help"),
            "collected": False,
            "figures": self.figures,
            "trim": self.trim,
            "samples": list(self.samples),
        }
