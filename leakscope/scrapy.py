"""Scrapy support, under a short name for settings files::

    EXTENSIONS = {"leakscope.scrapy.LeakscopeExtension": 500}

Importing this module does not import Scrapy. The code is in `leakscope.target.hooks.scrapy`
(the extension) and `leakscope.target.scrapy_keys` (``--group-by spider|domain``).
"""

from leakscope.target.hooks.scrapy import LeakscopeExtension
from leakscope.target.scrapy_keys import domain_of, spider_of

__all__ = ["LeakscopeExtension", "domain_of", "spider_of"]
