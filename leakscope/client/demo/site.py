"""A local web of generated sites for the Scrapy demo and tests, served on 127.0.0.1.

Several virtual sites (``nasty.localhost``, ``books.localhost``, ``news.localhost``)
are served by one `ThreadingHTTPServer`. Names under ``.localhost`` do not resolve
everywhere, so the server is also a plain HTTP proxy: run the crawl with
``http_proxy=<DemoSite.proxy_url>`` (Scrapy's HttpProxyMiddleware reads it) and URLs
keep readable host names, with no DNS involved. The same server answers direct
requests too, picking the site from the Host header.

Each site is an endless tree of pages: page N links to the next ``links`` pages
below it, so a crawl never runs out of work; stop it with a signal or a timeout.
"""

from __future__ import annotations

import html
import threading
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass(frozen=True)
class SiteShape:
    """How one virtual site looks: its host name and links per page."""

    host: str
    links: int


# The leaky spider's site has many links per page, so a leak that keeps every
# request shows fast; the clean sites stay narrow.
SITES: tuple[SiteShape, ...] = (
    SiteShape("nasty.localhost", 12),
    SiteShape("books.localhost", 3),
    SiteShape("news.localhost", 3),
)

_FILLER = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
    "incididunt ut labore et dolore magna aliqua. "
) * 20


def page_html(site: SiteShape, number: int) -> str:
    """The HTML of page `number` of `site`: a title, some text, and its links."""
    first = number * site.links + 1
    links = "\n".join(
        f'<li><a href="/page/{n}">page {n}</a></li>' for n in range(first, first + site.links)
    )
    title = html.escape(f"{site.host} page {number}")
    return (
        f"<!doctype html><html><head><title>{title}</title></head><body>"
        f"<h1>{title}</h1><p>{_FILLER}</p><ul>{links}</ul></body></html>"
    )


def _page_number(path: str) -> int | None:
    if path in ("", "/"):
        return 0
    if path.startswith("/page/"):
        tail = path[len("/page/") :]
        if tail.isdigit() and len(tail) < 12:
            return int(tail)
    return None


class _SiteHandler(BaseHTTPRequestHandler):
    server_version = "leakscope-demo/1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        url = urllib.parse.urlsplit(self.path)
        # A proxy request carries the absolute URL; a direct one only the path.
        host = (url.hostname or self.headers.get("Host") or "").split(":")[0].lower()
        site = next((s for s in SITES if s.host == host), None)
        number = _page_number(url.path)
        if site is None or number is None:
            self._send(404, "text/plain", b"not found\n")
            return
        self._send(200, "text/html; charset=utf-8", page_html(site, number).encode())

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        # Quiet: the demo prints its own story, tests read Scrapy's log.
        pass


class DemoSite:
    """The generated sites on a free port of 127.0.0.1, served from a daemon thread."""

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _SiteHandler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="leakscope-demo-site", daemon=True
        )

    @property
    def proxy_url(self) -> str:
        """The URL to put in ``http_proxy`` for a crawl of the demo sites."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def crawl_env(self, base: dict[str, str]) -> dict[str, str]:
        """`base` plus the proxy settings a crawl of these sites needs."""
        env = dict(base)
        for name in ("http_proxy", "HTTP_PROXY"):
            env[name] = self.proxy_url
        # A no_proxy inherited from the user (often "localhost,...") would send
        # *.localhost to DNS, where it may not resolve.
        for name in ("no_proxy", "NO_PROXY"):
            env.pop(name, None)
        return env

    def start(self) -> DemoSite:
        """Start serving; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> DemoSite:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
