"""Leaky programs for ``leakscope demo`` and the tests: they are *targets*.

Each is an ordinary program that uses leakscope's public names only
(``leakscope.agent``, ``leakscope.trackref``, the Scrapy extension), the way a
user's program would, and leaks on purpose:

* `program`: a crawler-like loop that caches every page of one site
  (``python -m leakscope.demo.program``);
* `scrapy_spiders` and `scrapy_crawl`: a real Scrapy crawl of several spiders,
  one of which keeps every response (needs Scrapy).

The walk-throughs that start them and run the commands on them are client
code: `leakscope.client.demo`.
"""
