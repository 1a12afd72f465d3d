"""Typed answers on the client side, and their one JSON form.

The agent answers with plain JSON; the client turns each answer into one of
these frozen dataclasses once (``from_json``), and renderers, ``--json``,
snapshot files and the analysis read only these, so a new view never needs a
new query and nothing outside this module reads the target's key names.
``to_json`` is the documented, stable shape of each command's ``--json``
output (README, "JSON shapes"): keys may be added, none removed.

``from_json`` refuses a malformed document with `MalformedReport` (a
`ValueError` naming the field); callers turn it into the error of their
context (an unreadable snapshot file, an incompatible agent).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any


class MalformedReport(ValueError):
    """A document that does not have the shape of the report it should be."""


# -- reading fields -------------------------------------------------------------------


def _get(data: Mapping[str, Any], key: str) -> Any:
    try:
        return data[key]
    except (KeyError, TypeError):
        raise MalformedReport(f"missing {key!r}") from None


def _int(value: Any, what: str) -> int:
    if type(value) is bool or not isinstance(value, int):
        raise MalformedReport(f"{what} is not an integer: {value!r:.40}")
    return value


def _opt_int(value: Any, what: str) -> int | None:
    return None if value is None else _int(value, what)


def _num(value: Any, what: str) -> float:
    if type(value) is bool or not isinstance(value, (int, float)):
        raise MalformedReport(f"{what} is not a number: {value!r:.40}")
    return float(value)


def _opt_num(value: Any, what: str) -> float | None:
    return None if value is None else _num(value, what)


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise MalformedReport(f"{what} is not a string: {value!r:.40}")
    return value


def _opt_str(value: Any, what: str) -> str | None:
    return None if value is None else _str(value, what)


def _obj(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise MalformedReport(f"{what} is not an object")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise MalformedReport(f"{what} is not a list")
    return value


# -- processes and handshakes ---------------------------------------------------------


@dataclass(frozen=True)
class Hello:
    """An agent's handshake: who it is and what it runs."""

    protocol: int
    version: str
    pid: int
    ppid: int | None = None
    python: str = "?"
    executable: str = ""
    argv: tuple[str, ...] = ()
    started: float | None = None
    socket: str | None = None
    scrapy: bool = False
    sites: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Hello:
        return cls(
            protocol=_int(_get(data, "protocol"), "protocol"),
            version=str(data.get("version", "?")),
            pid=_int(_get(data, "pid"), "pid"),
            ppid=_opt_int(data.get("ppid"), "ppid"),
            python=str(data.get("python", "?")),
            executable=str(data.get("executable", "")),
            argv=tuple(str(a) for a in data.get("argv") or ()),
            started=_opt_num(data.get("started"), "started"),
            socket=_opt_str(data.get("socket"), "socket"),
            scrapy=bool(data.get("scrapy", False)),
            sites=bool(data.get("sites", False)),
        )


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
    def from_json(cls, data: Mapping[str, Any]) -> AgentInfo:
        ppid = data.get("ppid")
        return cls(
            pid=_int(_get(data, "pid"), "pid"),
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
class AttachResult:
    """The outcome of `attach` or `detach`, as shown to the user."""

    pid: int
    action: str  # "start" or "stop"
    via: str  # mechanism used, or "none" when nothing had to be done
    route: str  # "direct", "pending", "remote-exec" or "none"
    socket: str | None
    python: str | None
    seconds: float
    already: bool = False  # the agent was already running (attach) or absent (detach)
    warnings: tuple[str, ...] = ()
    tried: tuple[str, ...] = field(default=())  # mechanisms skipped, with the reason

    def to_json(self) -> dict[str, object]:
        return {
            "pid": self.pid,
            "action": self.action,
            "via": self.via,
            "route": self.route,
            "socket": self.socket,
            "python": self.python,
            "seconds": round(self.seconds, 3),
            "already": self.already,
            "warnings": list(self.warnings),
            "tried": list(self.tried),
        }


@dataclass(frozen=True)
class AgentList:
    """``leakscope ps``: the agents found, and socket directories refused as unsafe."""

    agents: tuple[AgentInfo, ...]
    refused: tuple[str, ...] = ()

    def to_json(self) -> list[dict[str, Any]]:
        return [a.to_json() for a in self.agents]


# -- live references ------------------------------------------------------------------


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
            cls=_str(_get(data, "class"), "class"),
            count=_int(_get(data, "count"), "count"),
            oldest_age_s=_opt_num(data.get("oldest_age_s"), "oldest_age_s"),
            source=str(data.get("source", "leakscope")),
            group=None if group is None else str(group),
            change_1m=_opt_int(data.get("change_1m"), "change_1m"),
            change_10m=_opt_int(data.get("change_10m"), "change_10m"),
            rate_per_min=_opt_num(data.get("rate_per_min"), "rate_per_min"),
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
            pid=_int(_get(data, "pid"), "pid"),
            time=_num(data.get("time", 0.0), "time"),
            rows=tuple(
                PrefsRow.from_json(_obj(r, "a row")) for r in _list(_get(data, "rows"), "rows")
            ),
            group_by=_opt_str(data.get("group_by"), "group_by"),
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


# -- objects and retention paths -------------------------------------------------------


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
            root=_opt_str(data.get("root"), "root"),
            edges=tuple(
                PathEdge.from_json(_obj(e, "an edge"))
                for e in _list(data.get("edges", []), "edges")
            ),
            elapsed_s=_opt_num(data.get("elapsed_s"), "elapsed_s"),
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
            cls=_str(_get(data, "class"), "class"),
            id=_int(_get(data, "id"), "id"),
            age_s=_opt_num(data.get("age_s"), "age_s"),
            repr=str(data.get("repr", "")),
            attrs={str(k): str(v) for k, v in _obj(data.get("attrs") or {}, "attrs").items()},
            why=RetentionPath.from_json(_obj(why, "why")) if why is not None else None,
            collected=bool(data.get("collected", False)),
            tracked=bool(data.get("tracked", True)),
            note=_opt_str(data.get("note"), "note"),
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
            query=_str(data["query"] if "query" in data else _get(data, "class"), "query"),
            total=_int(data.get("total", 0), "total"),
            objects=tuple(
                ObjectInfo.from_json(_obj(o, "an object"))
                for o in _list(data.get("objects", []), "objects")
            ),
            collected=bool(data.get("collected", False)),
            tracked=bool(data.get("tracked", True)),
            note=_opt_str(data.get("note"), "note"),
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


# -- the heap ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HeapRow:
    """One partition of the heap: a type, a via label, a module, a size bucket..."""

    kind: str
    count: int
    size: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HeapRow:
        return cls(
            kind=str(_get(data, "kind")),
            count=_int(_get(data, "count"), "count"),
            size=_int(data.get("size", 0), "size"),
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
            pid=_int(data.get("pid", 0), "pid"),
            partition=str(data.get("partition", "type")),
            of=_opt_str(data.get("of"), "of"),
            total_count=_int(data.get("total_count", 0), "total_count"),
            total_size=_int(data.get("total_size", 0), "total_size"),
            elapsed_s=_num(data.get("elapsed_s", 0.0), "elapsed_s"),
            max_pause_s=_num(data.get("max_pause_s", 0.0), "max_pause_s"),
            partial=bool(data.get("partial", False)),
            backend=str(data.get("backend", "builtin")),
            rows=tuple(
                HeapRow.from_json(_obj(r, "a heap row")) for r in _list(_get(data, "rows"), "rows")
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


# -- memory -----------------------------------------------------------------------------


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
            arenas_in_use=_int(_get(data, "arenas_in_use"), "arenas_in_use"),
            arena_size=_int(_get(data, "arena_size"), "arena_size"),
            arena_bytes=_int(_get(data, "arena_bytes"), "arena_bytes"),
            used_bytes=_int(_get(data, "used_bytes"), "used_bytes"),
            free_bytes_in_arenas=_int(_get(data, "free_bytes_in_arenas"), "free_bytes_in_arenas"),
            utilisation=_num(_get(data, "utilisation"), "utilisation"),
            blocks_in_use=_int(_get(data, "blocks_in_use"), "blocks_in_use"),
            arenas_total=_opt_int(data.get("arenas_total"), "arenas_total"),
            arenas_reclaimed=_opt_int(data.get("arenas_reclaimed"), "arenas_reclaimed"),
            arenas_highwater=_opt_int(data.get("arenas_highwater"), "arenas_highwater"),
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
            arena=_int(_get(data, "arena"), "arena"),
            in_use=_int(_get(data, "in_use"), "in_use"),
            free_held=_int(_get(data, "free_held"), "free_held"),
            top_releasable=_int(data.get("top_releasable", 0), "top_releasable"),
            mmap=_int(_get(data, "mmap"), "mmap"),
            releasable=_opt_int(data.get("releasable"), "releasable"),
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
        traced = _obj(traced, "tracemalloc") if traced is not None else {}
        pymalloc, malloc = data.get("pymalloc"), data.get("malloc")
        return cls(
            rss=_opt_int(data.get("rss"), "rss"),
            uss=_opt_int(data.get("uss"), "uss"),
            swap=_opt_int(data.get("swap"), "swap"),
            allocated_blocks=_opt_int(data.get("allocated_blocks"), "allocated_blocks"),
            traced_current=_opt_int(traced.get("current"), "tracemalloc current"),
            traced_peak=_opt_int(traced.get("peak"), "tracemalloc peak"),
            pymalloc=PymallocFigures.from_json(_obj(pymalloc, "pymalloc")) if pymalloc else None,
            malloc=MallocFigures.from_json(_obj(malloc, "malloc")) if malloc else None,
            python_objects_bytes=_opt_int(data.get("python_objects_bytes"), "python objects"),
            python_objects_source=_opt_str(data.get("python_objects_source"), "source"),
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
        values = {name: _opt_int(data.get(name), name) for name in _SAMPLE_FIELDS}
        return cls(t=_num(_get(data, "t"), "t"), **values)

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
            rss_before=_opt_int(data.get("rss_before"), "rss_before"),
            rss_after=_opt_int(data.get("rss_after"), "rss_after"),
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
            verdict=_str(_get(data, "verdict"), "verdict"),
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
            pid=_int(_get(data, "pid"), "pid"),
            time=_num(data.get("time", 0.0), "time"),
            figures=MemoryFigures.from_json(_obj(_get(data, "figures"), "figures")),
            trim=TrimResult.from_json(_obj(trim, "trim")) if trim is not None else None,
            samples=tuple(
                MemorySample.from_json(_obj(s, "a sample"))
                for s in _list(data.get("samples", []), "samples")
            ),
            agent_loaded=_opt_num(data.get("agent_loaded"), "agent_loaded"),
            load_shift={
                str(k): _int(v, f"load_shift {k}")
                for k, v in _obj(data.get("load_shift") or {}, "load_shift").items()
            },
            own_bytes=_int(data.get("own_bytes", 0), "own_bytes"),
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


# -- history and sites --------------------------------------------------------------


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
        for item in _list(_get(data, "samples"), "samples"):
            item = _obj(item, "a sample")
            samples.append((_num(_get(item, "t"), "t"), _int(_get(item, "count"), "count")))
        return cls(
            pid=_int(_get(data, "pid"), "pid"),
            cls=_str(_get(data, "class"), "class"),
            samples=tuple(samples),
            interval_s=_opt_num(data.get("interval_s"), "interval_s"),
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
        for item in _list(_get(data, "samples"), "samples"):
            item = _obj(item, "a sample")
            memory.append(MemorySample.from_json(item))
            counts = _obj(item.get("counts") or {}, "counts")
            per_sample.append({str(k): _int(v, f"count of {k}") for k, v in counts.items()})
        return cls(
            pid=_int(_get(data, "pid"), "pid"),
            memory=tuple(memory),
            counts=_columns(per_sample),
            interval_s=_opt_num(data.get("interval_s"), "interval_s"),
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


@dataclass(frozen=True)
class SitesReport:
    """Whether creation sites are recorded in a process."""

    pid: int
    sites: bool

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SitesReport:
        return cls(pid=_int(_get(data, "pid"), "pid"), sites=bool(_get(data, "sites")))

    def to_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "sites": self.sites}


# -- snapshots and diffs ----------------------------------------------------------------


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


# -- several processes ------------------------------------------------------------------


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


# -- retained sizes and leak suspects (computed in the shell from heap dumps) -----------------


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


@dataclass(frozen=True)
class TrackAnswer:
    """`leakscope track` / `untrack`: the class and whether it is tracked now."""

    pid: int
    cls: str
    tracked: bool
    already: bool = False
    sites: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrackAnswer:
        return cls(
            pid=_int(data.get("pid", 0), "pid"),
            cls=_str(_get(data, "class"), "class"),
            tracked=bool(data.get("tracked", False)),
            already=bool(data.get("already", False)),
            sites=bool(data.get("sites", False)),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "class": self.cls,
            "tracked": self.tracked,
            "already": self.already,
            "sites": self.sites,
        }
