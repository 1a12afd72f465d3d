"""The HTML report (`leakscope report`): one self-contained page a user can attach to a ticket.

    from leakscope.render.report import ReportContents, render
    html = render(ReportContents(made=time.time(), command="...", snapshot=snap, ...))

`contents` defines the input (typed answers bundled, and the interfaces the leak
sections read), `sections` turns each part into HTML and chart data, `markup`
holds the small HTML pieces (escaping, units, sortable tables), and `page`
puts it together with the style sheet, Apache ECharts (vendored under
``assets/echarts``, with its licenses and ``SOURCE.md``) and the page's script.

Cost: a few tens of milliseconds for an hour of history; the page weighs
about 1.2 MB, 1.1 MB of it ECharts (``bench/bench_report.py`` measures both).
Only `leakscope report` imports this package.
"""

from __future__ import annotations

from leakscope.render.report.contents import (
    LeakSuspect,
    LeakSuspects,
    ReportContents,
    RetainedNode,
    RetainedObject,
    RetainedSizes,
    RetainedTree,
    SuspectHolder,
    SuspectSite,
)
from leakscope.render.report.page import render

__all__ = [
    "LeakSuspect",
    "LeakSuspects",
    "ReportContents",
    "RetainedNode",
    "RetainedObject",
    "RetainedSizes",
    "RetainedTree",
    "SuspectHolder",
    "SuspectSite",
    "render",
]
