"""Run every demo spider at once in one process, with the leakscope extension on.

``python -m leakscope.demo.scrapy_crawl`` with ``http_proxy`` set to
a running `DemoSite` (see `leakscope.client.demo.site`). The crawl
runs until interrupted (SIGINT/SIGTERM) or for ``--seconds`` at most.
"""

from __future__ import annotations

import argparse
from typing import Any

# Polite and slow enough that the leak builds up over seconds, not all at once.
DEMO_SETTINGS: dict[str, Any] = {
    "EXTENSIONS": {"leakscope.scrapy.LeakscopeExtension": 500},
    "DOWNLOAD_DELAY": 0.05,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 2,
    "ROBOTSTXT_OBEY": False,
    "TELNETCONSOLE_ENABLED": False,
    "LOG_LEVEL": "INFO",
    "LOGSTATS_INTERVAL": 5.0,
}


def crawl_all(seconds: float, settings: dict[str, Any] | None = None) -> None:
    """Crawl with every demo spider in one `CrawlerProcess` until stopped or `seconds` pass."""
    from scrapy.crawler import CrawlerProcess

    from leakscope.demo.scrapy_spiders import SPIDERS

    process = CrawlerProcess({**DEMO_SETTINGS, "CLOSESPIDER_TIMEOUT": seconds, **(settings or {})})
    for spider in SPIDERS:
        process.crawl(spider)
    process.start()


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: ``--seconds`` bounds the crawl."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    crawl_all(args.seconds, {"LOG_LEVEL": args.log_level})


if __name__ == "__main__":
    main()
