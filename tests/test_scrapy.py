"""Scrapy, for real: the group keys on real Scrapy objects, the extension, and a real
crawl of local sites by several spiders (one leaking) inspected with the real CLI."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("scrapy")

from scrapy.crawler import Crawler  # noqa: E402
from scrapy.exceptions import NotConfigured  # noqa: E402
from scrapy.http import HtmlResponse, Request, Response  # noqa: E402
from scrapy.settings import Settings  # noqa: E402

import leakscope.agent  # noqa: E402
from leakscope.client.demo.site import DemoSite  # noqa: E402
from leakscope.demo.scrapy_spiders import (  # noqa: E402
    BooksSpider,
    NastySpider,
    PageItem,
)
from leakscope.scrapy import LeakscopeExtension, domain_of, spider_of  # noqa: E402
from leakscope.target.scrapy_keys import _spider_hosts  # noqa: E402
from tests.sitegen import (  # noqa: E402
    PROJECT_DIR,
    REPO_DIR,
    crawl_env,
    scrapy_command,
)

# -- group keys on real Scrapy objects ----------------------------------------------


def test_spider_of_a_request_is_the_spider_its_callback_is_bound_to() -> None:
    nasty, books = NastySpider(), BooksSpider()
    assert spider_of(Request("http://x.localhost/", callback=nasty.parse)) == "nasty"
    assert spider_of(Request("http://x.localhost/", errback=books.parse)) == "books"
    assert spider_of(nasty) == "nasty"


def test_spider_of_follows_hints_in_meta_and_cb_kwargs() -> None:
    nasty = NastySpider()
    page = HtmlResponse(
        "http://x.localhost/1",
        body=b"<html></html>",
        request=Request("http://x.localhost/1", callback=nasty.parse),
    )
    # The nasty spider's mistake: a response riding in the next request's meta.
    assert spider_of(Request("http://x.localhost/2", meta={"referer": page})) == "nasty"
    assert spider_of(Request("http://x.localhost/3", cb_kwargs={"owner": nasty})) == "nasty"
    assert spider_of(Request("http://x.localhost/4", meta={"spider": "named"})) == "named"


def test_spider_of_a_response_goes_through_its_request_and_survives_none() -> None:
    books = BooksSpider()
    request = Request("http://books.localhost/page/1", callback=books.parse)
    assert spider_of(HtmlResponse(request.url, body=b"", request=request)) == "books"
    orphan = Response("http://nowhere.localhost/")
    with pytest.raises(AttributeError):
        orphan.meta  # noqa: B018 (what the key must not trip over)
    assert spider_of(orphan) is None
    assert domain_of(orphan) == "nowhere.localhost"


def test_group_keys_do_not_create_meta_dicts() -> None:
    request = Request("http://x.localhost/")
    spider_of(request)
    domain_of(request)
    assert request._meta is None
    assert request._cb_kwargs is None


def test_allowed_domains_answer_for_requests_without_a_bound_callback() -> None:
    spider = BooksSpider()  # alive, so in Scrapy's registry of live spiders
    _spider_hosts.forget()
    assert spider_of(Request("http://books.localhost/page/7")) == "books"
    assert spider_of(Request("http://sub.books.localhost/")) == "books"
    assert spider_of(PageItem(url="http://books.localhost/page/7", title="t")) == "books"
    assert spider_of(PageItem(title="no url")) is None
    assert spider_of(Request("http://elsewhere.localhost/")) is None
    del spider


def test_domain_of_is_the_url_host() -> None:
    assert domain_of(Request("http://Nasty.localhost:8080/page/3")) == "nasty.localhost"
    assert domain_of(Request("https://user:pw@[::1]:8443/x?y#z")) == "::1"
    assert domain_of(Request("http://books.localhost?page=2")) == "books.localhost"
    assert domain_of(Request("data:text/plain,hello")) is None
    response = HtmlResponse("http://books.localhost/", body=b"<a href='/x'>x</a>")
    assert domain_of(response) == "books.localhost"
    assert domain_of(response.selector) == "books.localhost"
    assert domain_of(PageItem(url="http://news.localhost/page/2")) == "news.localhost"


class _Hostile:
    """An object whose every attribute access fails."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(name)


class _BadRequest(Request):
    @property
    def url(self) -> str:  # type: ignore[override]
        raise RuntimeError("no url")


@pytest.mark.parametrize("key", [spider_of, domain_of])
def test_group_keys_never_raise(key: Callable[[object], str | None]) -> None:
    for obj in (None, 1, "http://a.localhost/", object(), _Hostile(), {"url": 3}, [Request]):
        assert key(obj) is None
    assert key(_BadRequest.__new__(_BadRequest)) is None


def test_importing_the_integration_does_not_import_scrapy() -> None:
    code = (
        "import sys, leakscope.scrapy as s\n"
        "assert s.spider_of(object()) is None and s.domain_of(object()) is None\n"
        "print(sorted(m for m in sys.modules if m == 'scrapy' or m.startswith('scrapy.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


# -- the extension, in process ------------------------------------------------------


@pytest.fixture
def private_socket_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A socket directory of our own, and no agent running around the test."""
    leakscope.agent.stop()
    directory = Path(tempfile.mkdtemp(prefix="lsx-"))
    monkeypatch.setenv("LEAKSCOPE_SOCKET_DIR", str(directory / "s"))
    yield directory / "s"
    leakscope.agent.stop()
    shutil.rmtree(directory, ignore_errors=True)


def test_extension_is_not_configured_when_disabled() -> None:
    crawler = Crawler(NastySpider, Settings({"LEAKSCOPE_ENABLED": False}))
    with pytest.raises(NotConfigured):
        LeakscopeExtension.from_crawler(crawler)


def test_extension_runs_the_agent_while_any_engine_runs(private_socket_dir: Path) -> None:
    first = LeakscopeExtension.from_crawler(Crawler(NastySpider, Settings()))
    second = LeakscopeExtension.from_crawler(Crawler(BooksSpider, Settings()))
    first.engine_started()
    second.engine_started()
    path = Path(leakscope.agent.socket_path() or "")
    assert path.parent == private_socket_dir and path.is_socket()
    first.engine_stopped()
    assert leakscope.agent.is_running() and path.is_socket()
    second.engine_stopped()
    assert not leakscope.agent.is_running() and not path.exists()


def test_extension_leaves_an_agent_it_did_not_start(private_socket_dir: Path) -> None:
    path = leakscope.agent.start()
    assert path is not None
    extension = LeakscopeExtension.from_crawler(Crawler(NastySpider, Settings()))
    extension.engine_started()
    extension.engine_stopped()
    assert leakscope.agent.is_running() and Path(path).is_socket()


# -- a real crawl, inspected with the real CLI ---------------------------------------


class Crawl:
    """A crawl subprocess and the environment for the CLI that inspects it."""

    def __init__(self, process: subprocess.Popen[bytes], env: dict[str, str], log: Path):
        self.process = process
        self.env = env
        self.log = log

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the real ``leakscope`` command."""
        done = subprocess.run(
            [sys.executable, "-m", "leakscope", *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=60,
        )
        if check:
            assert done.returncode == 0, f"leakscope {' '.join(args)}: {done.stderr}"
        return done

    def json(self, *args: str) -> Any:
        """The ``--json`` answer of a command."""
        return json.loads(self.cli(*args, "--json").stdout)

    def stop(self) -> int:
        """SIGINT (Scrapy's graceful shutdown) and wait; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def close(self) -> None:
        """Kill what is left and remove the test's directory."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.log.parent, ignore_errors=True)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _wait_for(what: str, check: Callable[[], Any], crawl: Crawl, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if crawl.process.poll() is not None:
            pytest.fail(f"the crawl exited ({crawl.process.returncode}):\n{crawl.log_text()}")
        value = check()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}:\n{crawl.log_text()[-3000:]}")


def _start_crawl(site: DemoSite, command: list[str], workdir: Path) -> Crawl:
    socket_dir = Path(tempfile.mkdtemp(prefix="lss-")) / "s"
    env = crawl_env(site, socket_dir)
    env["COLUMNS"] = "200"  # Rich tables of the CLI: room for the class names
    log = socket_dir.parent / "crawl.log"
    with open(log, "wb") as sink:
        process = subprocess.Popen(command, cwd=workdir, env=env, stdout=sink, stderr=sink)
    return Crawl(process, env, log)


def _socket_of(crawl: Crawl, pid: int) -> Path:
    return Path(crawl.env["LEAKSCOPE_SOCKET_DIR"]) / f"{pid}.sock"


def _counts(rows: list[dict[str, Any]], short_class: str) -> dict[str, int]:
    return {
        row["group"]: row["count"] for row in rows if row["class"].rsplit(".", 1)[-1] == short_class
    }


def _url(attr: str) -> str:
    # attrs are safe reprs: a str comes quoted.
    return attr.strip("'\"")


def _leak_has_built_up(crawl: Crawl, pid: int, responses: int) -> dict[str, Any] | None:
    answer = crawl.json("prefs", "--pid", str(pid), "--group-by", "spider")
    return answer if _counts(answer["rows"], "HtmlResponse").get("nasty", 0) >= responses else None


@pytest.fixture
def demo_site() -> Iterator[DemoSite]:
    """The generated sites, served for the test."""
    with DemoSite() as site:
        yield site


@pytest.fixture
def crawl_all_spiders(demo_site: DemoSite) -> Iterator[Crawl]:
    """Every project spider in one CrawlerProcess, the leakscope extension on."""
    crawl = _start_crawl(demo_site, [sys.executable, "crawl_all.py"], PROJECT_DIR)
    try:
        yield crawl
    finally:
        crawl.close()


@pytest.mark.slow
def test_which_spider_leaks(crawl_all_spiders: Crawl) -> None:
    crawl = crawl_all_spiders
    pid = crawl.process.pid
    socket = _socket_of(crawl, pid)
    _wait_for("the agent's socket", socket.is_socket, crawl)

    listed = crawl.json("ps")
    assert [p["socket"] for p in listed if p["pid"] == pid] == [str(socket)]

    grouped = _wait_for("the leak to build up", lambda: _leak_has_built_up(crawl, pid, 100), crawl)
    assert grouped["pid"] == pid
    for short_class in ("HtmlResponse", "Request"):
        counts = _counts(grouped["rows"], short_class)
        assert max(counts, key=lambda group: counts[group]) == "nasty", (short_class, counts)
    # The clean spiders do crawl: their requests are alive too, just not kept.
    assert {"books", "news"} <= set(_counts(grouped["rows"], "Request"))

    table = crawl.cli("prefs", "--pid", str(pid)).stdout
    assert "HtmlResponse" in table and "Request" in table

    # A clean spider's response can be briefly the oldest: alive while its links are
    # scheduled, or garbage in a reference cycle until the collector runs (hence
    # --collect). Those go away within moments; the leaked ones stay oldest.
    def oldest_host() -> str | None:
        found = crawl.json(
            "oldest", "HtmlResponse", "--pid", str(pid), "--attr", "url", "--collect"
        )
        assert found["class"].endswith("HtmlResponse") and found["collected"] is True
        host = urllib.parse.urlsplit(_url(found["attrs"]["url"])).hostname
        return host if host == "nasty.localhost" else None

    assert _wait_for("the oldest response to be the leaking spider's", oldest_host, crawl, 8)

    some = crawl.json("all", "HtmlResponse", "--pid", str(pid), "--attr", "url", "--limit", "5")
    assert len(some["objects"]) == 5
    ages = [obj["age_s"] for obj in some["objects"]]
    assert ages == sorted(ages, reverse=True), "oldest first"
    # Clean spiders' responses are alive while being parsed, so a few may be among
    # the oldest at any moment; the leaking spider's dominate.
    many = crawl.json(
        "all", "HtmlResponse", "--pid", str(pid), "--attr", "url", "--limit", "50", "--collect"
    )
    hosts = [urllib.parse.urlsplit(_url(o["attrs"]["url"])).hostname for o in many["objects"]]
    assert hosts.count("nasty.localhost") >= 0.8 * len(hosts), hosts

    def spider_rows(*ignore: str) -> list[str]:
        rows = crawl.json("prefs", "--pid", str(pid), *ignore)["rows"]
        return [row["class"] for row in rows if row["class"].endswith("Spider")]

    assert len(spider_rows()) == 3
    assert spider_rows("--ignore", "Spider") == []

    assert crawl.stop() == 0
    assert not socket.exists()
    log = crawl.log_text()
    assert f"leakscope agent listening on {socket}" in log
    assert "Traceback" not in log


# -- leakscope run -- scrapy crawl ----------------------------------------------------


@pytest.fixture
def run_scrapy_crawl(demo_site: DemoSite) -> Iterator[Crawl]:
    """``leakscope run -- scrapy crawl nasty`` with the extension turned off."""
    command = [
        sys.executable,
        "-m",
        "leakscope",
        "run",
        "--",
        *scrapy_command(),
        "crawl",
        "nasty",
        "-s",
        "LEAKSCOPE_ENABLED=False",
    ]
    crawl = _start_crawl(demo_site, command, PROJECT_DIR)
    try:
        yield crawl
    finally:
        crawl.close()


def _agent_line(crawl: Crawl) -> tuple[int, Path] | None:
    for line in crawl.log_text().splitlines():
        if line.startswith("leakscope: agent of pid "):
            words = line.split()
            return int(words[4]), Path(words[-1])
    return None


@pytest.mark.slow
def test_run_scrapy_crawl(run_scrapy_crawl: Crawl) -> None:
    crawl = run_scrapy_crawl
    pid, socket = _wait_for("leakscope run's agent line", lambda: _agent_line(crawl), crawl)
    # The agent lives in scrapy, the child of `leakscope run`, and was there first.
    assert pid != crawl.process.pid
    assert socket == _socket_of(crawl, pid) and socket.is_socket()
    assert [p["pid"] for p in crawl.json("ps")] == [pid]

    grouped = _wait_for("the leak to build up", lambda: _leak_has_built_up(crawl, pid, 20), crawl)
    assert set(_counts(grouped["rows"], "Request")) == {"nasty"}
    table = crawl.cli("prefs", "--pid", str(pid)).stdout
    assert "HtmlResponse" in table and "Request" in table

    # SIGINT to `leakscope run` reaches scrapy, which shuts down gracefully.
    assert crawl.stop() == 0
    assert not socket.exists()
    log = crawl.log_text()
    assert "Received SIGINT, shutting down gracefully" in log
    assert "[leakscope.scrapy]" not in log  # the extension was off: the agent is run's


# -- leakscope demo --scrapy -----------------------------------------------------------


@pytest.mark.slow
def test_scrapy_demo_finds_the_leaking_spider_and_cleans_up(tmp_path: Path) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_DIR), env.get("PYTHONPATH")]))
    env["LEAKSCOPE_SOCKET_DIR"] = str(tmp_path / "s")
    env["COLUMNS"] = "200"
    done = subprocess.run(
        [sys.executable, "-m", "leakscope", "demo", "--scrapy", "--pause", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    commands = [line for line in out.splitlines() if line.startswith("$ leakscope ")]
    for command in ("ps", "prefs", "prefs --group-by spider", "oldest HtmlResponse", "all"):
        words = command.split()
        assert any(all(word in line.split() for word in words) for line in commands), command
    # The retention path names the culprit: the nasty spider's list of requests.
    assert "NastySpider" in out and "requests_made" in out and "referer" in out
    assert "its socket is gone: True" in out
    pid = int(out.split("(pid ", 1)[1].split(")", 1)[0])
    assert not Path(f"/proc/{pid}").exists()
    assert list((tmp_path / "s").glob("*.sock")) == []
