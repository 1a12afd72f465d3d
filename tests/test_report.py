"""`leakscope report`: the HTML page from a live process and from snapshot files, its options and
failures, its size and speed; the typed whole-history call it reads.

The page is opened in a real browser by tests/test_report_browser.py; here it is read as text.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from leakscope.client.errors import ExitCode
from leakscope.client.reports import (
    HeapReport,
    HeapRow,
    HistoryTable,
    MemoryFigures,
    MemoryReport,
    MemorySample,
    PrefsReport,
    PrefsRow,
    Snapshot,
    Verdict,
)
from tests.conftest import REPO, Target, run_cli, start_target

#: A leaking app: AuditEvent objects (a plain class, tracked with track()) pile up in
#: ``audit.pending``; Session objects come and go; three objects of a class whose name is
#: markup check that the page escapes what a process tells it.
LEAKY_APP = """\
import os
import signal
import sys
import threading

os.environ.setdefault("LEAKSCOPE_HISTORY_INTERVAL", "0.2")

import leakscope.agent  # noqa: E402
from leakscope.trackref import object_ref, track  # noqa: E402


@track
class AuditEvent:
    def __init__(self, n):
        self.n = n
        self.detail = {"n": n, "text": f"event {n} " + "x" * 100}


class Session(object_ref):
    pass


Hostile = type(HOSTILE_NAME, (object_ref,), {})


class _Audit:
    def __init__(self):
        self.pending = []


audit = _Audit()
KEEP = [Hostile() for _ in range(3)]
SESSIONS = []


def leak(stop):
    n = 0
    while not stop.is_set():
        audit.pending.extend(AuditEvent(n + i) for i in range(20))
        SESSIONS[:] = [Session() for _ in range(5)]
        n += 20
        stop.wait(0.1)


def main():
    path = leakscope.agent.start()
    stop = threading.Event()
    threading.Thread(target=leak, args=(stop,), daemon=True).start()
    print(path, flush=True)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    sys.stdin.read()
    stop.set()


main()
"""

#: A class name that would load an image (and run script) if a page did not escape it.
HOSTILE_NAME = '<img src="x.png" onerror="alert(1)">'
LEAKING_CLASS = "__main__.AuditEvent"


def start_leaky_app(directory: Path, env: dict[str, str] | None = None) -> Target:
    """Start the leaking app (its agent up, history sampling every 0.2 s)."""
    script = directory / "leaky_app.py"
    script.write_text(LEAKY_APP.replace("HOSTILE_NAME", repr(HOSTILE_NAME)))
    return start_target(script, env=env)


@pytest.fixture
def leaky(tmp_path: Path, socket_dir: Path):
    target = start_leaky_app(tmp_path)
    time.sleep(1.5)  # a few history samples, and something grown
    yield target
    target.stop()


class _Loads(HTMLParser):
    """The tags of a page and what in them would make a browser fetch something."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.loads: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "action", "poster", "data") and not (
                value or ""
            ).startswith(("#", "data:")):
                self.loads.append(f"<{tag} {name}={value}>")
            if name == "style" and "url(" in (value or ""):
                self.loads.append(f"<{tag} style={value}>")


def _attributes_that_load(page: str) -> list[str]:
    """What in the page's markup would make the browser fetch something."""
    parser = _Loads()
    parser.feed(page)
    assert "img" not in parser.tags and "iframe" not in parser.tags
    css = re.findall(r"<style>(.*?)</style>", page, flags=re.S)
    return parser.loads + [u for c in css for u in re.findall(r"url\(([^)]*)\)", c)]


def _report(*args: str) -> dict:
    result = run_cli("report", *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# -- a live process ----------------------------------------------------------------------


@pytest.mark.slow
def test_live_report_is_one_self_contained_page(leaky, tmp_path):
    out = tmp_path / "report.html"
    info = _report("--pid", str(leaky.pid), "-o", str(out))
    page = out.read_text()
    assert info["file"] == str(out) and info["pid"] == leaky.pid
    assert info["bytes"] == len(page.encode()) < 3 * 1024 * 1024
    assert info["render_s"] < 2.0
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    # Everything inline: no script, style, font or image is fetched, and the policy forbids it.
    assert "default-src 'none'" in page
    assert _attributes_that_load(page) == []
    assert "<script src" not in page and '<link rel="stylesheet"' not in page
    assert page.count("Apache ECharts") >= 1 and "echarts" in page
    # The process, and what grows.
    assert f"pid {leaky.pid}" in page and "leaky_app.py" in page
    assert LEAKING_CLASS in page
    data = json.loads(
        re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page).group(1)
    )
    charts = data["charts"]
    assert {"grower", "growth", "memory", "heap"} <= set(charts)
    assert charts["growth"]["series"][0]["name"] == LEAKING_CLASS
    assert charts["growth"]["series"][0]["shown"] is True
    counts = charts["grower"]["series"][0]["data"]
    assert counts[-1] > counts[0]
    assert charts["heap"]["rows"] and all(r["value"] > 0 for r in charts["heap"]["rows"])
    # Every table sortable, every number with its unit.
    assert page.count('<table class="sortable"') >= 3
    assert re.search(r">\d[\d,]* objects<", page)
    assert re.search(r">\d+(\.\d)? (B|KiB|MiB)<", page)


@pytest.mark.slow
def test_hostile_class_names_are_escaped(leaky, tmp_path):
    out = tmp_path / "report.html"
    _report("--pid", str(leaky.pid), "-o", str(out))
    page = out.read_text()
    assert HOSTILE_NAME not in page  # neither as markup nor raw in the JSON data
    assert "&lt;img src=&quot;x.png&quot; onerror=&quot;alert(1)&quot;&gt;" in page
    assert '\\u003cimg src=\\"x.png\\"' in page


@pytest.mark.slow
def test_interval_shows_what_grew_in_between(leaky, tmp_path):
    out = tmp_path / "report.html"
    info = _report("--pid", str(leaky.pid), "-o", str(out), "--interval", "1")
    assert info["collect_s"] >= 1.0
    page = out.read_text()
    assert 'id="table-diff"' in page and 'id="table-heap-diff"' in page
    assert "What the heap gained, by type" in page
    # The diff table's first row is the leaking class, with its growth in objects.
    first = re.search(r'id="table-diff">.*?<tbody><tr><td data-v="([^"]*)"', page).group(1)
    assert first == LEAKING_CLASS


@pytest.mark.slow
def test_interval_without_the_analysis_extra(leaky, tmp_path):
    # igraph that cannot be imported: the page is made, and says what is missing.
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "igraph.py").write_text("raise ImportError('no igraph here', name='igraph')\n")
    out = tmp_path / "report.html"
    result = run_cli(
        "report", "--pid", str(leaky.pid), "-o", str(out), "--interval", "0.5", "--no-heap",
        env={"PYTHONPATH": f"{shadow}{os.pathsep}{REPO}"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    page = out.read_text()
    assert "No leak suspects or retained sizes: this command needs numpy and igraph" in page
    assert "leakscope[analysis]" in page and 'id="table-diff"' in page


def test_no_heap_and_history_off(tmp_path, socket_dir):
    target = start_leaky_app(tmp_path, env={"LEAKSCOPE_HISTORY_INTERVAL": "0"})
    try:
        out = tmp_path / "report.html"
        _report("--pid", str(target.pid), "-o", str(out), "--no-heap")
        page = out.read_text()
    finally:
        target.stop()
    assert "No history: history is off in this process" in page
    assert "No heap census in this report" in page
    assert 'id="table-tracked"' in page and LEAKING_CLASS in page


@pytest.mark.slow
def test_default_name_stdout_and_open(leaky, tmp_path):
    # No -o: a file named after the process and the time, in the current directory.
    result = subprocess.run(
        [sys.executable, "-m", "leakscope", "report", "--pid", str(leaky.pid), "--no-heap"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    made = list(tmp_path.glob(f"leakscope-report-{leaky.pid}-*.html"))
    assert len(made) == 1 and made[0].name in result.stdout
    assert "data collected in" in result.stdout and "page written in" in result.stdout
    # -o -: the page on standard output, nothing else.
    result = run_cli("report", "--pid", str(leaky.pid), "--no-heap", "-o", "-")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("<!doctype html>") and result.stdout.rstrip().endswith(
        "</html>"
    )
    # --open: the webbrowser module runs $BROWSER with the file's URL.
    seen = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\nprintf "%s" "$1" > {seen}\n')
    browser.chmod(0o755)
    out = tmp_path / "open me.html"
    result = run_cli(
        "report",
        "--pid",
        str(leaky.pid),
        "--no-heap",
        "-o",
        str(out),
        "--open",
        env={"BROWSER": f"{browser} %s"},
    )
    assert result.returncode == 0, result.stderr
    deadline = time.monotonic() + 10
    while not seen.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert seen.read_text() == out.resolve().as_uri()


# -- snapshot files ----------------------------------------------------------------------


@pytest.mark.slow
def test_report_from_snapshot_files(leaky, tmp_path):
    files = []
    for name in ("a.json", "b.json", "c.json"):
        path = tmp_path / name
        result = run_cli("snapshot", "--pid", str(leaky.pid), "-o", str(path), "--heap")
        assert result.returncode == 0, result.stderr
        files.append(str(path))
        time.sleep(0.5)
    leaky.stop()  # the report needs no process
    out = tmp_path / "offline.html"
    # Given newest first: the report puts them in time order.
    info = _report(files[2], files[0], files[1], "-o", str(out))
    assert info["pid"] == leaky.pid and info["render_s"] < 2.0
    page = out.read_text()
    assert "from 3 files (snapshots, dumps)" in page and "uptime not recorded" in page
    data = json.loads(
        re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page).group(1)
    )
    growth = data["charts"]["growth"]
    assert len(growth["t"]) == 3 and growth["t"] == sorted(growth["t"])
    assert growth["series"][0]["name"] == LEAKING_CLASS
    assert growth["series"][0]["data"] == sorted(growth["series"][0]["data"])
    assert 'id="table-diff"' in page and 'id="table-heap"' in page


@pytest.mark.slow
def test_report_from_heap_dumps(target_factory, tmp_path):
    target = target_factory("leaky")  # tests/targets/leaky.py: AuditEvent piles up, untracked
    a, b, snap = tmp_path / "a.dump", tmp_path / "b.dump", tmp_path / "s.json"
    for path, what in ((a, "dump"), (snap, "snapshot"), (b, "dump")):
        result = run_cli(what, "--pid", str(target.pid), "-o", str(path))
        assert result.returncode == 0, result.stderr
        time.sleep(1.0)
    target.stop()
    out = tmp_path / "from-dumps.html"
    info = _report(str(b), str(snap), str(a), "-o", str(out))
    assert info["render_s"] < 2.0
    page = out.read_text()
    charts = json.loads(
        re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page).group(1)
    )["charts"]
    # The suspect between the two dumps, its holder's path, and the newest dump's retainers.
    first = re.search(r'<article class="suspect-detail" id="suspect-1"><h3><span class="cls">'
                      r"([^<]*)</span>", page)  # fmt: skip
    assert first.group(1) == "__main__.AuditEvent"
    assert "module __main__ → .audit → __main__._Audit → .pending → list" in page
    assert [n["name"] for n in charts["path-1"]["nodes"]] == [
        "module __main__",
        "__main__._Audit",
        "list",
    ]
    assert charts["retained"]["tree"] and 'id="table-retained"' in page
    # The snapshot's memory picture; the heap by type from the newest dump (the snapshot has none).
    assert 'class="verdict' in page and 'id="table-heap"' in page
    assert "dump census" in page


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("{snap}", "--pid", "1"), ExitCode.USAGE, "not both"),
        (("{snap}", "--interval", "5"), ExitCode.USAGE, "drop the files"),
        (("{snap}", "--no-heap"), ExitCode.USAGE, "not to files"),
        (("--sites",), ExitCode.USAGE, "give it"),
        (("{snap}", "-o", "-", "--open"), ExitCode.USAGE, "--open needs a file"),
        (("{snap}", "-o", "-", "--json"), ExitCode.USAGE, "drop --json"),
        (("{snap}", "-o", "{tmp}/no/such/dir/r.html"), ExitCode.CANNOT_WRITE, "does not exist"),
        (("{snap}", "-o", "{tmp}"), ExitCode.USAGE, "is a directory"),
        (("{tmp}/missing.json",), ExitCode.BAD_SNAPSHOT, "no such file"),
        (("{bad}",), ExitCode.BAD_SNAPSHOT, "not JSON"),
        (("{cut}",), ExitCode.BAD_SNAPSHOT, "truncated leakscope dump"),
        (("--interval", "0"), ExitCode.USAGE, "not between"),
    ],
)
def test_bad_input(tmp_path, socket_dir, args, code, words):
    snap = tmp_path / "s.json"
    snap.write_text(json.dumps(_snapshot_document()))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    cut = tmp_path / "cut.dump"
    cut.write_bytes(b"LEAKSCOPE-DUMP\n\x10")
    given = [a.format(snap=snap, tmp=tmp_path, bad=bad, cut=cut) for a in args]
    result = run_cli("report", *given)
    assert result.returncode == code, result.stderr
    assert words in result.stderr and result.stderr.count("\n") == 1
    assert not list(tmp_path.glob("*.html")) and not list(tmp_path.glob(".*.tmp"))


def _snapshot_document() -> dict:
    return {
        "leakscope_snapshot": 1,
        "leakscope_version": "0.1.0",
        "time": 1_796_000_000.0,
        "pid": 4242,
        "argv": ["python", "app.py"],
        "python": "3.11.7",
        "host": "box",
        "prefs": {"rows": [{"class": "app.Page", "count": 10, "oldest_age_s": 5.0}]},
    }


# -- the page from typed answers (no process) ----------------------------------------------


def _hour_of_history(classes: int, samples: int = 720) -> HistoryTable:
    """What an agent keeps after an hour at the default 5 s: *samples* samples of *classes*."""
    t0 = 1_796_000_000.0
    memory = tuple(
        MemorySample(t=t0 + 5 * i, rss=200_000_000 + 50_000 * i, python_objects_bytes=90_000_000)
        for i in range(samples)
    )
    counts = {
        f"app.models.Class{c:03d}": tuple(1000 + c + (i * c) // 10 for i in range(samples))
        for c in range(classes)
    }
    return HistoryTable(pid=4242, memory=memory, counts=counts, interval_s=5.0)


def _contents(history: HistoryTable, types: int = 2000):
    from leakscope.client.report_contents import ReportContents

    rows = tuple(
        PrefsRow(cls=name, count=c[-1], oldest_age_s=3600.0, source="leakscope", rate_per_min=1.0)
        for name, c in history.counts.items()
    )
    heap = HeapReport(
        pid=4242,
        partition="type",
        of=None,
        total_count=5_000_000,
        total_size=400_000_000,
        elapsed_s=3.0,
        max_pause_s=0.01,
        partial=False,
        backend="builtin",
        rows=tuple(HeapRow(f"module{i}.Type{i}", 1000 + i, 100_000 + i) for i in range(types)),
    )
    snap = Snapshot(
        pid=4242,
        time=history.memory[-1].t,
        host="box",
        version="0.1.0",
        argv=("python", "app.py"),
        python="3.11.7",
        prefs=PrefsReport(pid=4242, time=history.memory[-1].t, rows=rows, history=True),
        memory=MemoryReport(4242, MemoryFigures(rss=236_000_000), Verdict("live-objects", "grew")),
        heap=heap,
    )
    return ReportContents(
        made=time.time(), command="leakscope report", snapshot=snap, history=history
    )


@pytest.mark.parametrize("classes", [50, 500])
def test_an_hour_of_history_renders_small_and_fast(classes):
    from leakscope.render.report import render

    contents = _contents(_hour_of_history(classes))
    started = time.perf_counter()
    page = render(contents)
    elapsed = time.perf_counter() - started
    assert elapsed < 2.0
    assert len(page.encode()) < 3 * 1024 * 1024
    # Lines are thinned to the chart's width; the table still lists every class.
    data = json.loads(
        re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page).group(1)
    )
    growth = data["charts"]["growth"]
    assert len(growth["t"]) == 400 and len(growth["series"]) == min(classes, 40)
    assert sum(s["shown"] for s in growth["series"]) == 5
    assert page.count("app.models.Class") >= classes


def test_the_suspects_hint_says_how_to_get_them():
    from dataclasses import replace

    from leakscope.client.reports import LeaksReport
    from leakscope.render.report import render

    contents = _contents(_hour_of_history(3, samples=5), types=3)
    assert "Run with --interval SECONDS to find leak suspects" in render(contents)
    missing = "No leak suspects or retained sizes: pip install 'leakscope[analysis]'."
    assert "pip install &#x27;leakscope[analysis]&#x27;" in render(
        replace(contents, interval_s=10.0, suspects_note=missing)
    )
    none = replace(contents, interval_s=10.0, suspects=LeaksReport(4242, 10.0, ()))
    assert "Nothing grew over the interval in a way that names a suspect" in render(none)


def test_history_table_from_json_and_snapshots():
    data = {
        "pid": 7,
        "interval_s": 5.0,
        "samples": [
            {"t": 1.0, "counts": {"a.A": 1, "a.B": 5}, "rss": 100},
            {"t": 6.0, "counts": {"a.A": 4}, "rss": 110},
            {"t": 11.0, "counts": {"a.A": 9, "a.C": 2}, "rss": None},
        ],
    }
    table = HistoryTable.from_json(data)
    assert table.times == (1.0, 6.0, 11.0)
    assert table.counts == {"a.A": (1, 4, 9), "a.B": (5, 0, 0), "a.C": (0, 0, 2)}
    assert [s.rss for s in table.memory] == [100, 110, None]
    assert table.growth() == [("a.A", 8), ("a.C", 2), ("a.B", -5)]
    assert HistoryTable.from_json(table.to_json()) == table

    def snap(t: float, n: int) -> Snapshot:
        rows = (PrefsRow("a.A", n, None, "leakscope"), PrefsRow("a.A", 1, None, "scrapy"))
        return Snapshot(7, t, "h", "0.1.0", (), None, PrefsReport(7, t, rows))

    from_files = HistoryTable.of_snapshots([snap(20.0, 5), snap(10.0, 2)])
    assert from_files.times == (10.0, 20.0) and from_files.counts == {"a.A": (3, 6)}


def test_other_commands_do_not_import_the_report():
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from leakscope.cli import main\n"
        "CliRunner().invoke(main, ['--help'])\n"
        "CliRunner().invoke(main, ['report', '--help'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('leakscope.render')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,
        check=True,
    )
    assert "leakscope.render.report" not in done.stdout, done.stdout
