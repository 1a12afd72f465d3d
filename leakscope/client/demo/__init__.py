"""The walk-throughs of ``leakscope demo``: start a leaky program, run the real commands on it.

`walkthrough` (the built-in program, `leakscope.demo.program`),
`scrapy_walkthrough` (a real Scrapy crawl, ``--scrapy``), and `site` (the
local web sites that crawl fetches, served from this process).
"""
