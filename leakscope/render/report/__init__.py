"""The HTML report (`leakscope report`): one self-contained page a user can attach to a ticket.

    from leakscope.client.report_contents import gather
    from leakscope.render.report import render
    html = render(gather(files=(), connector=Connector(), pid=4242))

The input is a `leakscope.client.report_contents.ReportContents` (typed answers,
bundled); nothing here gathers or computes. `sections` turns each part into HTML
and chart data, `markup` holds the small HTML pieces (escaping, units, sortable
tables), and `page` puts it together with the style sheet, Apache ECharts
(vendored under ``assets/echarts``, with its licenses and ``SOURCE.md``) and the
page's script.

Cost: a few tens of milliseconds for an hour of history; the page weighs
about 1.2 MB, 1.1 MB of it ECharts (``bench/bench_report.py`` measures both).
Only `leakscope report` imports this package.
"""

from __future__ import annotations

from leakscope.render.report.page import render

__all__ = ["render"]
