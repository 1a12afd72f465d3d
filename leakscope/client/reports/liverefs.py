"""Live tracked objects: ``prefs``, ``oldest``, ``all``, retention paths, creation sites."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from leakscope.client.reports.fields import (
    as_float,
    as_int,
    as_list,
    as_mapping,
    as_str,
    need,
    opt_float,
    opt_int,
    opt_str,
)


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

    @property
    def key(self) -> tuple[str, str]:
        """(class, group) — what identifies the row in a diff."""
        return (self.cls, self.group or "")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PrefsRow:
        group = data.get("group")
        return cls(
            cls=as_str(need(data, "class"), "class"),
            count=as_int(need(data, "count"), "count"),
            oldest_age_s=opt_float(data.get("oldest_age_s"), "oldest_age_s"),
            source=str(data.get("source", "leakscope")),
            group=None if group is None else str(group),
            change_1m=opt_int(data.get("change_1m"), "change_1m"),
            change_10m=opt_int(data.get("change_10m"), "change_10m"),
            rate_per_min=opt_float(data.get("rate_per_min"), "rate_per_min"),
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
    partial: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PrefsReport:
        return cls(
            pid=as_int(need(data, "pid"), "pid"),
            time=as_float(data.get("time", 0.0), "time"),
            rows=tuple(
                PrefsRow.from_json(as_mapping(r, "a row"))
                for r in as_list(need(data, "rows"), "rows")
            ),
            group_by=opt_str(data.get("group_by"), "group_by"),
            history=bool(data.get("history", False)),
            collected=bool(data.get("collected", False)),
            partial=bool(data.get("partial", False)),
        )

    def sorted(self, by: str, limit: int | None = None) -> PrefsReport:
        """The same report with its rows ordered by count, age, growth or name (and cut)."""
        keys: dict[str, Callable[[PrefsRow], Any]] = {
            "count": lambda r: (-r.count, r.cls),
            "age": lambda r: (-(r.oldest_age_s or 0.0), r.cls),
            "growth": lambda r: (-(r.rate_per_min or 0.0), -(r.change_10m or 0), -r.count, r.cls),
            "name": lambda r: (r.cls, r.group or ""),
        }
        rows = sorted(self.rows, key=keys[by])[:limit]
        return replace(self, rows=tuple(rows))

    def to_json(self) -> dict[str, Any]:
        grouped = self.group_by is not None
        out: dict[str, Any] = {
            "pid": self.pid,
            "time": self.time,
            "collected": self.collected,
            "partial": self.partial,
        }
        if grouped:
            out["group_by"] = self.group_by
        out["rows"] = [r.to_json(grouped) for r in self.rows]
        return out


@dataclass(frozen=True)
class PathEdge:
    """One reference on a retention path: from a container (or root), by a label, to an object."""

    from_kind: str
    label: str
    to_kind: str
    weak: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PathEdge:
        return cls(
            from_kind=str(data.get("from_kind", "?")),
            label=str(data.get("label", "?")),
            to_kind=str(data.get("to_kind", "?")),
            weak=bool(data.get("weak", False)),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "from_kind": self.from_kind,
            "label": self.label,
            "to_kind": self.to_kind,
            "weak": self.weak,
        }


@dataclass(frozen=True)
class RetentionPath:
    """Why an object is alive: the chain of references from a root to it."""

    found: bool
    root: str | None
    edges: tuple[PathEdge, ...] = ()
    elapsed_s: float | None = None
    partial: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RetentionPath:
        return cls(
            found=bool(data.get("found", False)),
            root=opt_str(data.get("root"), "root"),
            edges=tuple(
                PathEdge.from_json(as_mapping(e, "an edge"))
                for e in as_list(data.get("edges", []), "edges")
            ),
            elapsed_s=opt_float(data.get("elapsed_s"), "elapsed_s"),
            partial=bool(data.get("partial", False)),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "found": self.found,
            "root": self.root,
            "edges": [e.to_json() for e in self.edges],
            "elapsed_s": self.elapsed_s,
            "partial": self.partial,
        }


@dataclass(frozen=True)
class ObjectInfo:
    """A description of one live object (the object itself never leaves the target)."""

    cls: str
    id: int
    age_s: float | None
    repr: str
    attrs: dict[str, str] = field(default_factory=dict)
    why: RetentionPath | None = None
    collected: bool = False
    #: False for a class the registry does not track (found through the GC: no ages).
    tracked: bool = True
    note: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ObjectInfo:
        why = data.get("why")
        return cls(
            cls=as_str(need(data, "class"), "class"),
            id=as_int(need(data, "id"), "id"),
            age_s=opt_float(data.get("age_s"), "age_s"),
            repr=str(data.get("repr", "")),
            attrs={str(k): str(v) for k, v in as_mapping(data.get("attrs") or {}, "attrs").items()},
            why=RetentionPath.from_json(as_mapping(why, "why")) if why is not None else None,
            collected=bool(data.get("collected", False)),
            tracked=bool(data.get("tracked", True)),
            note=opt_str(data.get("note"), "note"),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "class": self.cls,
            "id": self.id,
            "address": f"{self.id:#x}",
            "age_s": self.age_s,
            "repr": self.repr,
            "attrs": dict(self.attrs),
            "collected": self.collected,
            "tracked": self.tracked,
        }
        if self.note is not None:
            out["note"] = self.note
        if self.why is not None:
            out["why"] = self.why.to_json()
        return out


@dataclass(frozen=True)
class ObjectsReport:
    """Every live object of a class, oldest first (`leakscope all`)."""

    query: str
    total: int
    objects: tuple[ObjectInfo, ...]
    collected: bool = False
    tracked: bool = True
    note: str | None = None

    @property
    def cls(self) -> str:
        """The class the objects belong to (the dotted name; the query when none is live)."""
        names = sorted({o.cls for o in self.objects})
        return ", ".join(names) if names else self.query

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ObjectsReport:
        return cls(
            # The agent answers with the name asked for as "class"; `to_json` keeps it as
            # "query" (and gives the class found as "class").
            query=as_str(data["query"] if "query" in data else need(data, "class"), "query"),
            total=as_int(data.get("total", 0), "total"),
            objects=tuple(
                ObjectInfo.from_json(as_mapping(o, "an object"))
                for o in as_list(data.get("objects", []), "objects")
            ),
            collected=bool(data.get("collected", False)),
            tracked=bool(data.get("tracked", True)),
            note=opt_str(data.get("note"), "note"),
        )

    def to_json(self) -> dict[str, Any]:
        out = {
            "class": self.cls,
            "query": self.query,
            "total": self.total,
            "collected": self.collected,
            "tracked": self.tracked,
            "objects": [o.to_json() for o in self.objects],
        }
        if self.note is not None:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class SitesReport:
    """Whether creation sites are recorded in a process."""

    pid: int
    sites: bool

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SitesReport:
        return cls(pid=as_int(need(data, "pid"), "pid"), sites=bool(need(data, "sites")))

    def to_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "sites": self.sites}
