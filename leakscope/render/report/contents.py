"""What a report is made of: typed answers, bundled, and the interface of the leak sections.

`ReportContents` is the renderer's one input. The command fills it from a live
process (`Client` calls) or from snapshot files; the renderer reads nothing
else, so the page is the same whatever the source.

Leak suspects and retained sizes come from the heap dumps of ``leakscope leaks``
and ``leakscope retained``. Their sections read the small read-only interfaces
below, not those commands' classes: `leakscope.client.reports.LeaksReport` fits
`LeakSuspects` as it is; a retained-size treemap needs the objects nested as in
the dominator tree (`RetainedSizes`), which ``leakscope report`` builds from
the dump (``RetainedReport`` lists them flat). A missing part (no holder, no
creation sites) is said in words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from leakscope.client.reports import DiffReport, Hello, HistoryTable, RetentionPath, Snapshot

# -- leak suspects (`leakscope leaks`) -------------------------------------------------


class SuspectSite(Protocol):
    """Where instances of a suspect were made (and are still alive)."""

    @property
    def site(self) -> str: ...  # "app.py:42"

    @property
    def function(self) -> str: ...

    @property
    def count(self) -> int: ...  # live instances made there


class SuspectHolder(Protocol):
    """The accumulation point: the object that keeps most of a suspect's new instances alive."""

    @property
    def type(self) -> str: ...

    @property
    def id(self) -> int: ...

    @property
    def path(self) -> RetentionPath | None: ...  # from a root to the holder

    @property
    def retained_size(self) -> int: ...  # bytes

    @property
    def retained_count(self) -> int: ...  # objects

    @property
    def share(self) -> float: ...  # of the suspect's new instances it holds, 0 to 1


class LeakSuspect(Protocol):
    """One class (or type) that grows, what holds it and where it is made."""

    @property
    def kind(self) -> str: ...

    @property
    def count_before(self) -> int: ...

    @property
    def count_after(self) -> int: ...

    @property
    def count_delta(self) -> int: ...

    @property
    def size_delta(self) -> int: ...  # bytes

    @property
    def holder(self) -> SuspectHolder | None: ...

    @property
    def sites(self) -> Sequence[SuspectSite]: ...

    @property
    def finding(self) -> str: ...  # one line in plain words


class LeakSuspects(Protocol):
    """The suspects found over an interval, most likely first."""

    @property
    def pid(self) -> int: ...

    @property
    def interval_s(self) -> float: ...

    @property
    def suspects(self) -> Sequence[LeakSuspect]: ...

    @property
    def sites_asked(self) -> bool: ...  # were creation sites recorded over the interval

    @property
    def note(self) -> str | None: ...  # anything the finder needs said


# -- retained sizes (`leakscope retained`) ---------------------------------------------


class RetainedNode(Protocol):
    """An object of the dominator tree: what it keeps alive, and the biggest objects it dominates.

    ``children`` are dominated by this node and do not overlap one another, so a
    treemap can nest them inside it (the rest of its retained size is drawn as
    its own area). Leave them empty for a flat list of disjoint objects.
    """

    @property
    def type(self) -> str: ...

    @property
    def id(self) -> int: ...

    @property
    def size(self) -> int: ...  # shallow, bytes

    @property
    def retained_size(self) -> int: ...  # bytes

    @property
    def retained_count(self) -> int: ...  # objects

    @property
    def children(self) -> Sequence[RetainedNode]: ...


class RetainedSizes(Protocol):
    """The top of the dominator tree of a heap (pruned to its biggest objects)."""

    @property
    def pid(self) -> int: ...

    @property
    def total_count(self) -> int: ...

    @property
    def total_size(self) -> int: ...

    @property
    def roots(self) -> Sequence[RetainedNode]: ...


@dataclass(frozen=True)
class RetainedObject:
    """A `RetainedNode` as ``leakscope report`` builds it from a heap dump."""

    type: str
    id: int
    size: int
    retained_size: int
    retained_count: int
    children: tuple[RetainedObject, ...] = ()


@dataclass(frozen=True)
class RetainedTree:
    """`RetainedSizes` as ``leakscope report`` builds it from a heap dump."""

    pid: int
    total_count: int
    total_size: int
    roots: tuple[RetainedObject, ...]


# -- the report -------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportContents:
    """Everything one report shows, as typed answers."""

    made: float  # when the report was made (seconds since the epoch)
    command: str  # the command line that made it
    snapshot: Snapshot  # the newest state: live refs (and groups), memory, heap census
    hello: Hello | None = None  # live reports: the agent's handshake (uptime, executable)
    files: tuple[str, ...] = ()  # reports from snapshot files: the files read
    history: HistoryTable | None = None
    history_note: str | None = None  # why there is no history, when there is none
    interval_s: float | None = None  # --interval, when given
    growth: DiffReport | None = None  # over --interval, or from the oldest file to the newest
    suspects: LeakSuspects | None = None
    suspects_note: str | None = None  # why there are no suspects, when the command knows
    retained: RetainedSizes | None = None
    collect_s: float | None = None  # how long collecting the data took
