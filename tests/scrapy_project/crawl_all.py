"""Run every spider of the project at once in one process (``python crawl_all.py``).

This is where "which spider is leaking?" matters: the counts of one process mix
every spider's requests and responses.
"""

from scrapy.crawler import CrawlerProcess
from scrapy.utils.project import get_project_settings


def main() -> None:
    """Crawl with all the project's spiders until they finish or a signal stops them."""
    process = CrawlerProcess(get_project_settings())
    for name in process.spider_loader.list():
        process.crawl(name)
    process.start()


if __name__ == "__main__":
    main()
