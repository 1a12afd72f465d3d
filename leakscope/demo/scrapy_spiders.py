"""Spiders for the Scrapy demo and tests: one leaks, the others are clean.

`NastySpider` makes the classic mistake: it passes the response along inside the
next request (``meta={"referer": response}``) and keeps every request it makes in
a list on the spider. Each downloaded page therefore stays alive, and so does
every request, for as long as the spider lives. `BooksSpider` and `NewsSpider`
crawl the same way and keep nothing.

They crawl the sites of `leakscope.client.demo.site`; run them with
``http_proxy`` pointing at that server. Importing this module imports Scrapy.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import scrapy
from scrapy.http import Response


class PageItem(scrapy.Item):
    """One crawled page."""

    url = scrapy.Field()
    title = scrapy.Field()


class _PageSpider(scrapy.Spider):
    site = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.allowed_domains = [self.site]
        self.start_urls = [f"http://{self.site}/"]

    def page_item(self, response: Response) -> PageItem:
        return PageItem(url=response.url, title=response.css("title::text").get())


class NastySpider(_PageSpider):
    """Leaks: every response rides in the next requests, and every request is kept."""

    name = "nasty"
    site = "nasty.localhost"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.requests_made: list[scrapy.Request] = []

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        yield self.page_item(response)
        for href in response.css("a::attr(href)").getall():
            request = response.follow(href, callback=self.parse, meta={"referer": response})
            self.requests_made.append(request)
            yield request


class BooksSpider(_PageSpider):
    """Clean: follows links and keeps nothing."""

    name = "books"
    site = "books.localhost"

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        yield self.page_item(response)
        yield from response.follow_all(response.css("a::attr(href)").getall(), callback=self.parse)


class NewsSpider(BooksSpider):
    """Clean, like `BooksSpider`, on another site."""

    name = "news"
    site = "news.localhost"


SPIDERS: tuple[type[scrapy.Spider], ...] = (NastySpider, BooksSpider, NewsSpider)
