"""``leakscope demo --scrapy``: find the leaking spider of a real Scrapy crawl, step by step.

Serves the generated sites of `leakscope.client.demo.site` from this process, starts
every demo spider in one crawl process (`leakscope.demo.scrapy_crawl`, the leakscope
extension on), waits for the leak to show, then runs the real ``leakscope`` commands on it,
printing each before its output. The crawl and the server are stopped at the
end, and the crawl's socket goes with it.

Importing this module raises ImportError when Scrapy is not installed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from leakscope import wire
from leakscope.client import discovery
from leakscope.client.demo.site import DemoSite
from leakscope.client.errors import ExitCode, LeakscopeError

if importlib.util.find_spec("scrapy") is None:
    raise ImportError("No module named 'scrapy'", name="scrapy")

# Pages of the leaky spider that must be alive before the walk-through starts.
LEAK_SHOWN_AT = 30
START_TIMEOUT_S = 60.0


def _say(console: Any, text: str, style: str = "") -> None:
    if console is not None:
        console.print(text, style=style or None, markup=False, highlight=False)
    else:
        click.secho(text, fg="cyan" if "cyan" in style else None, bold="bold" in style)


def _leakscope(*args: str, capture: bool) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leakscope", *args],
        capture_output=capture,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def _step(console: Any, title: str, args: list[str], pause: float) -> None:
    _say(console, f"\n# {title}", "bold cyan")
    _say(console, "$ leakscope " + " ".join(shlex.quote(a) for a in args), "green")
    sys.stdout.flush()
    _leakscope(*args, capture=False)
    time.sleep(pause)


def _start_crawl(site: DemoSite, log: Path) -> subprocess.Popen[bytes]:
    env = site.crawl_env(dict(os.environ))
    for name in ("LEAKSCOPE_AGENT", "LEAKSCOPE_RUN"):
        env.pop(name, None)
    with open(log, "wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "leakscope.demo.scrapy_crawl", "--seconds", "300"],
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
            env=env,
        )


def _crawl_failed(crawl: subprocess.Popen[bytes], log: Path, what: str) -> LeakscopeError:
    tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
    status = crawl.poll()
    ended = f"it exited with status {status}" if status is not None else "it is still running"
    return LeakscopeError(ExitCode.INTERNAL, f"the demo crawl {what}; {ended}: {tail[0]}")


def _wait_for_agent(crawl: subprocess.Popen[bytes], log: Path) -> Path:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and crawl.poll() is None:
        try:
            path = discovery.find_socket(crawl.pid)
        except wire.UnsafeDirectory as exc:
            raise LeakscopeError(ExitCode.PERMISSION, str(exc)) from None
        if path is not None:
            return path
        time.sleep(0.2)
    raise _crawl_failed(crawl, log, "started no agent")


def _nasty_pages(pid: int) -> int:
    done = _leakscope("prefs", "--pid", str(pid), "--group-by", "spider", "--json", capture=True)
    if done.returncode != 0:
        return 0
    rows = json.loads(done.stdout).get("rows", [])
    return sum(
        row["count"]
        for row in rows
        if row.get("group") == "nasty" and row["class"].endswith("HtmlResponse")
    )


def _wait_for_leak(crawl: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and crawl.poll() is None:
        if _nasty_pages(crawl.pid) >= LEAK_SHOWN_AT:
            return
        time.sleep(0.5)
    raise _crawl_failed(crawl, log, "did not show its leak in time")


def _stop(crawl: subprocess.Popen[bytes]) -> None:
    if crawl.poll() is None:
        crawl.send_signal(signal.SIGINT)  # Scrapy's graceful shutdown
    try:
        crawl.wait(timeout=30)
    except subprocess.TimeoutExpired:
        crawl.kill()
        crawl.wait()


def _walk_through(console: Any, pid: str, pause: float) -> None:
    _step(console, "Which processes run a leakscope agent?", ["ps"], pause)
    _step(
        console,
        "What is alive? Responses and requests pile up, but whose are they?",
        ["prefs", "--pid", pid],
        pause,
    )
    _step(
        console,
        "The same, per spider: one spider holds nearly all of them.",
        ["prefs", "--pid", pid, "--group-by", "spider", "--ignore", "Spider"],
        pause,
    )
    _step(
        console,
        "Per domain, to confirm:",
        ["prefs", "--pid", pid, "--group-by", "domain", "--ignore", "Spider"],
        pause,
    )
    _step(
        console,
        "The oldest live response: which page, and what keeps it alive?",
        ["oldest", "HtmlResponse", "--pid", pid, "--attr", "url", "--why"],
        pause,
    )
    _step(
        console,
        "Every live response, oldest first (the first 5):",
        ["all", "HtmlResponse", "--pid", pid, "--attr", "url", "--limit", "5"],
        pause,
    )


def run_demo(console: Any = None, pause: float = 1.0) -> None:
    """Run the Scrapy walk-through; prints to `console` (a Rich Console) or stdout."""
    with tempfile.TemporaryDirectory(prefix="leakscope-demo-") as private, DemoSite() as site:
        log = Path(private) / "crawl.log"
        crawl = _start_crawl(site, log)
        socket: Path | None = None
        try:
            _say(
                console,
                f"Started a Scrapy crawl: spiders nasty, books and news in one process "
                f"(pid {crawl.pid}), crawling local sites served by this demo.",
                "bold",
            )
            socket = _wait_for_agent(crawl, log)
            _say(console, f"Its leakscope agent listens on {socket}; letting the crawl run...")
            _wait_for_leak(crawl, log)
            _walk_through(console, str(crawl.pid), pause)
            _say(
                console,
                "\nFound it: spider 'nasty' keeps every page it downloads. It passes each "
                "response along in the next request (meta={'referer': response}) and keeps "
                "every request in self.requests_made: see NastySpider in "
                "leakscope/demo/scrapy_spiders.py.",
                "bold",
            )
        finally:
            _stop(crawl)
        gone = socket is None or not socket.exists()
        _say(console, f"Crawl stopped (pid {crawl.pid}); its socket is gone: {gone}")
