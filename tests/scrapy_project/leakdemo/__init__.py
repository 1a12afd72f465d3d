"""A Scrapy project for leakscope's tests: the demo spiders, the extension on."""
