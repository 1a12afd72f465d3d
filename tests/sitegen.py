"""The generated demo sites for tests: the environment and command of a crawl.

The server itself is `leakscope.client.demo.site.DemoSite` (the demo
uses it too): one ThreadingHTTPServer on 127.0.0.1, port 0, serving several
virtual sites (``nasty.localhost``, ``books.localhost``, ``news.localhost``). Those
names may not resolve here, so the server doubles as an HTTP proxy and crawls run
with ``http_proxy`` pointing at it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from leakscope.client.demo.site import DemoSite

PROJECT_DIR = Path(__file__).resolve().parent / "scrapy_project"
REPO_DIR = Path(__file__).resolve().parent.parent


def crawl_env(site: DemoSite, socket_dir: Path) -> dict[str, str]:
    """The environment of a crawl subprocess: proxy, leakscope importable, own socket dir."""
    env = site.crawl_env(dict(os.environ))
    # The checkout first, whatever is installed; the socket directory private to the test.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_DIR), env.get("PYTHONPATH", "")) if p)
    env["LEAKSCOPE_SOCKET_DIR"] = str(socket_dir)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def scrapy_command() -> list[str]:
    """The ``scrapy`` command of the Python running the tests."""
    script = Path(sys.executable).parent / "scrapy"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "scrapy"]
