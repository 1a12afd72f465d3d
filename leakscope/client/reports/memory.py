"""The memory picture (``memory``): process and allocator figures, history samples, the verdict."""

from __future__ import annotations

from collections.abc import Mapping
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
class PymallocFigures:
    """pymalloc's arenas: how many and how full."""

    arenas_in_use: int
    arena_size: int
    arena_bytes: int
    used_bytes: int
    free_bytes_in_arenas: int
    utilisation: float
    blocks_in_use: int
    arenas_total: int | None = None
    arenas_reclaimed: int | None = None
    arenas_highwater: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PymallocFigures:
        return cls(
            arenas_in_use=as_int(need(data, "arenas_in_use"), "arenas_in_use"),
            arena_size=as_int(need(data, "arena_size"), "arena_size"),
            arena_bytes=as_int(need(data, "arena_bytes"), "arena_bytes"),
            used_bytes=as_int(need(data, "used_bytes"), "used_bytes"),
            free_bytes_in_arenas=as_int(need(data, "free_bytes_in_arenas"), "free_bytes_in_arenas"),
            utilisation=as_float(need(data, "utilisation"), "utilisation"),
            blocks_in_use=as_int(need(data, "blocks_in_use"), "blocks_in_use"),
            arenas_total=opt_int(data.get("arenas_total"), "arenas_total"),
            arenas_reclaimed=opt_int(data.get("arenas_reclaimed"), "arenas_reclaimed"),
            arenas_highwater=opt_int(data.get("arenas_highwater"), "arenas_highwater"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "arenas_total": self.arenas_total,
            "arenas_reclaimed": self.arenas_reclaimed,
            "arenas_highwater": self.arenas_highwater,
            "arenas_in_use": self.arenas_in_use,
            "arena_size": self.arena_size,
            "arena_bytes": self.arena_bytes,
            "used_bytes": self.used_bytes,
            "free_bytes_in_arenas": self.free_bytes_in_arenas,
            "utilisation": self.utilisation,
            "blocks_in_use": self.blocks_in_use,
        }


@dataclass(frozen=True)
class MallocFigures:
    """glibc's heap (mallinfo2): in use, free but held, mmapped, and what a trim could return."""

    arena: int
    in_use: int
    free_held: int
    top_releasable: int
    mmap: int
    releasable: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MallocFigures:
        return cls(
            arena=as_int(need(data, "arena"), "arena"),
            in_use=as_int(need(data, "in_use"), "in_use"),
            free_held=as_int(need(data, "free_held"), "free_held"),
            top_releasable=as_int(data.get("top_releasable", 0), "top_releasable"),
            mmap=as_int(need(data, "mmap"), "mmap"),
            releasable=opt_int(data.get("releasable"), "releasable"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "arena": self.arena,
            "in_use": self.in_use,
            "free_held": self.free_held,
            "top_releasable": self.top_releasable,
            "mmap": self.mmap,
            "releasable": self.releasable,
        }


@dataclass(frozen=True)
class MemoryFigures:
    """Process and allocator figures, in bytes; None for what could not be had."""

    rss: int | None = None
    uss: int | None = None
    swap: int | None = None
    allocated_blocks: int | None = None
    traced_current: int | None = None
    traced_peak: int | None = None
    pymalloc: PymallocFigures | None = None
    malloc: MallocFigures | None = None
    python_objects_bytes: int | None = None
    python_objects_source: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MemoryFigures:
        traced = data.get("tracemalloc")
        traced = as_mapping(traced, "tracemalloc") if traced is not None else {}
        pymalloc, malloc = data.get("pymalloc"), data.get("malloc")
        return cls(
            rss=opt_int(data.get("rss"), "rss"),
            uss=opt_int(data.get("uss"), "uss"),
            swap=opt_int(data.get("swap"), "swap"),
            allocated_blocks=opt_int(data.get("allocated_blocks"), "allocated_blocks"),
            traced_current=opt_int(traced.get("current"), "tracemalloc current"),
            traced_peak=opt_int(traced.get("peak"), "tracemalloc peak"),
            pymalloc=PymallocFigures.from_json(as_mapping(pymalloc, "pymalloc"))
            if pymalloc
            else None,
            malloc=MallocFigures.from_json(as_mapping(malloc, "malloc")) if malloc else None,
            python_objects_bytes=opt_int(data.get("python_objects_bytes"), "python objects"),
            python_objects_source=opt_str(data.get("python_objects_source"), "source"),
        )

    def to_json(self) -> dict[str, Any]:
        traced = None
        if self.traced_current is not None:
            traced = {"current": self.traced_current, "peak": self.traced_peak}
        return {
            "rss": self.rss,
            "uss": self.uss,
            "swap": self.swap,
            "allocated_blocks": self.allocated_blocks,
            "tracemalloc": traced,
            "pymalloc": self.pymalloc.to_json() if self.pymalloc else None,
            "malloc": self.malloc.to_json() if self.malloc else None,
            "python_objects_bytes": self.python_objects_bytes,
            "python_objects_source": self.python_objects_source,
        }


_SAMPLE_FIELDS = (
    "rss",
    "uss",
    "allocated_blocks",
    "python_objects_bytes",
    "traced_bytes",
    "pymalloc_used",
    "pymalloc_free",
    "pymalloc_blocks",
    "malloc_in_use",
    "malloc_mmap",
    "malloc_free_held",
    "malloc_releasable",
)


@dataclass(frozen=True)
class MemorySample:
    """One history sample of the memory figures, flat (the agent keeps an hour of them)."""

    t: float
    rss: int | None = None
    uss: int | None = None
    allocated_blocks: int | None = None
    python_objects_bytes: int | None = None
    traced_bytes: int | None = None
    pymalloc_used: int | None = None
    pymalloc_free: int | None = None
    pymalloc_blocks: int | None = None
    malloc_in_use: int | None = None
    malloc_mmap: int | None = None
    malloc_free_held: int | None = None
    malloc_releasable: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MemorySample:
        values = {name: opt_int(data.get(name), name) for name in _SAMPLE_FIELDS}
        return cls(t=as_float(need(data, "t"), "t"), **values)

    @classmethod
    def of(cls, t: float, figures: MemoryFigures) -> MemorySample:
        """The sample that *figures* taken at *t* would make."""
        pm, ml = figures.pymalloc, figures.malloc
        return cls(
            t=t,
            rss=figures.rss,
            uss=figures.uss,
            allocated_blocks=figures.allocated_blocks,
            python_objects_bytes=figures.python_objects_bytes,
            traced_bytes=figures.traced_current,
            pymalloc_used=pm.used_bytes if pm else None,
            pymalloc_free=pm.free_bytes_in_arenas if pm else None,
            pymalloc_blocks=pm.blocks_in_use if pm else None,
            malloc_in_use=ml.in_use if ml else None,
            malloc_mmap=ml.mmap if ml else None,
            malloc_free_held=ml.free_held if ml else None,
            malloc_releasable=ml.releasable if ml else None,
        )

    def shifted(self, shift: Mapping[str, int]) -> MemorySample:
        """This sample with *shift* added to its figures (those it has)."""
        changes = {
            name: getattr(self, name) + shift[name]
            for name in _SAMPLE_FIELDS
            if name in shift and getattr(self, name) is not None
        }
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"t": self.t}
        out.update((name, getattr(self, name)) for name in _SAMPLE_FIELDS)
        return out


@dataclass(frozen=True)
class TrimResult:
    """``malloc_trim(0)`` in the target: RSS before and after."""

    supported: bool
    trimmed: bool
    rss_before: int | None
    rss_after: int | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrimResult:
        return cls(
            supported=bool(data.get("supported", True)),
            trimmed=bool(data.get("trimmed", False)),
            rss_before=opt_int(data.get("rss_before"), "rss_before"),
            rss_after=opt_int(data.get("rss_after"), "rss_after"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "supported": self.supported,
            "trimmed": self.trimmed,
            "rss_before": self.rss_before,
            "rss_after": self.rss_after,
        }


@dataclass(frozen=True)
class Verdict:
    """What the memory growth is, in plain words (`leakscope.client.analysis.verdict`)."""

    verdict: str  # live-objects | allocator-held | native | no-growth
    reason: str
    trim_may_help: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Verdict:
        return cls(
            verdict=as_str(need(data, "verdict"), "verdict"),
            reason=str(data.get("reason", "")),
            trim_may_help=bool(data.get("trim_may_help", False)),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "reason": self.reason,
            "trim_may_help": self.trim_may_help,
        }


@dataclass(frozen=True)
class MemoryAnswer:
    """What the agent says about memory: figures now, a trim, and its history's samples."""

    pid: int
    time: float
    figures: MemoryFigures
    trim: TrimResult | None
    samples: tuple[MemorySample, ...] = ()
    agent_loaded: float | None = None  # when the agent finished loading its own modules
    load_shift: dict[str, int] = field(default_factory=dict)  # what that loading added
    own_bytes: int = 0  # RSS the agent's own walks added (freed, but kept by the allocators)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MemoryAnswer:
        trim = data.get("trim")
        return cls(
            pid=as_int(need(data, "pid"), "pid"),
            time=as_float(data.get("time", 0.0), "time"),
            figures=MemoryFigures.from_json(as_mapping(need(data, "figures"), "figures")),
            trim=TrimResult.from_json(as_mapping(trim, "trim")) if trim is not None else None,
            samples=tuple(
                MemorySample.from_json(as_mapping(s, "a sample"))
                for s in as_list(data.get("samples", []), "samples")
            ),
            agent_loaded=opt_float(data.get("agent_loaded"), "agent_loaded"),
            load_shift={
                str(k): as_int(v, f"load_shift {k}")
                for k, v in as_mapping(data.get("load_shift") or {}, "load_shift").items()
            },
            own_bytes=as_int(data.get("own_bytes", 0), "own_bytes"),
        )


@dataclass(frozen=True)
class MemoryReport:
    """The memory picture of a process, with its verdict."""

    pid: int
    figures: MemoryFigures
    verdict: Verdict
    trim: TrimResult | None = None
    samples: tuple[MemorySample, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "verdict": self.verdict.verdict,
            "reason": self.verdict.reason,
            "trim_may_help": self.verdict.trim_may_help,
            "collected": False,
            "figures": self.figures.to_json(),
            "trim": self.trim.to_json() if self.trim else None,
            "samples": [s.to_json() for s in self.samples],
        }
