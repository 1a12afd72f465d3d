"""Typed answers on the client side, and their one JSON form.

The agent answers with plain JSON; the client turns each answer into one of
these frozen dataclasses once (``from_json``), and renderers, ``--json``,
snapshot files and the analysis read only these, so a new view never needs a
new query and nothing outside this package reads the target's key names.
``to_json`` is the documented, stable shape of each command's ``--json``
output (README, "JSON shapes"): keys may be added, none removed.

``from_json`` refuses a malformed document with `MalformedReport` (a
`ValueError` naming the field); callers turn it into the error of their
context (an unreadable snapshot file, an incompatible agent).

One module per subject: `processes`, `liverefs`, `heap`, `memory`, `history`,
`snapshots`, `multi`, `leaks` (and `fields`, the readers). Import the names from
here; a module is loaded on first use of one of its names, because defining a
frozen dataclass costs about a millisecond and a command needs only a few of them
(``leakscope prefs`` starts in about 150 ms).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from leakscope.client.reports.fields import MalformedReport
    from leakscope.client.reports.heap import HeapReport, HeapRow
    from leakscope.client.reports.history import HistoryReport, HistoryTable
    from leakscope.client.reports.leaks import (
        LeakHolder,
        LeakSite,
        LeaksReport,
        LeakSuspect,
        RetainedReport,
        RetainedRow,
    )
    from leakscope.client.reports.liverefs import (
        ObjectInfo,
        ObjectsReport,
        PathEdge,
        PrefsReport,
        PrefsRow,
        RetentionPath,
        SitesReport,
    )
    from leakscope.client.reports.memory import (
        MallocFigures,
        MemoryAnswer,
        MemoryFigures,
        MemoryReport,
        MemorySample,
        PymallocFigures,
        TrimResult,
        Verdict,
    )
    from leakscope.client.reports.multi import (
        MultiDiff,
        MultiDiffRow,
        MultiHeap,
        MultiHeapRow,
        MultiMemory,
        MultiPrefs,
        MultiPrefsRow,
    )
    from leakscope.client.reports.processes import (
        AgentInfo,
        AgentList,
        AttachResult,
        Hello,
        TrackAnswer,
    )
    from leakscope.client.reports.snapshots import DiffReport, DiffRow, HeapDiffRow, Side, Snapshot

#: Every public name, and the module that defines it.
_WHERE: dict[str, str] = {
    "AgentInfo": "processes",
    "AgentList": "processes",
    "AttachResult": "processes",
    "DiffReport": "snapshots",
    "DiffRow": "snapshots",
    "HeapDiffRow": "snapshots",
    "HeapReport": "heap",
    "HeapRow": "heap",
    "Hello": "processes",
    "HistoryReport": "history",
    "HistoryTable": "history",
    "LeakHolder": "leaks",
    "LeakSite": "leaks",
    "LeakSuspect": "leaks",
    "LeaksReport": "leaks",
    "MalformedReport": "fields",
    "MallocFigures": "memory",
    "MemoryAnswer": "memory",
    "MemoryFigures": "memory",
    "MemoryReport": "memory",
    "MemorySample": "memory",
    "MultiDiff": "multi",
    "MultiDiffRow": "multi",
    "MultiHeap": "multi",
    "MultiHeapRow": "multi",
    "MultiMemory": "multi",
    "MultiPrefs": "multi",
    "MultiPrefsRow": "multi",
    "ObjectInfo": "liverefs",
    "ObjectsReport": "liverefs",
    "PathEdge": "liverefs",
    "PrefsReport": "liverefs",
    "PrefsRow": "liverefs",
    "PymallocFigures": "memory",
    "RetainedReport": "leaks",
    "RetainedRow": "leaks",
    "RetentionPath": "liverefs",
    "Side": "snapshots",
    "SitesReport": "liverefs",
    "Snapshot": "snapshots",
    "TrackAnswer": "processes",
    "TrimResult": "memory",
    "Verdict": "memory",
}

__all__ = [
    "AgentInfo",
    "AgentList",
    "AttachResult",
    "DiffReport",
    "DiffRow",
    "HeapDiffRow",
    "HeapReport",
    "HeapRow",
    "Hello",
    "HistoryReport",
    "HistoryTable",
    "LeakHolder",
    "LeakSite",
    "LeakSuspect",
    "LeaksReport",
    "MalformedReport",
    "MallocFigures",
    "MemoryAnswer",
    "MemoryFigures",
    "MemoryReport",
    "MemorySample",
    "MultiDiff",
    "MultiDiffRow",
    "MultiHeap",
    "MultiHeapRow",
    "MultiMemory",
    "MultiPrefs",
    "MultiPrefsRow",
    "ObjectInfo",
    "ObjectsReport",
    "PathEdge",
    "PrefsReport",
    "PrefsRow",
    "PymallocFigures",
    "RetainedReport",
    "RetainedRow",
    "RetentionPath",
    "Side",
    "SitesReport",
    "Snapshot",
    "TrackAnswer",
    "TrimResult",
    "Verdict",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # the next lookup is a plain one
    return value
