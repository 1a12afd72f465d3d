"""Prometheus/OpenMetrics endpoint of the agent (``LEAKSCOPE_METRICS=127.0.0.1:9464``).

Off by default. When started, one daemon thread serves ``/metrics`` with the
``prometheus_client`` library (the optional extra ``leakscope[metrics]``):

* ``leakscope_live_objects{class,source}`` and
  ``leakscope_oldest_age_seconds{class,source}`` per tracked class
  (leakscope's registry and, when Scrapy is loaded, Scrapy's);
* ``leakscope_owner_live_objects{class,owner}`` and
  ``leakscope_owner_oldest_age_seconds{class,owner}`` when objects were
  made under ``leakscope.owner(...)`` (only owned objects: the rest of a class
  is ``leakscope_live_objects`` minus the sum over its owners);
* allocator figures: pymalloc arenas and bytes, glibc's heap (mallinfo2),
  ``sys.getallocatedblocks()``;
* the standard ``process_*`` series (RSS as ``process_resident_memory_bytes``,
  CPU, open files) from prometheus_client's process collector.

Everything is read at scrape time by a custom collector: leakscope's registry
answers in O(classes), so nothing is added to object creation. What is not
read: USS and swap (``/proc/self/smaps_rollup`` walks the page tables, about
16 ms at 700 MB; ``leakscope memory`` shows them). Scrapy's own registry keeps
no oldest entry, so its rows cost O(its live objects).

The endpoint binds to loopback unless ``LEAKSCOPE_METRICS_ALLOW_REMOTE=1``
(the figures name classes and owners of the program), and says where it
listens on the ``leakscope.agent`` logger. Nothing here raises into the host
or writes to its stdout/stderr.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

log = logging.getLogger("leakscope.agent")

DEFAULT_PORT = 9464

_lock = threading.Lock()
_server: Any = None
_thread: threading.Thread | None = None
_address: str | None = None
_requested: str | None = None
#: The address a parent process served before it forked us: a forked worker
#: does not try to bind it again (the parent holds the port).
_parent_requested: str | None = None


class MetricsAddressError(ValueError):
    """An address that is not HOST:PORT, or one refused for not being loopback."""


def parse_address(text: str) -> tuple[str, int]:
    """``(host, port)`` from ``HOST:PORT``, ``[V6]:PORT``, ``:PORT`` or ``PORT``.

    A missing host means 127.0.0.1; port 0 asks for any free port.
    """
    text = text.strip()
    if not text:
        raise MetricsAddressError("empty metrics address")
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise MetricsAddressError(f"bad metrics address {text!r}: want [V6ADDR]:PORT")
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    elif ":" not in text:
        host, port_text = "", text
    else:
        raise MetricsAddressError(f"bad metrics address {text!r}: write IPv6 as [ADDR]:PORT")
    try:
        port = int(port_text)
    except ValueError:
        raise MetricsAddressError(f"bad metrics address {text!r}: port is not a number") from None
    if not 0 <= port <= 65535:
        raise MetricsAddressError(f"bad metrics address {text!r}: port out of range")
    return host or "127.0.0.1", port


def is_loopback(host: str) -> bool:
    """True when every address *host* resolves to is a loopback address."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    addresses = {info[4][0] for info in infos}
    try:
        return bool(addresses) and all(
            ipaddress.ip_address(str(a).split("%", 1)[0]).is_loopback for a in addresses
        )
    except ValueError:
        return False


# -- what a scrape reads ---------------------------------------------------------


Row = tuple[str, str, int, float | None]

_CLASS_HELP = (
    "Live tracked objects of a class.",
    "Age of the oldest live tracked object of a class.",
)
_OWNER_HELP = (
    "Live tracked objects of a class made under a leakscope.owner.",
    "Age of the oldest live tracked object of a class made under an owner.",
)


def _add(rows: dict[tuple[str, str], list[Any]], key: tuple[str, str], n: int, t: Any) -> None:
    slot = rows.get(key)
    if slot is None:
        rows[key] = [n, t]
        return
    slot[0] += n
    if t is not None and (slot[1] is None or t < slot[1]):
        slot[1] = t


def read_rows(now: float) -> tuple[list[Row], list[Row]]:
    """(per class: name, source, count, oldest age), (per class and owner: name, owner, ...).

    One pass over leakscope's registry, grouped by owner (O(classes x owners));
    per-class totals are summed from it. Owner rows list owned objects only.
    Classes that share a name (a reloaded module, classes made in a function)
    share a row: two samples with the same labels would fail the whole scrape.
    """
    from leakscope.target import describe
    from leakscope.target import registry as trackref

    names: dict[type, str] = {}
    classes: dict[tuple[str, str], list[Any]] = {}
    owned: dict[tuple[str, str], list[Any]] = {}
    for s in trackref.class_stats(group_by="owner"):
        name = names.get(s.cls)
        if name is None:
            name = names[s.cls] = describe.qualified_name(s.cls)
        _add(classes, (name, s.source), s.count, s.oldest)
        if s.group is not None:
            _add(owned, (name, s.group), s.count, s.oldest)
    for s in trackref.scrapy_class_stats():
        _add(classes, (describe.qualified_name(s.cls), s.source), s.count, s.oldest)

    def rows(table: dict[tuple[str, str], list[Any]]) -> list[Row]:
        return [
            (a, b, n, None if t is None else max(0.0, now - t)) for (a, b), (n, t) in table.items()
        ]

    return rows(classes), rows(owned)


#: (metric suffix, key in pymalloc_figures(), help)
_PYMALLOC = (
    ("pymalloc_arenas", "arenas_in_use", "pymalloc arenas allocated now."),
    ("pymalloc_arena_bytes", "arena_bytes", "Bytes in pymalloc arenas."),
    ("pymalloc_used_bytes", "used_bytes", "Bytes in pymalloc blocks in use."),
    ("pymalloc_free_bytes", "free_bytes_in_arenas", "Free bytes inside pymalloc arenas."),
    ("pymalloc_blocks", "blocks_in_use", "pymalloc blocks in use."),
)
#: (metric suffix, key in malloc_figures(), help)
_MALLOC = (
    ("malloc_arena_bytes", "arena", "Bytes glibc's heap took from the system (mallinfo2.arena)."),
    ("malloc_in_use_bytes", "in_use", "Bytes in glibc chunks in use."),
    ("malloc_free_held_bytes", "free_held", "Free bytes glibc keeps in its heap."),
    ("malloc_mmap_bytes", "mmap", "Bytes in chunks glibc mmapped directly."),
)


class LeakscopeCollector:
    """A prometheus_client collector that reads leakscope's registry at scrape time."""

    def describe(self) -> list[Any]:
        """Nothing up front: registering must not run a scrape."""
        return []

    def collect(self) -> Iterator[Any]:
        """The families of one scrape; a figure that cannot be read is left out."""
        try:
            families = self._families()
        except Exception:  # never a 500 and a traceback on the host's stderr
            log.warning("leakscope metrics: collecting failed", exc_info=True)
            families = []
        yield from families

    def _families(self) -> list[Any]:
        from prometheus_client.core import GaugeMetricFamily

        from leakscope.target import memory

        classes, owners = read_rows(time.time())
        out = _count_and_age(GaugeMetricFamily, "leakscope_", "source", classes, _CLASS_HELP)
        if owners:
            out += _count_and_age(
                GaugeMetricFamily, "leakscope_owner_", "owner", owners, _OWNER_HELP
            )
        out += _figures(GaugeMetricFamily, "leakscope_", _PYMALLOC, memory.pymalloc_figures())
        out += _figures(GaugeMetricFamily, "leakscope_", _MALLOC, memory.malloc_figures())
        with contextlib.suppress(Exception):
            out.append(
                GaugeMetricFamily(
                    "leakscope_allocated_blocks",
                    "Memory blocks the interpreter has allocated (sys.getallocatedblocks()).",
                    value=sys.getallocatedblocks(),
                )
            )
        return out


def _count_and_age(
    family: Any, prefix: str, label: str, rows: list[Row], helps: tuple[str, str]
) -> list[Any]:
    """Two gauges keyed by (class, *label*): live count, and age of the oldest."""
    live = family(f"{prefix}live_objects", helps[0], labels=["class", label])
    age = family(f"{prefix}oldest_age_seconds", helps[1], labels=["class", label])
    for name, key, count, oldest in rows:
        live.add_metric([name, key], count)
        if oldest is not None:
            age.add_metric([name, key], oldest)
    return [live, age]


def _figures(
    family: Any, prefix: str, table: tuple[tuple[str, str, str], ...], figures: Any
) -> list[Any]:
    if not isinstance(figures, dict):
        return []
    out = []
    for suffix, key, text in table:
        value = figures.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out.append(family(prefix + suffix, text, value=value))
    return out


def make_registry() -> Any:
    """A registry with leakscope's collector and the standard process collector."""
    from prometheus_client import CollectorRegistry, ProcessCollector

    registry = CollectorRegistry(auto_describe=False)
    registry.register(LeakscopeCollector())  # type: ignore[arg-type]
    ProcessCollector(registry=registry)
    return registry


# -- the HTTP endpoint -------------------------------------------------------------


class _LogStream:
    """Where wsgiref writes errors: the leakscope logger, never the host's stderr."""

    def write(self, text: str) -> int:
        if text.strip():
            log.debug("leakscope metrics: %s", text.rstrip())
        return len(text)

    def flush(self) -> None:
        """Nothing is buffered."""


def _server_classes(family: int) -> tuple[type, type]:
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

    class Handler(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass  # no access log on the host's stderr

        def get_stderr(self) -> Any:
            return _LogStream()

    class Server(ThreadingMixIn, WSGIServer):
        daemon_threads = True
        address_family = family

        def handle_error(self, request: Any, client_address: Any) -> None:
            log.debug("leakscope metrics: error serving %s", client_address, exc_info=True)

    return Server, Handler


def _serve(host: str, port: int) -> tuple[Any, str]:
    from prometheus_client import make_wsgi_app

    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, _, _, _, sockaddr = infos[0]
    server_cls, handler_cls = _server_classes(family)
    server = server_cls(sockaddr[:2], handler_cls)
    server.set_app(make_wsgi_app(make_registry()))
    bound_host, bound_port = server.server_address[:2]
    shown = f"[{bound_host}]" if ":" in str(bound_host) else str(bound_host)
    return server, f"{shown}:{bound_port}"


def start_metrics(address: str) -> str | None:
    """Serve ``/metrics`` on *address* (``HOST:PORT``); return the bound ``host:port``.

    Refuses non-loopback hosts unless ``LEAKSCOPE_METRICS_ALLOW_REMOTE=1``.
    Idempotent: a second call returns the address already served. Returns
    None, after logging why, when it cannot serve; never raises.
    """
    global _server, _thread, _address, _requested
    try:
        with _lock:
            if _server is not None:
                return _address
            if address == _parent_requested:
                log.info(
                    "leakscope metrics: %s is served by the parent process; none in pid %d",
                    address,
                    os.getpid(),
                )
                return None
            host, port = parse_address(address)
            if not is_loopback(host) and os.environ.get("LEAKSCOPE_METRICS_ALLOW_REMOTE") != "1":
                log.warning(
                    "leakscope metrics: refusing to listen on %s (not loopback); "
                    "set LEAKSCOPE_METRICS_ALLOW_REMOTE=1 to allow it",
                    host,
                )
                return None
            try:
                import prometheus_client  # noqa: F401
            except ImportError:
                log.warning(
                    "leakscope metrics: prometheus_client is not installed "
                    "(pip install 'leakscope[metrics]'); no metrics endpoint"
                )
                return None
            server, bound = _serve(host, port)
            thread = threading.Thread(
                target=server.serve_forever, name="leakscope-metrics", daemon=True
            )
            thread.start()
            _server, _thread, _address, _requested = server, thread, bound, address
            log.info("leakscope metrics: serving http://%s/metrics", bound)
            return bound
    except MetricsAddressError as exc:
        log.warning("leakscope metrics: %s; no metrics endpoint", exc)
    except OSError as exc:
        log.warning("leakscope metrics: cannot listen on %s: %s", address, exc)
    except Exception:
        log.exception("leakscope metrics: could not start")
    return None


def stop_metrics() -> None:
    """Stop serving and close the port (no-op when not serving; never raises)."""
    global _server, _thread, _address, _requested
    try:
        with _lock:
            server, thread = _server, _thread
            _server = _thread = _address = _requested = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)
    except Exception:
        log.exception("leakscope metrics: did not stop cleanly")


def metrics_address() -> str | None:
    """The ``host:port`` being served, or None."""
    return _address


def _after_fork_in_child() -> None:
    # The serving thread did not survive the fork; the inherited listening
    # socket belongs to the parent's endpoint.
    global _server, _thread, _address, _lock, _requested, _parent_requested
    _lock = threading.Lock()
    server, _server, _thread, _address = _server, None, None, None
    _parent_requested, _requested = _requested or _parent_requested, None
    if server is not None:
        with contextlib.suppress(Exception):
            server.socket.close()


os.register_at_fork(after_in_child=_after_fork_in_child)
