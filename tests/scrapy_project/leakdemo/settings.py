"""Settings of the test project, as a user would write them.

Crawl with ``http_proxy`` pointing at a running
`leakscope.client.demo.site.DemoSite` (the sites live on 127.0.0.1
under ``*.localhost`` names that need no DNS that way).
"""

BOT_NAME = "leakdemo"
SPIDER_MODULES = ["leakscope.demo.scrapy_spiders"]

# The one line a user adds to get the agent; LEAKSCOPE_ENABLED=False turns it off.
EXTENSIONS = {"leakscope.scrapy.LeakscopeExtension": 500}

ROBOTSTXT_OBEY = False
TELNETCONSOLE_ENABLED = False
DOWNLOAD_DELAY = 0.05
CONCURRENT_REQUESTS_PER_DOMAIN = 2
# A safety net: the tests stop the crawl with SIGINT long before this.
CLOSESPIDER_TIMEOUT = 90
LOG_LEVEL = "INFO"
LOGSTATS_INTERVAL = 5.0
