"""The page: sections, style, chart data and scripts in one self-contained HTML document.

Everything the page needs is inside it: the style sheet, the chart data (a
JSON block), Apache ECharts (vendored, see ``assets/echarts/SOURCE.md``) and
the page's own small script (``assets/report.js``: draws the charts from the
data, sorts tables). A Content-Security-Policy forbids every request, so the
page works from a ``file://`` URL and nothing it shows can reach the network.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from leakscope.client.report_contents import ReportContents
from leakscope.render.report import sections
from leakscope.render.report.markup import esc

#: Inline scripts and styles only; no request of any kind (images only as data: URLs).
CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data:; font-src data:"
)


@cache
def asset(name: str) -> str:
    """The text of one file under ``assets/`` (read once per process)."""
    return resources.files("leakscope.render.report").joinpath("assets", name).read_text("utf-8")


def script_text(code: str) -> str:
    """*code* made safe inside a ``<script>`` element (it cannot close the element early)."""
    return code.replace("</script", "<\\/script").replace("<!--", "<\\!--")


def json_text(data: Any) -> str:
    """*data* as JSON that cannot break out of its ``<script>`` element."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render(contents: ReportContents) -> str:
    """The whole HTML document of a report."""
    charts: sections.Charts = {}
    parts = [
        sections.glance(contents, charts),
        sections.growth(contents, charts),
        sections.suspects(contents, charts),
        sections.heap(contents, charts),
        sections.tracked(contents),
        sections.process(contents),
        sections.about(contents),
    ]
    nav = "".join(f'<a href="#{s.id}">{esc(s.title)}</a>' for s in parts if s.id != "glance")
    body = "".join(
        f'<section id="{s.id}"><h2>{esc(s.title)}</h2>{s.body}</section>'
        if s.id != "glance"
        else f'<section id="{s.id}" aria-label="{esc(s.title)}">{s.body}</section>'
        for s in parts
    )
    snap = contents.snapshot
    title = f"leakscope report: pid {snap.pid} {' '.join(snap.argv)[:80]}"
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="generator" content="leakscope">'
        '<link rel="icon" href="data:,">'
        f"<title>{esc(title)}</title>"
        f"<style>{asset('report.css')}</style></head><body>"
        f"{sections.header(contents)}<nav>{nav}</nav><main>{body}</main>"
        f'<script type="application/json" id="report-data">{json_text({"charts": charts})}'
        "</script>"
        f"<script>{script_text(asset('echarts/echarts.min.js'))}</script>"
        f"<script>{script_text(asset('report.js'))}</script>"
        "</body></html>\n"
    )
