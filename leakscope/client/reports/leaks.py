"""Retained sizes and leak suspects, computed in the shell from heap dumps
(``retained``, ``leaks``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from leakscope.client.reports.liverefs import RetentionPath


@dataclass(frozen=True)
class RetainedRow:
    """One object (or, with ``--by-class``, one class) and the memory it keeps alive.

    ``retained_size`` / ``retained_count``: the shallow sizes and number of the objects it
    dominates (every path from a root to them passes through it), itself included. For a
    class row (``id`` None): the union over its instances, each object counted once; ``count``
    is then its number of instances.
    """

    type: str
    id: int | None
    size: int
    retained_size: int
    retained_count: int
    path: RetentionPath | None = None
    repr: str = ""
    count: int = 1

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.type,
            "id": self.id,
            "size": self.size,
            "retained_size": self.retained_size,
            "retained_count": self.retained_count,
            "path": self.path.to_json() if self.path is not None else None,
        }
        if self.id is None:
            out["count"] = self.count
        else:
            out["repr"] = self.repr
        return out


@dataclass(frozen=True)
class RetainedReport:
    """`leakscope retained`: what keeps the most memory alive, at any depth of the dominator
    tree (``by_class``: summed per class). ``source`` is ``pid N`` or the dump file."""

    pid: int
    total_count: int
    total_size: int
    rows: tuple[RetainedRow, ...]
    by_class: bool = False
    source: str = ""
    dump_s: float | None = None
    analysis_s: float | None = None
    max_pause_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "total_count": self.total_count,
            "total_size": self.total_size,
            "by_class": self.by_class,
            "source": self.source,
            "rows": [r.to_json() for r in self.rows],
        }


@dataclass(frozen=True)
class LeakHolder:
    """The accumulation point of a suspect: the object that, by the dominator tree, keeps
    most of its new instances alive (``share`` of them), and its path from a root."""

    type: str
    id: int
    path: RetentionPath
    retained_size: int
    retained_count: int
    share: float
    repr: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "id": self.id,
            "path": self.path.to_json(),
            "retained_size": self.retained_size,
            "retained_count": self.retained_count,
            "share": self.share,
            "repr": self.repr,
        }


@dataclass(frozen=True)
class LeakSite:
    """Where instances made during the interval (and alive at its end) were created."""

    site: str
    function: str
    count: int

    def to_json(self) -> dict[str, Any]:
        return {"site": self.site, "function": self.function, "count": self.count}


@dataclass(frozen=True)
class LeakSuspect:
    """One growing kind, with what holds its new instances and where they are made."""

    kind: str
    count_before: int
    count_after: int
    size_delta: int
    retained_size: int
    holder: LeakHolder | None
    sites: tuple[LeakSite, ...]
    finding: str
    sites_source: str | None = None

    @property
    def count_delta(self) -> int:
        return self.count_after - self.count_before

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "count_before": self.count_before,
            "count_after": self.count_after,
            "count_delta": self.count_delta,
            "size_delta": self.size_delta,
            "retained_size": self.retained_size,
            "holder": self.holder.to_json() if self.holder is not None else None,
            "sites": [s.to_json() for s in self.sites],
            "sites_source": self.sites_source,
            "finding": self.finding,
        }


@dataclass(frozen=True)
class LeaksReport:
    """`leakscope leaks`: what grew over an interval, ranked so that objects only a suspect
    keeps alive count in its retained size and are not suspects of their own."""

    pid: int
    interval_s: float
    suspects: tuple[LeakSuspect, ...]
    sites_asked: bool = False
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "interval_s": self.interval_s,
            "sites_asked": self.sites_asked,
            "note": self.note,
            "suspects": [s.to_json() for s in self.suspects],
        }
