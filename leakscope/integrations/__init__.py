"""Integrations with the world outside one process: Scrapy, `leakscope run`, `attach`."""
