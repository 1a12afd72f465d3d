"""Scrapy support, under a short name for settings files::

    EXTENSIONS = {"leakscope.scrapy.LeakscopeExtension": 500}

Importing this module does not import Scrapy.
"""

from leakscope.integrations.scrapy import LeakscopeExtension, domain_of, spider_of

__all__ = ["LeakscopeExtension", "domain_of", "spider_of"]
