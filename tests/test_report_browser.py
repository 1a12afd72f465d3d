"""The HTML report in a real browser: Debian's Chromium, headless, driven by Selenium.

Three pages: a live report of a leaking app (the real CLI against a real target), an offline
report from real snapshot files, and a report with the leak-suspect and retained-size
sections (their data is built here from the live target's own answers: `leakscope leaks`
does not exist yet). Each page must load from its file:// URL with no console error and no
request other than the file itself, draw every chart (SVG elements of non-zero size), and sort
its tables; the leaking class, its growth chart and its holder must be on the first screen.
A screenshot of each section is saved under the test's tmp dir.

Chromium and ChromeDriver come from Debian (`.ci/run` installs chromium and chromium-driver);
nothing is downloaded. Without them the tests skip, saying so.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, run_cli
from tests.test_report import HOSTILE_NAME, LEAKING_CLASS, start_leaky_app

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: The first screen: a laptop's browser window.
SCREEN = (1280, 720)

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
except ImportError:  # pragma: no cover - the test extra installs it
    webdriver = None  # type: ignore[assignment]

_missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        webdriver is None, reason="selenium is not installed (pip install -e .[test])"
    ),
    pytest.mark.skipif(
        bool(_missing),
        reason=f"no browser: {', '.join(_missing)} missing "
        "(apt-get install chromium chromium-driver)",
    ),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium from Debian, a fresh profile, console and network logs on."""
    profile = tempfile.mkdtemp(prefix="leakscope-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@dataclass
class Loaded:
    """A report as the browser loaded it: what it logged and what it requested."""

    url: str
    errors: list[str]
    requests: list[str] = field(default_factory=list)


def _viewport(driver: Any, width: int, height: int) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )


def open_report(driver: Any, path: Path) -> Loaded:
    """Load *path* at the first screen's size; its console errors and every request made."""
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get_log("performance")
    _viewport(driver, *SCREEN)
    url = path.resolve().as_uri()
    driver.get(url)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        done = driver.execute_script(
            "return document.readyState === 'complete' && Array.from("
            "document.querySelectorAll('[data-chart]')).every(e => e.hasAttribute('data-drawn'))"
        )
        if done:
            break
        time.sleep(0.1)
    time.sleep(0.3)  # anything a chart would still request or log
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    requests = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] in ("Network.requestWillBeSent", "Network.webSocketCreated"):
            params = message["params"]
            requests.append(params["request"]["url"] if "request" in params else params["url"])
    return Loaded(url, errors, requests)


def assert_offline(loaded: Loaded) -> None:
    """No console error, and no request but the page's own file."""
    assert loaded.errors == []
    assert loaded.requests, "the performance log recorded no request at all (not even the page)"
    assert set(loaded.requests) == {loaded.url}, loaded.requests


_CHARTS_JS = """
var data = JSON.parse(document.getElementById('report-data').textContent).charts;
return Array.from(document.querySelectorAll('[data-chart]')).map(function (el) {
  var svg = el.querySelector('svg');
  var box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  var shapes = svg ? Array.from(svg.querySelectorAll('path')).filter(function (e) {
    var b = e.getBBox(); return b.width > 0 || b.height > 0; }) : [];
  function commands(e, letters) {
    return (e.getAttribute('d').match(new RegExp('[' + letters + ']', 'g')) || []).length; }
  function unfilled(e) { return (e.getAttribute('fill') || 'none') === 'none'; }
  var white = ['#fff', '#ffffff', 'none', 'transparent'];
  return {
    id: el.id, spec: data[el.getAttribute('data-chart')], drawn: el.getAttribute('data-drawn'),
    width: box.width, height: box.height,
    // a series' line (axes and grid lines have no line join) and the points it joins;
    // a filled shape (bar, tile); a node's circle; an edge
    polylines: shapes.filter(e => unfilled(e) && e.hasAttribute('stroke-linejoin')).map(
      e => commands(e, 'L')),
    filled: shapes.filter(e => white.indexOf(e.getAttribute('fill')) < 0 && /Z$/.test(
      e.getAttribute('d'))).length,
    circles: shapes.filter(e => commands(e, 'A') > 0).length,
    edges: shapes.filter(e => unfilled(e) && commands(e, 'C') > 0).length,
    texts: svg ? Array.from(svg.querySelectorAll('text')).map(t => t.textContent) : []
  };
});
"""


def charts(driver: Any) -> dict[str, dict[str, Any]]:
    """Every chart of the page: its data, whether it was drawn, its SVG's size and marks."""
    return {c["id"]: c for c in driver.execute_script(_CHARTS_JS)}


def assert_drawn(found: dict[str, dict[str, Any]], expected: set[str]) -> None:
    """The *expected* charts are there, and every chart drew its data: a line per series
    shown (through its points), a bar per row, a tile per object, a node per path step."""
    assert expected <= set(found), f"charts {expected - set(found)} are missing"
    for chart in found.values():
        spec, name = chart["spec"], chart["id"]
        assert chart["drawn"] == "yes", name
        assert chart["width"] > 60 and chart["height"] > 50, chart
        if spec["kind"] == "lines":
            shown = [
                s for s in spec["series"] if s["shown"] and any(v is not None for v in s["data"])
            ]
            points = len(spec["t"])
            lines = [n for n in chart["polylines"] if n >= points - 1 >= 1]
            assert len(lines) >= len(shown) >= 1, (name, chart["polylines"], points)
        elif spec["kind"] == "bars":
            assert chart["filled"] >= len(spec["rows"]) >= 1, (name, chart["filled"])
        elif spec["kind"] == "treemap":
            assert chart["filled"] >= len(spec["tree"]) >= 1, (name, chart["filled"])
        elif spec["kind"] == "path":
            assert chart["circles"] == len(spec["nodes"]) >= 2, (name, chart["circles"])
            assert chart["edges"] == len(spec["nodes"]) - 1, (name, chart["edges"])
        else:
            raise AssertionError(f"{name}: unknown chart kind {spec['kind']}")


def column(driver: Any, table_id: str, index: int, attr: str = "data-v") -> list[str]:
    return driver.execute_script(
        "return Array.from(document.getElementById(arguments[0]).tBodies[0].rows)"
        ".map(r => r.cells[arguments[1]].getAttribute(arguments[2]))",
        table_id,
        index,
        attr,
    )


def assert_sorts(driver: Any, table_id: str, title: str) -> None:
    """Clicking the numeric column *title* sorts the rows by it, biggest first; clicking
    again reverses them; and the rows' order is not what it was."""
    table = driver.find_element(By.ID, table_id)
    headers = table.find_elements(By.CSS_SELECTOR, "thead th")
    index = [h.text for h in headers].index(title)
    before = column(driver, table_id, 0)
    # A click event on the title, as a mouse click sends it (WebDriver's own click aims at
    # window coordinates, which the emulated screen size shifts).
    click = "arguments[0].scrollIntoView({block: 'center'}); arguments[0].click()"
    driver.execute_script(click, headers[index])
    first = column(driver, table_id, 0)
    values = [float(v) for v in column(driver, table_id, index)]
    assert values == sorted(values, reverse=True)
    assert headers[index].get_attribute("aria-sort") == "descending"
    driver.execute_script(click, headers[index])
    values = [float(v) for v in column(driver, table_id, index)]
    assert values == sorted(values)
    assert headers[index].get_attribute("aria-sort") == "ascending"
    assert len(set(values)) > 1, "a column of one value cannot show that sorting works"
    assert before != first or before != column(driver, table_id, 0), "the order never changed"


def on_first_screen(driver: Any, css: str) -> dict[str, float]:
    """The box of the first element matching *css*; asserts it is wholly on the first screen."""
    driver.execute_script("window.scrollTo(0, 0)")
    box = driver.execute_script(
        "var r = document.querySelector(arguments[0]).getBoundingClientRect();"
        "return {top: r.top, bottom: r.bottom, width: r.width, height: r.height};",
        css,
    )
    assert box["width"] > 0 and box["height"] > 0, css
    assert box["top"] >= 0 and box["bottom"] <= SCREEN[1], (css, box)
    return box


def screenshots(driver: Any, directory: Path) -> list[Path]:
    """One PNG per section (and the header), the page laid out at its full height."""
    directory.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    _viewport(driver, SCREEN[0], height)
    saved = [directory / "first-screen.png"]
    ids = driver.execute_script(
        "return ['top'].concat(Array.from(document.querySelectorAll('main > section'))"
        ".map(s => s.id))"
    )
    for element_id in ids:
        path = directory / f"{element_id}.png"
        driver.find_element(By.ID, element_id).screenshot(str(path))
        saved.append(path)
    _viewport(driver, *SCREEN)
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(str(saved[0]))
    for path in saved:
        assert path.stat().st_size > 1000, path
    return saved


# -- the pages -------------------------------------------------------------------------


@pytest.fixture
def leaky(tmp_path: Path, socket_dir: Path):
    target = start_leaky_app(tmp_path)
    time.sleep(2.0)  # ten history samples, a few hundred leaked events
    yield target
    target.stop()


def test_live_report_in_the_browser(browser, leaky, tmp_path):
    out = tmp_path / "live.html"
    result = run_cli("report", "--pid", str(leaky.pid), "-o", str(out), "--interval", "1")
    assert result.returncode == 0, result.stderr
    loaded = open_report(browser, out)
    assert_offline(loaded)
    found = charts(browser)
    assert_drawn(found, {"chart-grower", "chart-growth", "chart-memory", "chart-heap"})
    assert "chart-heap-growth" in found
    # The leaking class, and its growth chart, on the first screen.
    name = browser.find_element(By.CSS_SELECTOR, ".card.grows .card-name")
    assert name.text == LEAKING_CLASS
    on_first_screen(browser, ".card.grows .card-name")
    on_first_screen(browser, "#chart-grower svg")
    assert LEAKING_CLASS in found["chart-growth"]["texts"]  # its line's legend entry
    # The hostile class name is text on the page, not an element.
    assert browser.find_elements(By.CSS_SELECTOR, "main img") == []
    assert HOSTILE_NAME in browser.find_element(By.ID, "table-tracked").text
    assert_sorts(browser, "table-heap", "Count (objects)")
    assert_sorts(browser, "table-tracked", "Live (objects)")
    screenshots(browser, tmp_path / "screens-live")


def test_offline_report_in_the_browser(browser, leaky, tmp_path):
    files = []
    for name in ("monday.json", "tuesday.json", "wednesday.json"):
        path = tmp_path / name
        result = run_cli("snapshot", "--pid", str(leaky.pid), "-o", str(path), "--heap")
        assert result.returncode == 0, result.stderr
        files.append(str(path))
        time.sleep(0.5)
    leaky.stop()
    out = tmp_path / "offline.html"
    result = run_cli("report", *files, "-o", str(out))
    assert result.returncode == 0, result.stderr
    loaded = open_report(browser, out)
    assert_offline(loaded)
    found = charts(browser)
    assert_drawn(
        found, {"chart-grower", "chart-growth", "chart-memory", "chart-heap", "chart-heap-growth"}
    )
    assert browser.find_element(By.CSS_SELECTOR, ".card.grows .card-name").text == LEAKING_CLASS
    assert_sorts(browser, "table-heap-diff", "Size change")
    screenshots(browser, tmp_path / "screens-offline")


# -- leak suspects and retained sizes: the leak of `leakscope leaks`'s test ---------------------

#: tests/targets/leaky.py: AuditEvent, a plain class nobody tracks, piles up in audit.pending.
PLAIN_LEAK = "__main__.AuditEvent"
HOLDER_PATH = "module __main__ → .audit → __main__._Audit → .pending → list"


def test_suspects_and_retained_in_the_browser(browser, target_factory, tmp_path):
    target = target_factory("leaky")
    out = tmp_path / "suspects.html"
    result = run_cli(
        "report", "--pid", str(target.pid), "-o", str(out), "--interval", "2", "--sites",
        "--json", timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["render_s"] < 2.0
    loaded = open_report(browser, out)
    assert_offline(loaded)
    found = charts(browser)
    assert_drawn(found, {"chart-grower", "chart-memory", "chart-path-1", "chart-retained"})
    # The leaking class, its growth chart and its holder's path, on the first screen.
    card = browser.find_element(By.CSS_SELECTOR, ".card.suspect")
    assert card.find_element(By.CSS_SELECTOR, ".card-name").text == PLAIN_LEAK
    assert card.find_element(By.CSS_SELECTOR, ".path-text").text == HOLDER_PATH
    assert browser.find_element(By.CSS_SELECTOR, ".card.grows .card-name").text == PLAIN_LEAK
    for css in (".card.suspect .card-name", ".card.suspect .path-text", "#chart-grower svg"):
        on_first_screen(browser, css)
    # The path drawn as a graph: the root, one node per reference, the holder last.
    graph = found["chart-path-1"]["texts"]
    assert graph[0] == "root: module __main__"
    assert graph[-1].startswith(".pending  →  list") and graph[-1].endswith("← holder")
    detail = browser.find_element(By.ID, "suspect-1")
    assert PLAIN_LEAK in detail.text and HOLDER_PATH in detail.text
    assert "tests/targets/leaky.py:35" in detail.text  # where AuditEvent objects are made
    # The treemap draws what retains the leak: the _Audit object (its list is nested in it,
    # labelled only when the leak has grown large enough for a label to fit).
    assert "__main__._Audit" in " ".join(found["chart-retained"]["texts"])
    assert_sorts(browser, "table-retained", "Retained size")
    screenshots(browser, tmp_path / "screens-suspects")


def test_flask_leak_on_the_first_screen(browser, tmp_path):
    """The Flask app of `leakscope leaks`'s test, under `leakscope run`, leaking a plain
    class: the report names it, draws its growth and shows its holder on the first screen."""
    pytest.importorskip("flask")
    from tests.test_leaks_apps import FlaskRun

    app = FlaskRun(tmp_path)
    try:
        pid = app.agent_pid()
        app.wait_up()
        threading.Thread(target=app.load, daemon=True).start()
        time.sleep(1.0)
        out = tmp_path / "flask.html"
        result = run_cli(
            "report", "--pid", str(pid), "-o", str(out), "--interval", "5", "--sites",
            env={"LEAKSCOPE_SOCKET_DIR": app.env["LEAKSCOPE_SOCKET_DIR"]}, timeout=240,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
    finally:
        app.close()
    assert app.requests > 50
    loaded = open_report(browser, out)
    assert_offline(loaded)
    found = charts(browser)
    assert_drawn(found, {"chart-grower", "chart-path-1", "chart-retained", "chart-heap"})
    card = browser.find_element(By.CSS_SELECTOR, ".card.suspect")
    assert card.find_element(By.CSS_SELECTOR, ".card-name").text == "audit.AuditEvent"
    path = card.find_element(By.CSS_SELECTOR, ".path-text").text
    assert path.endswith(" → .audit → audit._Audit → .pending → list"), path
    assert path.split(" → ")[0] in ("module audit", "module __main__")
    assert browser.find_element(By.CSS_SELECTOR, ".card.grows .card-name").text == (
        "audit.AuditEvent"
    )
    for css in (".card.suspect .card-name", ".card.suspect .path-text", "#chart-grower svg"):
        on_first_screen(browser, css)
    line = next(
        i
        for i, text in enumerate((REPO / "tests/flask_app/app.py").read_text().splitlines(), 1)
        if "event = AuditEvent(" in text
    )
    assert f"flask_app/app.py:{line}" in browser.find_element(By.ID, "suspect-1").text
    screenshots(browser, tmp_path / "screens-flask")
