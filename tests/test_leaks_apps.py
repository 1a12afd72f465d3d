"""`leakscope leaks` on real applications, one command and no hints: a Flask app under
`leakscope run` leaking a plain class, and the Scrapy crawl with a leaking spider."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli

pytest.importorskip("numpy")
pytest.importorskip("igraph")

FLASK_APP = Path(__file__).parent / "flask_app"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FlaskRun:
    """``leakscope run -- python app.py`` and a client that keeps calling it."""

    def __init__(self, tmp: Path) -> None:
        self.port = _free_port()
        self.env = dict(os.environ)
        self.env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO), *filter(None, [self.env.get("PYTHONPATH")])]
        )
        self.env["LEAKSCOPE_SOCKET_DIR"] = str(tmp / "s")
        self.env["FLASK_PORT"] = str(self.port)
        self.log = tmp / "run.log"
        with open(self.log, "wb") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "leakscope", "run", "--", sys.executable, "app.py"],
                cwd=FLASK_APP,
                env=self.env,
                stdout=sink,
                stderr=sink,
            )
        self.stop_load = threading.Event()
        self.requests = 0

    def agent_pid(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log.read_text(errors="replace").splitlines():
                if line.startswith("leakscope: agent of pid "):
                    return int(line.split()[4])
            assert self.process.poll() is None, self.log.read_text()
            time.sleep(0.1)
        raise AssertionError(f"no agent line: {self.log.read_text()}")

    def wait_up(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2).read()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"the app did not answer: {self.log.read_text()}")

    def load(self) -> None:
        n = 0
        while not self.stop_load.is_set():
            url = f"http://127.0.0.1:{self.port}/items/{n}"
            request = urllib.request.Request(url, headers={"X-User": f"user-{n % 13}"})
            try:
                urllib.request.urlopen(request, timeout=5).read()
                self.requests += 1
            except OSError:
                pass
            n += 1
            time.sleep(0.005)

    def close(self) -> None:
        self.stop_load.set()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def flask_run() -> Iterator[FlaskRun]:
    pytest.importorskip("flask")
    with tempfile.TemporaryDirectory(prefix="lsf-") as tmp:
        run = FlaskRun(Path(tmp))
        try:
            yield run
        finally:
            run.close()


@pytest.mark.slow
def test_flask_leak_is_named_in_one_command(flask_run: FlaskRun) -> None:
    pid = flask_run.agent_pid()
    flask_run.wait_up()
    loader = threading.Thread(target=flask_run.load, daemon=True)
    loader.start()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "leakscope",
            "leaks",
            "--pid",
            str(pid),
            "--interval",
            "10",
            "--sites",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=flask_run.env,
        timeout=240,
    )
    flask_run.stop_load.set()
    assert done.returncode == 0, done.stderr
    assert flask_run.requests > 50
    answer = json.loads(done.stdout)
    first = answer["suspects"][0]
    assert first["kind"] == "audit.AuditEvent", [s["kind"] for s in answer["suspects"]]
    holder = first["holder"]
    path = [holder["path"]["root"], *(e["label"] for e in holder["path"]["edges"])]
    # app.py imported the `audit` object too: either module's name for it is a true path.
    assert path[1:] == [".audit", ".pending"] and path[0] in ("module audit", "module __main__")
    assert holder["type"] == "list" and holder["share"] > 0.9
    site = first["sites"][0]
    line = next(
        i
        for i, text in enumerate((FLASK_APP / "app.py").read_text().splitlines(), 1)
        if "event = AuditEvent(" in text
    )
    assert site["site"].endswith(f"flask_app/app.py:{line}"), site
    assert site["function"] == "item"
    assert "AuditEvent" in first["finding"] and ".audit → .pending" in first["finding"]
    # The human form says the same in one screen.
    table = run_cli(
        "leaks",
        "--pid",
        str(pid),
        "--interval",
        "1",
        env={"LEAKSCOPE_SOCKET_DIR": flask_run.env["LEAKSCOPE_SOCKET_DIR"], "COLUMNS": "200"},
    )
    assert table.returncode == 0, table.stderr


@pytest.mark.slow
def test_scrapy_leaks_names_the_spiders_holder(tmp_path: Path) -> None:
    pytest.importorskip("scrapy")
    from leakscope.client.demo.site import DemoSite
    from tests.test_scrapy import PROJECT_DIR, _socket_of, _start_crawl, _wait_for

    with DemoSite() as site:
        crawl = _start_crawl(site, [sys.executable, "crawl_all.py"], PROJECT_DIR)
        try:
            pid = crawl.process.pid
            _wait_for("the agent's socket", _socket_of(crawl, pid).is_socket, crawl)
            answer = json.loads(
                crawl.cli("leaks", "--pid", str(pid), "--interval", "4", "--json").stdout
            )
        finally:
            crawl.close()
    holders = {s["kind"].rsplit(".", 1)[-1]: s["holder"] for s in answer["suspects"] if s["holder"]}
    assert {"Request", "HtmlResponse"} & set(holders), answer["suspects"]
    for kind in {"Request", "HtmlResponse"} & set(holders):
        path = holders[kind]["path"]
        text = " ".join([path["root"] or "", *(e["label"] for e in path["edges"])])
        kinds = [e["to_kind"] for e in path["edges"]]
        assert "requests_made" in text or any(k.endswith("NastySpider") for k in kinds), text
