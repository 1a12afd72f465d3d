"""Which spider and which domain a Scrapy object belongs to: ``--group-by spider|domain``.

`spider_of` and `domain_of` run inside the target on every object of a
report, so they are cheap, never raise, never import Scrapy (they only look
at classes already loaded), and read private slots (``_meta``,
``_cb_kwargs``) rather than properties that would create an empty dict on
every request they look at.
"""

from __future__ import annotations

import sys
import time
from typing import Any

# How deep to follow "this request carries that response" hints (meta values).
_HINT_DEPTH = 3
_HINT_KEYS = ("spider", "spider_name")


# -- group keys ----------------------------------------------------------------

# Exact type -> "request" | "response" | "item" | "spider" | "selector" | "" (none).
_kinds: dict[type, str] = {}


def _scrapy_classes() -> tuple[tuple[type, str], ...]:
    """Scrapy's base classes that are already imported (never imports Scrapy)."""
    found = []
    for module_name, class_name, kind in (
        ("scrapy.http.request", "Request", "request"),
        ("scrapy.http.response", "Response", "response"),
        ("scrapy.item", "Item", "item"),
        ("scrapy.spiders", "Spider", "spider"),
        ("scrapy.selector.unified", "Selector", "selector"),
    ):
        module = sys.modules.get(module_name)
        cls = getattr(module, class_name, None) if module is not None else None
        if isinstance(cls, type):
            found.append((cls, kind))
    return tuple(found)


def _kind(obj: object) -> str:
    return _kind_of_class(type(obj))


def _kind_of_class(cls: type) -> str:
    kind = _kinds.get(cls)
    if kind is None:
        bases = _scrapy_classes()
        kind = next((k for base, k in bases if issubclass(cls, base)), "")
        # Before Scrapy is imported nothing is a Scrapy object, but it may be later:
        # remember only answers given while Scrapy is loaded.
        if bases:
            _kinds[cls] = kind
    return kind


def _name_of_spider(spider: object) -> str | None:
    if _kind(spider) != "spider":
        return None
    name = getattr(spider, "name", None)
    return name if isinstance(name, str) else None


def _host(url: object) -> str | None:
    """The lower-case host of an absolute URL; urlsplit is ~10x slower and caches."""
    if type(url) is not str:
        return None
    start = url.find("://")
    if start < 0:
        return None
    start += 3
    end = len(url)
    for stop in "/?#":
        found = url.find(stop, start, end)
        if found >= 0:
            end = found
    netloc = url[start:end].rpartition("@")[2]
    if netloc.startswith("["):  # IPv6 literal
        host = netloc[1 : netloc.find("]")] if "]" in netloc else ""
    else:
        host = netloc.partition(":")[0]
    return host.lower() or None


class _SpiderHosts:
    """Host -> spider name, from the ``allowed_domains`` of the live spiders.

    Read from Scrapy's own registry of live objects (spiders are tracked there),
    at most once a second: requests without a bound callback can be many.
    A host that two spiders claim maps to None: no answer beats a wrong one.
    """

    REFRESH_S = 1.0

    def __init__(self) -> None:
        self._hosts: dict[str, str | None] = {}
        self._read_at = float("-inf")

    def forget(self) -> None:
        """Read the live spiders again at the next question."""
        self._read_at = float("-inf")

    def _read(self) -> dict[str, str | None]:
        # trackref reads Scrapy's registry with one-call copies, safe while the
        # crawl's thread adds and drops entries.
        from leakscope.target import registry as trackref

        hosts: dict[str, str | None] = {}
        for stat in trackref.scrapy_class_stats(with_oldest=False):
            if _kind_of_class(stat.cls) != "spider":
                continue
            for spider, _ in trackref.iter_objects(stat.cls, "scrapy"):
                name = _name_of_spider(spider)
                for domain in getattr(spider, "allowed_domains", None) or ():
                    if name is None or not isinstance(domain, str):
                        continue
                    host = domain.lower()
                    hosts[host] = name if hosts.get(host, name) == name else None
        return hosts

    def spider_claiming(self, url: object) -> str | None:
        """The one live spider whose allowed_domains cover the URL's host (or a parent)."""
        host = _host(url)
        if host is None:
            return None
        now = time.monotonic()
        if now - self._read_at > self.REFRESH_S:
            self._hosts = self._read()
            self._read_at = now
        labels = host.split(".")
        for start in range(len(labels)):
            name = self._hosts.get(".".join(labels[start:]), "")
            if name != "":
                return name
        return None


_spider_hosts = _SpiderHosts()
_spider_claiming = _spider_hosts.spider_claiming


def _spider_of_request(request: Any, depth: int) -> str | None:
    for attribute in ("callback", "errback"):
        bound_to = getattr(getattr(request, attribute, None), "__self__", None)
        name = _name_of_spider(bound_to)
        if name is not None:
            return name
    for slot in ("_meta", "_cb_kwargs"):
        values = getattr(request, slot, None)
        if type(values) is dict and values:
            name = _spider_of_hints(values, depth)
            if name is not None:
                return name
    return _spider_claiming(getattr(request, "url", None))


def _spider_of_hints(values: dict[str, Any], depth: int) -> str | None:
    for key in _HINT_KEYS:
        hint = values.get(key)
        if isinstance(hint, str) and hint:
            return hint
    if depth <= 0:
        return None
    # A spider, or a request/response of one, riding in the meta or kwargs.
    for value in list(values.values())[:32]:
        kind = _kind(value)
        if kind == "spider":
            return _name_of_spider(value)
        if kind in ("request", "response"):
            name = _spider_of(value, depth - 1)
            if name is not None:
                return name
    return None


def _spider_of(obj: Any, depth: int) -> str | None:
    kind = _kind(obj)
    if kind == "request":
        return _spider_of_request(obj, depth)
    if kind == "response":
        # `response.meta` raises AttributeError when there is no request: read the slot.
        request = getattr(obj, "request", None)
        if request is not None and _kind(request) == "request":
            return _spider_of_request(request, depth)
        return _spider_claiming(getattr(obj, "url", None))
    if kind == "spider":
        return _name_of_spider(obj)
    if kind == "selector":
        response = getattr(obj, "response", None)
        return _spider_of(response, depth) if response is not None else None
    if kind == "item":
        values = getattr(obj, "_values", None)
        if type(values) is dict:
            hint = _spider_of_hints(values, 0)
            if hint is not None:
                return hint
            return _spider_claiming(values.get("url"))
    return None


def spider_of(obj: object) -> str | None:
    """The name of the spider a Scrapy request, response, selector, item or spider belongs to.

    Requests: the spider their callback (or errback) is bound to, else a spider
    (or a response of one) carried in ``meta``/``cb_kwargs``, else the one live
    spider whose ``allowed_domains`` cover the URL's host. Responses: by their
    request; selectors: by their response. Items: best effort (a ``spider``
    field, or the host of a ``url`` field). None for anything else or when
    unknown; never raises.
    """
    try:
        return _spider_of(obj, _HINT_DEPTH)
    except Exception:
        return None


def domain_of(obj: object) -> str | None:
    """The host of the URL of a Scrapy request or response (or selector, or item ``url``).

    None for other objects or when unknown; never raises.
    """
    try:
        kind = _kind(obj)
        if kind in ("request", "response"):
            return _host(getattr(obj, "url", None))
        if kind == "selector":
            response = getattr(obj, "response", None)
            return _host(getattr(response, "url", None)) if response is not None else None
        if kind == "item":
            values = getattr(obj, "_values", None)
            return _host(values.get("url")) if type(values) is dict else None
    except Exception:
        return None
    return None
