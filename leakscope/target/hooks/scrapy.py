"""The Scrapy extension: run the agent for the life of the crawl engine(s).

Turn it on in a project's settings, with no change to any spider::

    EXTENSIONS = {"leakscope.scrapy.LeakscopeExtension": 500}

The agent starts when the first engine starts and stops when the last one stops
(a `CrawlerProcess` runs several); ``LEAKSCOPE_ENABLED = False`` turns it off.
An agent started by someone else (``leakscope run``, ``leakscope.agent.start()``)
is left running. Importing this module does not import Scrapy.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger("leakscope.scrapy")


# -- the extension -------------------------------------------------------------

_engines_lock = threading.Lock()
_engines_running = 0
_we_started_agent = False


class LeakscopeExtension:
    """Runs the leakscope agent for the life of the crawl engine(s)."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> LeakscopeExtension:
        """Scrapy's constructor: NotConfigured when ``LEAKSCOPE_ENABLED`` is false."""
        from scrapy import signals
        from scrapy.exceptions import NotConfigured

        if not crawler.settings.getbool("LEAKSCOPE_ENABLED", True):
            raise NotConfigured("LEAKSCOPE_ENABLED is false")
        extension = cls(crawler)
        crawler.signals.connect(extension.engine_started, signal=signals.engine_started)
        crawler.signals.connect(extension.engine_stopped, signal=signals.engine_stopped)
        return extension

    def engine_started(self) -> None:
        """Start the agent (once per process) and log where it listens."""
        global _engines_running, _we_started_agent
        from leakscope.target import agent

        with _engines_lock:
            _engines_running += 1
            if _engines_running > 1:
                return
            already = agent.is_running()
            path = agent.start()
            _we_started_agent = not already and path is not None
        if path is None:
            log.warning("leakscope agent did not start (see the error above)")
        else:
            log.info(
                "leakscope agent listening on %s; try: leakscope prefs --group-by spider", path
            )

    def engine_stopped(self) -> None:
        """Stop the agent when the last engine of the process stops, if we started it."""
        global _engines_running, _we_started_agent
        from leakscope.target import agent

        with _engines_lock:
            _engines_running = max(0, _engines_running - 1)
            if _engines_running or not _we_started_agent:
                return
            _we_started_agent = False
            agent.stop()
        log.info("leakscope agent stopped")
