"""The exposed methods: the only code a client can reach.

Every method checks its arguments with the exact-type checks of
`leakscope.wire`, calls a collector, and returns one JSON string — an answer
``{"ok": ...}`` or a failure ``{"error": {"code", "message"}}``. No method
returns a target object, a list or a dict, and none raises: an unexpected error
is logged on the ``leakscope`` logger and reported to the client as
``agent-error``.

Attribute lookup on the service is limited to `EXPOSED` (see
``_rpyc_getattr``); RPyC's own ``get_service_name`` and friends are not
reachable.
"""

from __future__ import annotations

import difflib
import functools
import gc
import logging
import os
import platform
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import rpyc

from leakscope import __version__, describe, grouping, trackref, wire

log = logging.getLogger("leakscope.agent")

EXPOSED = frozenset(
    {"hello", "prefs", "oldest", "all", "heap", "memory", "history", "sites", "ping"}
)

#: One heavy walk at a time: a second client waits for it rather than doubling the pause.
_census_lock = threading.Lock()


def _reset_after_fork() -> None:
    # A fork during a census would leave the child's lock held for good.
    global _census_lock
    _census_lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)


class UnknownClass(LookupError):
    """No live class of that name in any registry."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"no live objects of class {name!r}{hint}")
        self.suggestions = suggestions


class Busy(RuntimeError):
    """Another heavy query is running."""


def _exposed(func: Callable[..., Any]) -> Callable[..., str]:
    @functools.wraps(func)
    def wrapper(self: LeakscopeService, *args: Any) -> str:
        try:
            return wire.answer(func(self, *args))
        except TypeError as exc:
            if "argument" in str(exc):  # wrong number of arguments
                return wire.failure("bad-argument", str(exc).replace("exposed_", ""))
            log.exception("leakscope agent: %s failed", func.__name__)
            return wire.failure("agent-error", f"{type(exc).__name__}: {exc}")
        except wire.ArgumentRefused as exc:
            return wire.failure("bad-argument", str(exc))
        except UnknownClass as exc:
            return wire.failure("unknown-class", str(exc), suggestions=exc.suggestions)
        except grouping.UnknownGroupKey as exc:
            return wire.failure("bad-argument", str(exc))
        except Busy as exc:
            return wire.failure("busy", str(exc))
        except ValueError as exc:  # collectors report bad requests this way
            return wire.failure("bad-argument", str(exc))
        except BaseException as exc:  # SystemExit from a host __repr__ must not escape either
            log.exception("leakscope agent: %s failed", func.__name__)
            return wire.failure("agent-error", f"{type(exc).__name__}: {exc}")

    return wrapper


def _age(created: float | None, now: float) -> float | None:
    return None if created is None else round(max(0.0, now - created), 3)


def _matches(cls: type, names: frozenset[str]) -> bool:
    for klass in getattr(cls, "__mro__", (cls,)):
        if klass.__name__ in names or describe.qualified_name(klass) in names:
            return True
    return False


def _close_names(name: str, known: Iterable[str]) -> list[str]:
    """Up to three known class names (short or dotted) that look like *name*."""
    names = set(known)
    names |= {n.rsplit(".", 1)[-1] for n in names}
    return difflib.get_close_matches(name, sorted(names), n=3)


def _resolve(class_name: str) -> list[tuple[type, str]]:
    found = trackref.find_classes(class_name)
    if not found:
        raise UnknownClass(class_name, _close_names(class_name, trackref.all_class_names()))
    return found


def _objects_oldest_first(class_name: str) -> list[tuple[object, float]]:
    """Live objects of every class of that name, both registries, oldest first."""
    merged: list[tuple[object, float]] = []
    for cls, source in _resolve(class_name):
        merged.extend(trackref.iter_objects(cls, source))
    merged.sort(key=lambda pair: pair[1] if pair[1] is not None else float("inf"))
    return merged


class LeakscopeService(rpyc.Service):  # type: ignore[misc]
    """The agent's RPyC service. One instance per connection."""

    def __init__(self, agent: Any = None) -> None:
        self._agent = agent

    def _rpyc_getattr(self, name: str) -> Any:
        bare = name[len("exposed_") :] if name.startswith("exposed_") else name
        if bare not in EXPOSED:
            raise AttributeError(f"cannot access {name!r}")
        return getattr(self, "exposed_" + bare)

    def _rpyc_setattr(self, name: str, value: Any) -> None:
        raise AttributeError("access denied")

    def _rpyc_delattr(self, name: str) -> None:
        raise AttributeError("access denied")

    # -- methods -------------------------------------------------------------

    @_exposed
    def exposed_ping(self) -> str:
        return "pong"

    @_exposed
    def exposed_hello(self) -> dict[str, Any]:
        agent = self._agent
        return {
            "protocol": wire.PROTOCOL_VERSION,
            "version": __version__,
            "pid": os.getpid(),
            "ppid": os.getppid(),
            "python": platform.python_version(),
            "implementation": sys.implementation.name,
            "executable": sys.executable,
            "argv": [str(a)[:200] for a in sys.argv[:20]],
            "started": getattr(agent, "started_at", None),
            "socket": str(agent.path) if agent is not None and agent.path else None,
            "scrapy": "scrapy.utils.trackref" in sys.modules,
            "sites": trackref.track_sites(),
        }

    @_exposed
    def exposed_prefs(
        self, ignore: object = (), group_by: object = None, collect: object = False
    ) -> dict[str, Any]:
        ignored = frozenset(wire.want_str_tuple(ignore, "ignore"))
        group = wire.want_opt_str(group_by, "group_by", max_len=32)
        collected = _collect(wire.want_bool(collect, "collect"))
        if group == "site" and not trackref.track_sites():
            raise ValueError(
                "creation sites are off in this process; turn them on with "
                "`leakscope sites on --pid PID` or LEAKSCOPE_TRACK_SITES=1 at start-up"
            )
        now = time.time()
        rows = grouping.live_rows(group)
        hist = _history()
        out = []
        for row in rows:
            if ignored and _matches(row.cls, ignored):
                continue
            name = describe.qualified_name(row.cls)
            item: dict[str, Any] = {
                "class": name,
                "count": row.count,
                "oldest_age_s": _age(row.oldest, now),
                "source": row.source,
            }
            if group is not None:
                item["group"] = row.group
            if hist is not None and group is None:
                item.update(_growth(hist, name))
            out.append(item)
        out.sort(key=lambda r: (-r["count"], r["class"]))
        return {
            "pid": os.getpid(),
            "time": now,
            "group_by": group,
            "history": hist is not None,
            "collected": collected,
            "rows": out,
        }

    @_exposed
    def exposed_oldest(
        self, class_name: object, attrs: object = (), why: object = False, collect: object = False
    ) -> dict[str, Any]:
        name = wire.want_class_name(class_name, "class_name")
        names = tuple(wire.want_identifier(a, "attr") for a in wire.want_str_tuple(attrs, "attrs"))
        want_why = wire.want_bool(why, "why")
        collected = _collect(wire.want_bool(collect, "collect"))
        objects = _objects_oldest_first(name)
        now = time.time()
        if not objects:
            return {"class": name, "found": False}
        obj, created = objects[0]
        del objects
        result = describe.describe(obj, created, names, now)
        result["found"] = True
        result["collected"] = collected
        if want_why:
            result["why"] = _retention_path(obj)
        return result

    @_exposed
    def exposed_all(
        self, class_name: object, attrs: object = (), limit: object = 100, collect: object = False
    ) -> dict:
        name = wire.want_class_name(class_name, "class_name")
        names = tuple(wire.want_identifier(a, "attr") for a in wire.want_str_tuple(attrs, "attrs"))
        most = wire.want_int(limit, "limit", low=0, high=100_000)
        collected = _collect(wire.want_bool(collect, "collect"))
        objects = _objects_oldest_first(name)
        total = len(objects)
        now = time.time()
        described = [describe.describe(o, c, names, now) for o, c in objects[:most]]
        del objects
        return {"class": name, "total": total, "collected": collected, "objects": described}

    @_exposed
    def exposed_heap(
        self,
        partition: object = "type",
        of: object = None,
        limit: object = 50,
        max_objects: object = None,
        backend: object = "builtin",
        collect: object = False,
    ) -> dict[str, Any]:
        part = wire.want_str(partition, "partition", max_len=16)
        of_type = wire.want_opt_str(of, "of", max_len=256)
        most = wire.want_int(limit, "limit", low=1, high=10_000)
        cap = wire.want_opt_int(max_objects, "max_objects", low=1, high=10**10)
        engine = wire.want_str(backend, "backend", max_len=16)
        do_collect = wire.want_bool(collect, "collect")
        from leakscope import census

        if not _census_lock.acquire(timeout=60):
            raise Busy("another heap census is running in this process; try again shortly")
        try:
            collected = gc.collect() if do_collect else None
            result: dict[str, Any] = census.census(
                part, of=of_type, limit=most, max_objects=cap, backend=engine
            )
        finally:
            _census_lock.release()
        result["pid"] = os.getpid()
        result["collected"] = do_collect
        result["collected_objects"] = collected
        return result

    @_exposed
    def exposed_memory(self, trim: object = False) -> dict[str, Any]:
        do_trim = wire.want_bool(trim, "trim")
        from leakscope import memory

        figures = memory.memory_figures()
        trimmed = memory.trim() if do_trim else None
        hist = _history()
        samples = hist.samples() if hist is not None else []
        verdict = memory.verdict(samples, figures)
        return {
            "pid": os.getpid(),
            "figures": figures,
            "trim": trimmed,
            "collected": False,  # the memory picture never runs the collector
            "verdict": verdict,
            "samples": [_memory_sample(s) for s in samples[-120:]],
        }

    @_exposed
    def exposed_history(self, class_name: object = None, since_s: object = None) -> dict:
        name = wire.want_opt_str(class_name, "class_name", max_len=256)
        since = None if since_s is None else wire.want_number(since_s, "since_s", low=0, high=1e7)
        hist = _history()
        if hist is None:
            raise ValueError("history is off in this process (LEAKSCOPE_HISTORY_INTERVAL=0)")
        out: dict[str, Any] = {
            "pid": os.getpid(),
            "interval_s": hist.interval_s,
            "collected": False,  # samples are read as they are
        }
        if name is None:
            out["samples"] = hist.samples(since)
            return out
        full = _history_name(hist, name)
        out["class"] = full
        out["samples"] = [{"t": t, "count": c} for t, c in hist.series(full)]
        return out

    @_exposed
    def exposed_sites(self, on: object = None) -> dict[str, Any]:
        if on is not None:
            trackref.set_track_sites(wire.want_bool(on, "on"))
        return {"pid": os.getpid(), "sites": trackref.track_sites()}


# -- helpers over the collectors ----------------------------------------------


def _collect(asked: bool) -> bool:
    """Run the cyclic collector only when the client asked (--collect): it can hide a leak."""
    if asked:
        gc.collect()
    return asked


def _history() -> Any:
    from leakscope import agent

    return agent.history()


def _growth(hist: Any, name: str) -> dict[str, Any]:
    try:
        growth: dict[str, Any] = hist.growth(name)
        return growth
    except Exception:
        return {"change_1m": None, "change_10m": None, "rate_per_min": None}


def _history_name(hist: Any, name: str) -> str:
    known = set(hist.class_names())
    if name in known:
        return name
    matches = sorted(k for k in known if k.rsplit(".", 1)[-1] == name)
    if matches:
        return matches[0]
    raise UnknownClass(name, _close_names(name, known))


def _memory_sample(sample: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in sample.items() if k != "counts"}


def _retention_path(obj: object) -> dict[str, Any]:
    from leakscope import census

    if not _census_lock.acquire(timeout=60):
        raise Busy("another heap walk is running in this process; try again shortly")
    try:
        path: dict[str, Any] = census.retention_path(obj)
        return path
    finally:
        _census_lock.release()
