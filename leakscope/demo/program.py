"""A small leaky program for `leakscope demo` (``python -m leakscope.demo.program``).

It imitates the classic crawler leak: every fetched page keeps a reference to
the page that linked to it, and a cache keyed by URL is never pruned, so
`Page` and `Request` objects pile up while `Session` objects come and go.
It starts the agent itself, prints its socket path on stdout, and runs until
stopped (or for ``--seconds``).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections import deque

import leakscope.agent
from leakscope.trackref import object_ref

SITES = ("https://shop.example", "https://news.example", "https://wiki.example")


class Request(object_ref):
    """A request for one URL; `referer` is the page that linked to it."""

    def __init__(self, url: str, referer: Page | None = None) -> None:
        self.url = url
        self.meta = {"referer": referer, "depth": 0 if referer is None else 1}


class Page(object_ref):
    """A fetched page; it keeps its request, and so the whole chain behind it."""

    def __init__(self, request: Request, body: bytes) -> None:
        self.url = request.url
        self.request = request
        self.body = body


class Session(object_ref):
    """Short-lived: a few recent ones are kept, the rest dropped (no leak)."""

    def __init__(self) -> None:
        self.headers = {"user-agent": "leakscope-demo"}


#: Recent sessions: bounded, so Session objects come and go.
SESSIONS: deque[Session] = deque(maxlen=5)

#: The leak: a cache that is never pruned.
CACHE: dict[str, Page] = {}


def crawl_forever(rate: float, stop: threading.Event) -> None:
    """Fetch pages at *rate* per second, leaking every shop page through CACHE."""
    n = 0
    previous: Page | None = None
    while not stop.is_set():
        SESSIONS.append(Session())  # only the last few are kept: no leak
        site = SITES[n % len(SITES)]
        request = Request(f"{site}/item/{n}", referer=previous)
        page = Page(request, b"<html>" + b"x" * 16_384 + b"</html>")
        if site == SITES[0]:
            CACHE[request.url] = page  # never pruned: the leak
            previous = page
        n += 1
        stop.wait(1.0 / rate)


def main(argv: list[str] | None = None) -> int:
    """Run the leaky demo program."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=0.0, help="stop after N seconds")
    parser.add_argument("--rate", type=float, default=200.0, help="pages per second")
    parser.add_argument("--preload", type=int, default=300, help="pages fetched at once at start")
    args = parser.parse_args(argv)
    path = leakscope.agent.start()
    if path is None:
        print("leakscope demo: the agent could not start (see the log)", file=sys.stderr)
        return 1
    stop = threading.Event()
    # Fetch a first batch at once so the first report has something to show.
    previous: Page | None = None
    for n in range(args.preload):
        request = Request(f"{SITES[0]}/start/{n}", referer=previous)
        previous = CACHE[request.url] = Page(request, b"<html></html>")
    worker = threading.Thread(target=crawl_forever, args=(args.rate, stop), daemon=True)
    worker.start()
    print(path, flush=True)
    try:
        if args.seconds > 0:
            stop.wait(args.seconds)
        else:
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
